package dynamo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// rotatingFixture is storetest's fixture whose bot token rotates and
// expires at exp.
func rotatingFixture(team, user, tag string, exp time.Time) *installstore.Installation {
	inst := storetest.Fixture("", team, user, tag)
	inst.Bot.ExpiresAt = exp
	inst.User.RefreshToken = installstore.Secret{}
	return inst
}

func listDue(t *testing.T, s *dynamo.Store, before time.Time) map[installstore.Query]time.Time {
	t.Helper()
	got := map[installstore.Query]time.Time{}
	require.NoError(t, s.ListDue(context.Background(), before, func(q installstore.Query, due time.Time) error {
		got[q] = due
		return nil
	}))
	return got
}

// The due index is sparse (items without a rotating token carry no due
// attributes) and sharded (due items spread over the 16 shards by tenant).
func TestDueIndexSparseAndSharded(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
	const n = 48
	for i := range n {
		require.NoError(t, s.StoreInstallation(ctx, rotatingFixture(fmt.Sprintf("T%d", i), "U1", "a", exp)))
	}
	fixed := storetest.Fixture("", "TF", "U1", "a")
	fixed.Bot.RefreshToken, fixed.User.RefreshToken = installstore.Secret{}, installstore.Secret{}
	require.NoError(t, s.StoreInstallation(ctx, fixed))

	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	shards := map[string]int{}
	for _, it := range out.Items {
		pk := it["PK"].(*types.AttributeValueMemberS).Value
		sk := it["SK"].(*types.AttributeValueMemberS).Value
		if pk == "T#:TF" || sk != "LATEST" {
			require.NotContains(t, it, "due", "%s/%s holds no rotating token: not indexed", pk, sk)
			require.NotContains(t, it, "dueShard")
			continue
		}
		require.Equal(t, &types.AttributeValueMemberN{Value: fmt.Sprint(exp.UnixMilli())}, it["due"])
		shards[it["dueShard"].(*types.AttributeValueMemberS).Value]++
	}
	require.Len(t, shards, 16, "48 tenants land on every one of the 16 shards: %v", shards)
	for shard := range shards {
		require.Regexp(t, `^DUE#(0[0-9]|1[0-5])$`, shard)
	}

	want := map[installstore.Query]time.Time{}
	for i := range n {
		want[installstore.Query{TeamID: fmt.Sprintf("T%d", i)}] = exp
	}
	require.Eventually(t, func() bool { return len(listDue(t, s, exp)) == n }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, want, listDue(t, s, exp))
	require.Empty(t, listDue(t, s, exp.Add(-time.Millisecond)))
}

// createLegacyTable creates a table with the schema of before the due
// index: PK and SK only.
func createLegacyTable(t *testing.T, client *dynamodb.Client, provisioned bool) string {
	t.Helper()
	name := dynamotest.TableName("legacy")
	ctx := context.Background()
	in := &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
	if provisioned {
		in.BillingMode = types.BillingModeProvisioned
		in.ProvisionedThroughput = &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(5)}
	}
	_, err := client.CreateTable(ctx, in)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

// AddDueIndex adds the index to a table made before it, fills it in from
// the items' unsealed attributes, and is safe to run again.
func TestAddDueIndex(t *testing.T) {
	ctx := context.Background()
	var counter dynamotest.Counter
	client := dynamotest.Client(t, counter.Option())
	table := createLegacyTable(t, client, false)
	s, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
	require.NoError(t, err)
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
	require.NoError(t, s.StoreInstallation(ctx, rotatingFixture("T1", "U1", "a", exp)))
	userRot := storetest.Fixture("", "T2", "U1", "b")
	userRot.Bot.RefreshToken = installstore.Secret{}
	userRot.User.ExpiresAt = exp.Add(time.Minute)
	require.NoError(t, s.StoreInstallation(ctx, userRot))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T3", "U1", "c"))) // rotates but never expires: not due

	// Make the items look as an older version wrote them: no due
	// attributes, no version on user items; and plant a wrong one.
	for _, k := range [][2]string{{"T#:T1", "LATEST"}, {"T#:T1", "USER#U1"}, {"T#:T2", "LATEST"}, {"T#:T2", "USER#U1"}} {
		expr := "REMOVE due, dueShard"
		if k[1] != "LATEST" {
			expr += ", v"
		}
		_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(table), Key: item{"PK": sv(k[0]), "SK": sv(k[1])}, UpdateExpression: aws.String(expr),
		})
		require.NoError(t, err)
	}
	_, err = client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: item{"PK": sv("T#:T3"), "SK": sv("LATEST")},
		UpdateExpression:          aws.String("SET due = :d, dueShard = :s"),
		ExpressionAttributeValues: item{":d": nv(1), ":s": sv("DUE#03")},
	})
	require.NoError(t, err)
	putItems(t, client, table, item{"PK": sv("T#:T4"), "SK": sv("LATEST"), "v": sv("corrupt")})

	err = s.ListDue(ctx, exp, func(installstore.Query, time.Time) error { return nil })
	require.Error(t, err, "no index yet")
	require.NotErrorIs(t, err, installstore.ErrUnavailable, "a missing index is not transient")

	for run := range 2 {
		counter.Reset()
		err := dynamo.AddDueIndex(ctx, client, table)
		require.ErrorIs(t, err, installstore.ErrCorrupt, "run %d", run)
		require.ErrorContains(t, err, "skipped 1 record: tenant T4")
		if run == 1 {
			require.Zero(t, counter.Calls()["UpdateTable"], "the index exists")
			require.Zero(t, counter.Calls()["UpdateItem"], "nothing left to fix")
		}
		want := map[installstore.Query]time.Time{
			{TeamID: "T1"}: exp, {TeamID: "T2"}: exp.Add(time.Minute), {TeamID: "T2", UserID: "U1"}: exp.Add(time.Minute),
		}
		require.Eventually(t, func() bool { return len(listDue(t, s, exp.Add(time.Hour))) == len(want) }, 10*time.Second, 50*time.Millisecond)
		require.Equal(t, want, listDue(t, s, exp.Add(time.Hour)), "run %d", run)
	}
	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Len(t, d.Table.GlobalSecondaryIndexes, 1)
	require.Equal(t, types.ProjectionTypeKeysOnly, d.Table.GlobalSecondaryIndexes[0].Projection.ProjectionType)

	require.ErrorIs(t, dynamo.AddDueIndex(ctx, nil, table), installstore.ErrInvalid)
	require.ErrorIs(t, dynamo.AddDueIndex(ctx, client, ""), installstore.ErrInvalid)
}

// On a provisioned table the index gets the table's throughput.
func TestAddDueIndexProvisioned(t *testing.T) {
	ctx := context.Background()
	client := dynamotest.Client(t)
	table := createLegacyTable(t, client, true)
	require.NoError(t, dynamo.AddDueIndex(ctx, client, table))
	require.NoError(t, dynamo.AddDueIndex(ctx, client, table), "again")
	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Len(t, d.Table.GlobalSecondaryIndexes, 1)
	require.Equal(t, int64(5), aws.ToInt64(d.Table.GlobalSecondaryIndexes[0].ProvisionedThroughput.ReadCapacityUnits))
	s, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
	require.NoError(t, err)
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
	require.NoError(t, s.StoreInstallation(ctx, rotatingFixture("T1", "U1", "a", exp)))
	require.Eventually(t, func() bool { return len(listDue(t, s, exp)) == 1 }, 10*time.Second, 50*time.Millisecond)
}
