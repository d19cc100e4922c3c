package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/internal/dynamotest"
)

// putCorrupt writes a tenant's LATEST item whose Version is a string: an
// item the table holds but that no decoder accepts.
func (h *harness) putCorrupt(team string) {
	h.t.Helper()
	_, err := h.client.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(h.table),
		Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#:" + team},
			"SK": &types.AttributeValueMemberS{Value: "LATEST"},
			"v":  &types.AttributeValueMemberS{Value: "not a number"},
		},
	})
	require.NoError(h.t, err)
}

// One corrupt record stops none of the commands that list: each processes
// every other record, names the corrupt one, and exits 1 with the count.
func TestCorruptRecordsAreReportedNotFatal(t *testing.T) {
	h := newHarness(t)
	oldRaw, oldB64 := h.localKey()
	_, newB64 := h.localKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"old": oldRaw}, "old")
	require.NoError(t, err)
	h.seed(keys, fixtures()...)
	h.putCorrupt("T0BAD")
	env := h.with(envLocalKeys, "old="+oldB64)

	r := h.run(env, "", "list")
	require.Equal(t, exitFailure, r.code, r.errOut)
	require.Contains(t, r.out, "9 records, 4 tenants")
	require.Contains(t, r.errOut, "1 record skipped")
	require.Contains(t, r.errOut, "tenant T0BAD")

	r = h.run(env, "", "verify")
	require.Equal(t, exitFailure, r.code, r.errOut)
	require.Contains(t, r.out, "verified 10 records: 9 ok, 0 failed, 0 gone, 1 corrupt; history off")
	require.Contains(t, r.out, "CORRUPT")
	require.Contains(t, r.errOut, "1 record corrupt")

	file := filepath.Join(t.TempDir(), "backup.jsonl")
	r = h.run(env, "", "export", "-o", file)
	require.Equal(t, exitFailure, r.code, r.errOut)
	require.Contains(t, r.errOut, "exported 9 records and 0 history entries")
	require.Contains(t, r.errOut, "tenant T0BAD")
	data, err := os.ReadFile(file)
	require.NoError(t, err, "the backup of every other record is kept")
	require.Equal(t, 9, strings.Count(string(data), "\n"))

	r = h.run(h.with(envLocalKeys, "old="+oldB64+",new="+newB64, envLocalPrimary, "new"), "", "rewrap")
	require.Equal(t, exitFailure, r.code, r.errOut)
	s := parseStats(t, r.out)
	require.Equal(t, 9, s.seen)
	require.Equal(t, 9, s.rewrapped+s.current)
	require.Contains(t, r.out, "1 corrupt (not listed)")
	require.Contains(t, r.errOut, "tenant T0BAD")

	r = h.run(env, "", "scope-drift", "-bot-scopes", "chat:write")
	require.Equal(t, exitFailure, r.code, r.errOut)
	require.Contains(t, r.errOut, "1 record skipped")

	// The corrupt tenant can be purged.
	r = h.run(env, "", "purge", "-team", "T0BAD")
	require.Equal(t, exitOK, r.code, r.errOut)
	r = h.run(env, "", "list")
	require.Equal(t, exitOK, r.code, r.errOut)
}

func TestImportRefusesBeforeWriting(t *testing.T) {
	h := newHarness(t)
	keyRaw, _ := h.localKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": keyRaw}, "k")
	require.NoError(t, err)
	h.seed(keys, fixtures()...)
	r := h.run(h.env, "", "export")
	require.Equal(t, exitOK, r.code, r.errOut)
	backupFile := r.out
	require.NotContains(t, r.errOut, "checksum", "no SDK noise")

	dst := dynamotest.NewTable(t, h.client)
	dstEnv := h.with(envTable, dst)
	for name, in := range map[string]string{
		"empty stdin":    "",
		"blank lines":    "\n\n",
		"truncated file": backupFile[:len(backupFile)-40],
		"a bad line":     backupFile + "{\"v\":1}\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := h.run(dstEnv, in, "import")
			require.Equal(t, exitFailure, r.code, r.errOut)
			require.Contains(t, r.errOut, "nothing written")
			require.Empty(t, rawRecords(t, h.client, dst))
		})
	}
	file := filepath.Join(t.TempDir(), "empty.jsonl")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	r = h.run(dstEnv, "", "import", "-i", file)
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "no records in the input")

	// A table that does not exist: refused before reading the input.
	r = h.run(h.with(envTable, "installvault-no-such-table"), backupFile, "import")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "table installvault-no-such-table does not exist (create it with 'installvault create-table')")

	// The good file goes in; one record reads "1 record".
	r = h.run(dstEnv, backupFile, "import")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, "imported 9 records and 0 history entries into table "+dst+"\n", r.out)
	one := strings.SplitAfter(backupFile, "\n")[0]
	r = h.run(h.with(envTable, dynamotest.NewTable(t, h.client)), one, "import")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Contains(t, r.out, "imported 1 record and 0 history entries into table")
}

func TestLocalEndpointWithoutCredentialsHints(t *testing.T) {
	hermeticAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	h := &harness{t: t}
	r := h.run(map[string]string{envTable: "t", envEndpoint: "http://127.0.0.1:1"}, "", "list")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "set AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x")
	require.NotContains(t, r.errOut, "region", "a local endpoint needs no region")
}
