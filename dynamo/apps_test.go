package dynamo_test

import (
	"context"
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

// sharedTables returns a factory of stores for storetest.RunApps: one
// table per test, a store per client ID over it.
func sharedTables(opts ...dynamo.Option) func(t *testing.T, clientID string) installstore.FullStore {
	var mu sync.Mutex
	tables := map[*testing.T]string{}
	return func(t *testing.T, clientID string) installstore.FullStore {
		client := dynamotest.Client(t)
		mu.Lock()
		table, ok := tables[t]
		if !ok {
			table = dynamotest.NewTable(t, client)
			tables[t] = table
		}
		mu.Unlock()
		all := append([]dynamo.Option{dynamo.WithPlaintextSecrets()}, opts...)
		if clientID != "" {
			all = append(all, dynamo.WithClientID(clientID))
		}
		s, err := dynamo.New(client, table, all...)
		require.NoError(t, err)
		return s
	}
}

func TestAppsConformance(t *testing.T) {
	t.Run("HistoryOff", func(t *testing.T) { storetest.RunApps(t, sharedTables()) })
	t.Run("HistoryOn", func(t *testing.T) { storetest.RunApps(t, sharedTables(dynamo.WithHistory())) })
}

// A store scoped to an app passes the whole contract (on a table it has to
// itself: RunApps checks the sharing).
func TestConformanceScoped(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, _ := newPlain(t, dynamo.WithClientID("A1.b-c_d"))
		return s
	})
}

func TestNewOptionsValidated(t *testing.T) {
	client := dynamotest.NewClient("http://127.0.0.1:1")
	for _, opt := range []dynamo.Option{
		dynamo.WithClientID(""), dynamo.WithClientID("a#b"), dynamo.WithClientID(strings.Repeat("1", 65)), dynamo.WithClientID("é"),
		dynamo.WithScanSegments(0), dynamo.WithScanSegments(dynamo.MaxScanSegments + 1),
	} {
		s, err := dynamo.New(client, "t", opt)
		require.ErrorIs(t, err, installstore.ErrInvalid)
		require.Nil(t, s)
	}
	s, err := dynamo.New(client, "t", dynamo.WithClientID("1234567890.0987654321"), dynamo.WithScanSegments(dynamo.MaxScanSegments))
	require.NoError(t, err)
	require.Equal(t, "1234567890.0987654321", s.ClientID())
	s, err = dynamo.New(client, "t")
	require.NoError(t, err)
	require.Empty(t, s.ClientID())
}

// scanKeys returns every item's PK, SK and due shard (when it has one).
func scanKeys(t *testing.T, client *dynamodb.Client, table string) [][3]string {
	t.Helper()
	var out [][3]string
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, it := range page.Items {
			var k [3]string
			k[0] = it["PK"].(*types.AttributeValueMemberS).Value
			k[1] = it["SK"].(*types.AttributeValueMemberS).Value
			if sh, ok := it["dueShard"].(*types.AttributeValueMemberS); ok {
				k[2] = sh.Value
			}
			out = append(out, k)
		}
	}
	return out
}

// Two apps and an unscoped store on one table, with the same tenant IDs,
// the same nonce and the same lease name: each sees only its own, through
// every operation; the unscoped layout is the one of before; a corrupt item
// of one app is reported by that app's listing alone.
func TestAppsShareOneTable(t *testing.T) {
	ctx := context.Background()
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	ids := []string{"111.222", "333.444", ""}
	stores := make([]*dynamo.Store, len(ids))
	for i, id := range ids {
		opts := []dynamo.Option{dynamo.WithPlaintextSecrets(), dynamo.WithHistory()}
		if id != "" {
			opts = append(opts, dynamo.WithClientID(id))
		}
		var err error
		stores[i], err = dynamo.New(client, table, opts...)
		require.NoError(t, err)
	}
	soon := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	tag := func(i int) string { return []string{"appA", "appB", "none"}[i] }
	for i, s := range stores {
		inst := storetest.Fixture("", "T1", "U1", tag(i))
		inst.Bot.ExpiresAt = soon.Add(time.Duration(i) * time.Second)
		require.NoError(t, s.StoreInstallation(ctx, inst))
		require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", tag(i))))
		require.NoError(t, s.PutNonce(ctx, "state-1", soon))
		require.NoError(t, s.AcquireLease(ctx, "refresh:T1", tag(i), time.Minute))
	}

	// The stored layout.
	for _, k := range scanKeys(t, client, table) {
		switch {
		case strings.HasPrefix(k[0], "A#111.222#"), strings.HasPrefix(k[0], "A#333.444#"):
			app := k[0][:len("A#111.222#")]
			rest := strings.TrimPrefix(k[0], app)
			require.True(t, strings.HasPrefix(rest, "T#") || strings.HasPrefix(rest, "NONCE#") || strings.HasPrefix(rest, "LEASE#"), k[0])
			if k[2] != "" {
				require.True(t, strings.HasPrefix(k[2], app+"DUE#"), "an app's due shards are its own: %v", k)
			}
		default:
			require.True(t, strings.HasPrefix(k[0], "T#") || strings.HasPrefix(k[0], "NONCE#") || strings.HasPrefix(k[0], "LEASE#"), "unscoped keys as before: %v", k)
			if k[2] != "" {
				require.True(t, strings.HasPrefix(k[2], "DUE#"), k)
			}
		}
	}
	require.NotNil(t, rawItem(t, client, table, "T#:T1", "LATEST"), "the unscoped tenant keeps its key")
	require.NotNil(t, rawItem(t, client, table, "A#111.222#T#:T1", "LATEST"))

	for i, s := range stores {
		got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
		require.Contains(t, got.Bot.Token.Reveal(), tag(i))
		n := 0
		require.NoError(t, s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
			require.Contains(t, inst.User.Token.Reveal(), tag(i), "app %s lists another's record", tag(i))
			n++
			return nil
		}))
		require.Equal(t, 4, n)
		require.Eventually(t, func() bool {
			due := listDue(t, s, soon.Add(time.Hour))
			return len(due) == 1 && due[installstore.Query{TeamID: "T1"}].Equal(soon.Add(time.Duration(i)*time.Second))
		}, 10*time.Second, 20*time.Millisecond, "app %s lists its own due record", tag(i))
		hs := storetest.History(t, s, installstore.Query{TeamID: "T1"})
		require.Equal(t, 1, len(hs))
		require.Contains(t, hs[0].Bot.Token.Reveal(), tag(i))
		require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld)
	}

	// App A's uninstall, nonce, lease and a corrupt item of its own touch
	// nobody else.
	a := stores[0]
	require.NoError(t, a.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.NoError(t, a.ConsumeNonce(ctx, "state-1"))
	require.NoError(t, a.ReleaseLease(ctx, "refresh:T1", tag(0)))
	putItems(t, client, table, item{"PK": sv("A#111.222#T#:C1"), "SK": sv("LATEST"), "v": sv("not a number")})
	err := a.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil })
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.ErrorContains(t, err, "C1")
	for i, s := range stores[1:] {
		i++
		_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.NoError(t, err, "app %s keeps T1", tag(i))
		require.Equal(t, 1, len(storetest.History(t, s, installstore.Query{TeamID: "T1"})))
		require.NoError(t, s.ConsumeNonce(ctx, "state-1"), "app %s's nonce is its own", tag(i))
		require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld)
		require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }), "app %s reports none of app A's corrupt items", tag(i))
		_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "C1"})
		require.ErrorIs(t, err, installstore.ErrNotFound)
	}
	_, err = a.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.Equal(t, 0, len(storetest.History(t, a, installstore.Query{TeamID: "T1"})))
	require.Zero(t, partitionSize(t, client, table, "A#111.222#T#:T1"))
	require.NoError(t, a.AcquireLease(ctx, "refresh:T1", "next", time.Minute))

	// AddDueIndex (re-run on a table of apps) repairs an app's index entry
	// (with the app's own shard), leaves the others as they are, and
	// reports app A's corrupt item.
	_, err = client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(table),
		Key:              item{"PK": sv("A#333.444#T#:T1"), "SK": sv("LATEST")},
		UpdateExpression: aws.String("REMOVE due, dueShard"),
	})
	require.NoError(t, err)
	require.Empty(t, listDue(t, stores[1], soon.Add(time.Hour)))
	err = dynamo.AddDueIndex(ctx, client, table)
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.ErrorContains(t, err, "C1")
	for i, s := range stores[1:] {
		require.Equal(t, 1, len(listDue(t, s, soon.Add(time.Hour))), "app %s", tag(i+1))
	}
}
