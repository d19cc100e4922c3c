package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

func TestCreateTable(t *testing.T) {
	h := newHarness(t)
	table := dynamotest.TableName("cli-create")
	t.Cleanup(func() {
		_, _ = h.client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	r := h.run(h.with(envTable, table), "", "create-table")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, "created table "+table+"\n", r.out)

	// An empty table lists and verifies.
	r = h.run(h.with(envTable, table), "", "list")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Contains(t, r.out, "0 records, 0 tenants")
	keyRaw, keyB64 := h.localKey()
	r = h.run(h.with(envTable, table, envLocalKeys, "k="+keyB64), "", "verify")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, "verified 0 records: 0 ok, 0 failed, 0 gone; 0 history entries: 0 ok, 0 failed\n", r.out)

	// The table works as the store's table.
	h.table = table
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": keyRaw}, "k")
	require.NoError(t, err)
	h.seed(keys, storetest.Fixture("", "T1", "U1", "ct"))
	require.Len(t, rawRecords(t, h.client, table), 2)

	// An unreachable endpoint is a failure (exit 1), not a usage error.
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	r = h.run(h.with(envEndpoint, "http://127.0.0.1:1"), "", "list", "-table", table)
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "list table "+table)

	// A second create fails (exit 1) and says which table.
	r = h.run(h.with(), "", "create-table", "-table", table)
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "create table "+table)
}

func TestListAndVerify(t *testing.T) {
	h := newHarness(t)
	srv := kmstest.NewServer()
	t.Cleanup(srv.Close)
	key := srv.CreateKey("tenant tokens")
	keys, err := crypto.NewKMS(srv.Client(), key.ARN)
	require.NoError(t, err)
	h.seed(keys, fixtures()...)
	env := h.with(envKMSKey, key.ARN, envKMSEndpoint, srv.URL())

	// list: every record, with its key, scopes and expiry; no secret (run checks).
	r := h.run(env, "", "list")
	require.Equal(t, exitOK, r.code, r.errOut)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, lines, 1+9+1, r.out)
	require.Contains(t, lines[0], "KEYS")
	require.Equal(t, "9 records, 4 tenants", lines[len(lines)-1])
	for _, want := range []string{"U1", "U2", "U3", "U4", "U5",
		"chat:write,commands", "search:read", "2030-01-02T03:04:05Z", "aws-kms:" + key.ARN} {
		require.Contains(t, r.out, want)
	}
	// Each record's line starts with its tenant as people read it, then its user.
	for _, want := range []string{`T1\s+-`, `T1\s+U1`, `T1\s+U2`, `E1/T2\s+-`, `E1/T2\s+U3`,
		`E1 \(org-wide\)\s+-`, `E1 \(org-wide\)\s+U4`, `T3\s+-`, `T3\s+U5`} {
		require.Regexp(t, `(?m)^`+want+`\s`, r.out)
	}
	require.NotContains(t, r.out, "(org)", "the org-wide install is marked once")
	for _, l := range lines[1 : len(lines)-1] {
		require.Contains(t, l, "aws-kms:"+key.ARN, "every record names its key")
	}

	r = h.run(env, "", "list", "-json")
	require.Equal(t, exitOK, r.code, r.errOut)
	rows := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, rows, 9)
	users := map[string]bool{}
	for _, l := range rows {
		var row listRow
		require.NoError(t, json.Unmarshal([]byte(l), &row))
		require.Equal(t, []string{"aws-kms:" + key.ARN}, row.Keys)
		require.Positive(t, row.Version)
		require.Contains(t, row.Fields, installstore.FieldBotToken)
		users[row.Tenant+"/"+row.User] = true
	}
	require.Len(t, users, 9)
	require.True(t, users["E1:/U4"] && users[":T1/"] && users[":T1/U2"], "JSON names the tenant by its key")

	// verify: everything opens.
	r = h.run(env, "", "verify")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, "verified 9 records: 9 ok, 0 failed, 0 gone; history off\n", r.out)

	// Tamper with U5's user token in the table: one character of its ciphertext.
	raw, err := dynamo.New(h.client, h.table)
	require.NoError(t, err)
	ctx := context.Background()
	inst, err := raw.FetchInstallation(ctx, installstore.Query{TeamID: "T3", UserID: "U5"})
	require.NoError(t, err)
	tok := inst.User.Token.Reveal()
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	inst.User.Token = installstore.NewSecret(tok[:i] + string(c) + tok[i+1:])
	require.NoError(t, raw.UpdateInstallation(ctx, inst)) // U5 installed last: the latest record too

	// And a plaintext token written around the encryption layer.
	plain, err := dynamo.New(h.client, h.table, dynamo.WithPlaintextSecrets())
	require.NoError(t, err)
	leak := storetest.Fixture("", "T4", "U6", "plain")
	leak.IncomingWebhook = nil
	h.remember(leak)
	require.NoError(t, plain.StoreInstallation(ctx, leak))

	r = h.run(env, "", "verify", "-concurrency", "3")
	require.Equal(t, exitFailure, r.code, r.out)
	require.Contains(t, r.out, "FAIL tenant=T3 user=-: ")
	require.Contains(t, r.out, "FAIL tenant=T3 user=U5: ")
	require.Contains(t, r.out, "FAIL tenant=T4 user=-: ")
	require.Contains(t, r.out, "FAIL tenant=T4 user=U6: ")
	require.Contains(t, r.out, installstore.FieldUserToken)
	require.Contains(t, r.out, "cannot decrypt")
	require.NotContains(t, r.out, "tenant=T1 ")
	require.NotContains(t, r.out, "tenant=E1")
	require.Contains(t, r.out, "verified 11 records: 7 ok, 4 failed, 0 gone; history off\n")
	require.Contains(t, r.errOut, "4 of 11 records cannot be decrypted")

	// list shows the plaintext as UNSEALED, without printing it.
	r = h.run(env, "", "list")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Contains(t, r.out, "UNSEALED")
	require.Contains(t, r.out, "11 records, 5 tenants")
}

func TestAddDueIndex(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	table := dynamotest.TableName("cli-legacy")
	_, err := h.client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = h.client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	for range 2 { // idempotent
		r := h.run(h.with(envTable, table), "", "add-due-index")
		require.Equal(t, exitOK, r.code, r.errOut)
		require.Equal(t, "table "+table+" has the due index, filled in\n", r.out)
	}
	d, err := h.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Len(t, d.Table.GlobalSecondaryIndexes, 1)
	require.Equal(t, "due", aws.ToString(d.Table.GlobalSecondaryIndexes[0].IndexName))
}
