package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/dynamotest"
)

// tableHistory lists, below the encryption layer, the history entries of
// every tenant of a table, as "tenant user installed-at: sealed values".
func tableHistory(t *testing.T, h *harness, table string) []string {
	t.Helper()
	raw, err := dynamo.New(h.client, table, dynamo.WithHistory())
	require.NoError(t, err)
	var out []string
	for q := range rawRecords(t, h.client, table) {
		if q.UserID != "" {
			continue
		}
		require.NoError(t, raw.ListHistory(context.Background(), q, func(inst *installstore.Installation) error {
			var sealed []string
			_ = inst.Secrets(func(field string, s *installstore.Secret) error {
				require.True(t, s.IsSealed(), "history entry field %s is sealed at rest", field)
				sealed = append(sealed, field+"="+s.Reveal())
				return nil
			})
			out = append(out, fmt.Sprintf("%s %s %s: %s", q.Tenant(), inst.User.ID, inst.InstalledAt.UTC().Format(time.RFC3339Nano), strings.Join(sealed, ",")))
			return nil
		}))
	}
	return out
}

func TestHistoryInBackups(t *testing.T) {
	h := newHarness(t)
	keyRaw, keyB64 := h.localKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": keyRaw}, "k")
	require.NoError(t, err)
	raw, err := dynamo.New(h.client, h.table, dynamo.WithHistory())
	require.NoError(t, err)
	sealed, err := crypto.NewStore(raw, keys)
	require.NoError(t, err)
	ctx := context.Background()
	insts := fixtures()
	again := insts[0].Clone() // T1's U1 installs again, later: two entries
	again.InstalledAt = again.InstalledAt.Add(time.Hour)
	again.Bot.InstalledAt = again.InstalledAt
	for _, inst := range append(insts, again) {
		h.remember(inst)
		require.NoError(t, sealed.StoreInstallation(ctx, inst.Clone()))
	}
	want := tableHistory(t, h, h.table)
	require.Len(t, want, 6, "one entry per install")
	env := h.with(envLocalKeys, "k="+keyB64)

	dir := t.TempDir()
	file := filepath.Join(dir, "backup.jsonl")
	r := h.run(env, "", "export", "-history", "-o", file)
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Contains(t, r.errOut, "exported 9 records and 6 history entries from table "+h.table)
	r = h.run(env, "", "export", "-o", filepath.Join(dir, "no-history.jsonl"))
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Contains(t, r.errOut, "exported 9 records and 0 history entries", "without -history the store is opened without it")

	// A target opened without history refuses the entries, writing nothing.
	dst := dynamotest.NewTable(t, h.client)
	r = h.run(h.with(envTable, dst), "", "import", "-i", file)
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "the backup holds 6 history entries")
	require.Contains(t, r.errOut, "import with -history")
	require.Contains(t, r.errOut, "-skip-history")
	require.Empty(t, rawRecords(t, h.client, dst))
	r = h.run(h.with(envTable, dst), "", "import", "-i", file, "-skip-history")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, "imported 9 records and 0 history entries into table "+dst+"\n", r.out)

	// With -history: the same entries, sealed values byte for byte, twice.
	full := dynamotest.NewTable(t, h.client)
	for range 2 {
		r = h.run(h.with(envTable, full), "", "import", "-history", "-i", file)
		require.Equal(t, exitOK, r.code, r.errOut)
		require.Equal(t, "imported 9 records and 6 history entries into table "+full+"\n", r.out)
		require.ElementsMatch(t, want, tableHistory(t, h, full))
		sameRecords(t, rawRecords(t, h.client, h.table), rawRecords(t, h.client, full))
	}

	// verify -history opens every entry through the encryption layer.
	r = h.run(env, "", "verify", "-history")
	require.Equal(t, exitOK, r.code, r.out)
	require.Contains(t, r.out, "verified 9 records: 9 ok, 0 failed, 0 gone; 6 history entries: 6 ok, 0 failed\n")
	r = h.run(env, "", "verify")
	require.Equal(t, exitOK, r.code, r.out)
	require.Contains(t, r.out, "0 gone; history off\n")

	// rewrap -history moves the entries to the new key too: then they open
	// without the old one.
	_, newB64 := h.localKey()
	r = h.run(h.with(envLocalKeys, "k="+keyB64+",new="+newB64, envLocalPrimary, "new"), "", "rewrap", "-history")
	require.Equal(t, exitOK, r.code, r.out+r.errOut)
	require.Contains(t, r.out, "rewrap: history: 6 seen, 6 rewrapped, 0 already current, 0 gone, 0 failed\n")
	r = h.run(h.with(envLocalKeys, "new="+newB64), "", "verify", "-history")
	require.Equal(t, exitOK, r.code, r.out)
	require.Contains(t, r.out, "9 ok, 0 failed, 0 gone; 6 history entries: 6 ok, 0 failed\n")
}
