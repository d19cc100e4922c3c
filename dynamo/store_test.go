package dynamo_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
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

// sealedFixture is storetest's fixture with every secret in sealed form (as
// far as the backend can tell).
func sealedFixture(team, user, tag string) *installstore.Installation {
	inst := storetest.Fixture("", team, user, tag)
	_ = inst.Secrets(func(_ string, s *installstore.Secret) error {
		*s = installstore.NewSecret(installstore.SealedPrefix + "fake-" + strings.ReplaceAll(s.Reveal(), "xox", "t"))
		return nil
	})
	return inst
}

func countItems(t *testing.T, client *dynamodb.Client, table string) int {
	t.Helper()
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	return int(out.Count)
}

func TestRefusesPlaintextSecrets(t *testing.T) {
	ctx := context.Background()
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	s, err := dynamo.New(client, table)
	require.NoError(t, err)

	ok := sealedFixture("T1", "U1", "a")
	require.NoError(t, s.StoreInstallation(ctx, ok), "sealed secrets are accepted")
	before := countItems(t, client, table)

	for _, field := range []string{installstore.FieldBotToken, installstore.FieldBotRefreshToken, installstore.FieldUserToken, installstore.FieldUserRefreshToken, installstore.FieldIncomingWebhookURL} {
		inst := sealedFixture("T2", "U1", "b")
		_ = inst.Secrets(func(name string, s *installstore.Secret) error {
			if name == field {
				*s = installstore.NewSecret("xoxb-test-plaintext-canary")
			}
			return nil
		})
		err := s.StoreInstallation(ctx, inst)
		require.ErrorIs(t, err, installstore.ErrInvalid, field)
		require.ErrorContains(t, err, field, "the error names the field")
		require.ErrorContains(t, err, "tenant T2", "the error names the tenant")
		require.NotContains(t, err.Error(), "canary", "never the value")

		upd, ferr := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, ferr)
		_ = upd.Secrets(func(name string, s *installstore.Secret) error {
			if name == field {
				*s = installstore.NewSecret("xoxb-test-plaintext-canary")
			}
			return nil
		})
		require.ErrorIs(t, s.UpdateInstallation(ctx, upd), installstore.ErrInvalid, field)
	}
	require.Equal(t, before, countItems(t, client, table), "nothing written")
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	storetest.Equal(t, sealedFixture("T1", "U1", "a"), got)

	plain, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
	require.NoError(t, err)
	require.NoError(t, plain.StoreInstallation(ctx, storetest.Fixture("", "T3", "U1", "c")), "allowed with WithPlaintextSecrets")
}

func TestNew(t *testing.T) {
	_, err := dynamo.New(nil, "t")
	require.ErrorIs(t, err, installstore.ErrInvalid)
	_, err = dynamo.New(dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "")
	require.ErrorIs(t, err, installstore.ErrInvalid)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rawItem reads an item by key, bypassing the store.
func rawItem(t *testing.T, client *dynamodb.Client, table, pkPrefix, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		FilterExpression:          aws.String("begins_with(PK, :p) AND SK = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: pkPrefix}, ":sk": &types.AttributeValueMemberS{Value: sk}},
		ConsistentRead:            aws.Bool(true),
	})
	require.NoError(t, err)
	if len(out.Items) == 0 {
		return nil
	}
	require.Len(t, out.Items, 1)
	return out.Items[0]
}

// DynamoDB Local never runs the TTL sweeper: expired items stay in the
// table, and the store must refuse them on read.
func TestExpiryEnforcedOnRead(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	s, table := newPlain(t, dynamo.WithClock(clk.now))
	client := dynamotest.Client(t)

	exp := clk.now().Add(time.Minute).Truncate(time.Millisecond).Add(500 * time.Millisecond)
	require.NoError(t, s.PutNonce(ctx, "state-1", exp))
	item := rawItem(t, client, table, "NONCE#", "NONCE")
	require.NotNil(t, item)
	require.NotContains(t, item["PK"].(*types.AttributeValueMemberS).Value, "state-1", "nonces are stored hashed")
	require.Equal(t, &types.AttributeValueMemberN{Value: itoa(exp.Unix() + 1)}, item["ttl"], "TTL in epoch seconds, rounded up")
	require.Equal(t, &types.AttributeValueMemberN{Value: itoa(exp.UnixMilli())}, item["exp"])

	clk.add(2 * time.Minute)
	require.NotNil(t, rawItem(t, client, table, "NONCE#", "NONCE"), "DynamoDB Local keeps the expired item")
	require.ErrorIs(t, s.ConsumeNonce(ctx, "state-1"), installstore.ErrNotFound, "expired nonce refused")
	require.Nil(t, rawItem(t, client, table, "NONCE#", "NONCE"), "and removed")

	// An expired nonce still in the table may be put again; a live one not.
	require.NoError(t, s.PutNonce(ctx, "state-2", clk.now().Add(time.Second)))
	require.ErrorIs(t, s.PutNonce(ctx, "state-2", clk.now().Add(time.Hour)), installstore.ErrConflict)
	clk.add(time.Second)
	require.NoError(t, s.PutNonce(ctx, "state-2", clk.now().Add(time.Hour)), "expired nonce replaced")
	require.NoError(t, s.ConsumeNonce(ctx, "state-2"))
	require.ErrorIs(t, s.ConsumeNonce(ctx, "state-2"), installstore.ErrNotFound)

	// Leases: held until the exact expiry, then taken over.
	require.NoError(t, s.AcquireLease(ctx, "refresh:T1", "a", time.Minute))
	clk.add(time.Minute - time.Millisecond)
	require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "b", time.Minute), installstore.ErrLeaseHeld)
	clk.add(time.Millisecond)
	require.NotNil(t, rawItem(t, client, table, "LEASE#", "LEASE"), "expired lease still in the table")
	require.NoError(t, s.AcquireLease(ctx, "refresh:T1", "b", time.Minute), "taken over at expiry")
	require.NoError(t, s.ReleaseLease(ctx, "refresh:T1", "a"), "the old owner's release is a no-op")
	require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "a", time.Minute), installstore.ErrLeaseHeld)

	// Bad input.
	require.ErrorIs(t, s.PutNonce(ctx, "", exp), installstore.ErrInvalid)
	require.ErrorIs(t, s.PutNonce(ctx, strings.Repeat("n", 5000), exp), installstore.ErrInvalid)
	require.ErrorIs(t, s.AcquireLease(ctx, "", "a", time.Minute), installstore.ErrInvalid)
	require.ErrorIs(t, s.AcquireLease(ctx, "x", "", time.Minute), installstore.ErrInvalid)
	require.ErrorIs(t, s.AcquireLease(ctx, "x", "a", 0), installstore.ErrInvalid)
	require.ErrorIs(t, s.AcquireLease(ctx, "bad\xff", "a", time.Minute), installstore.ErrInvalid)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDeleteTenantWithManyUsersPaginates(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	const users = 130 // two TransactGetItems chunks of 99 users; a sweep of 130 DeleteItems
	for i := range users {
		require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U"+itoa(int64(i)), "x")))
	}
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "y")))
	n := 0
	require.NoError(t, s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		n++
		require.Equal(t, q.TeamID, inst.TeamID)
		return nil
	}))
	require.Equal(t, users+1+2, n)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.Equal(t, 2, countItems(t, client, table), "only T2's LATEST and USER# items stay")
}

func TestCreateTableEnablesTTL(t *testing.T) {
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	ctx := context.Background()
	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Equal(t, types.TableStatusActive, d.Table.TableStatus)
	require.Equal(t, types.BillingModePayPerRequest, d.Table.BillingModeSummary.BillingMode)
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Equal(t, "ttl", aws.ToString(ttl.TimeToLiveDescription.AttributeName))
	require.Equal(t, types.TimeToLiveStatusEnabled, ttl.TimeToLiveDescription.TimeToLiveStatus)
	require.Len(t, d.Table.GlobalSecondaryIndexes, 1)
	gsi := d.Table.GlobalSecondaryIndexes[0]
	require.Equal(t, "due", aws.ToString(gsi.IndexName))
	require.Equal(t, types.ProjectionTypeKeysOnly, gsi.Projection.ProjectionType)
	require.Equal(t, []types.KeySchemaElement{
		{AttributeName: aws.String("dueShard"), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String("due"), KeyType: types.KeyTypeRange},
	}, gsi.KeySchema)
	require.NoError(t, dynamo.AddDueIndex(ctx, client, table), "a table made by CreateTable has the index")

	require.Error(t, dynamo.CreateTable(ctx, client, table), "the table exists")
}

func TestCanceledContextWritesNothing(t *testing.T) {
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a"))
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "store tenant T1")
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}), context.Canceled)
	require.ErrorIs(t, s.PutNonce(ctx, "n", time.Now().Add(time.Hour)), context.Canceled)
	require.ErrorIs(t, s.AcquireLease(ctx, "l", "o", time.Hour), context.Canceled)
	require.Zero(t, countItems(t, client, table))
}
