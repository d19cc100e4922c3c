package dynamo_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// newSealed returns crypto.NewStore over a default (sealed-only) dynamo
// store (with opts) on a fresh table, and the table's name and client.
func newSealed(t *testing.T, opts ...dynamo.Option) (installstore.FullStore, *dynamodb.Client, string) {
	t.Helper()
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	backend, err := dynamo.New(client, table, opts...)
	require.NoError(t, err)
	key := []byte("0123456789abcdef0123456789abcdef")
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": key}, "k1")
	require.NoError(t, err)
	s, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)
	return s, client, table
}

func TestConformanceThroughCrypto(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, _, _ := newSealed(t)
		return s
	})
}

// scanStrings returns every string anywhere in the table's items.
func scanStrings(t *testing.T, client *dynamodb.Client, table string) []string {
	t.Helper()
	var out []string
	var walk func(v types.AttributeValue)
	walk = func(v types.AttributeValue) {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out = append(out, v.Value)
		case *types.AttributeValueMemberM:
			for _, e := range v.Value {
				walk(e)
			}
		case *types.AttributeValueMemberL:
			for _, e := range v.Value {
				walk(e)
			}
		}
	}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, item := range page.Items {
			walk(&types.AttributeValueMemberM{Value: item})
		}
	}
	return out
}

func TestRawScanHoldsNoPlaintextThroughCrypto(t *testing.T) {
	t.Run("Default", func(t *testing.T) { testRawScanHoldsNoPlaintext(t, 0) })
	// History items hold what the records hold: sealed values only.
	t.Run("HistoryAndClientID", func(t *testing.T) {
		testRawScanHoldsNoPlaintext(t, 4, dynamo.WithHistory(), dynamo.WithClientID("1234567890.0987654321"))
	})
}

func testRawScanHoldsNoPlaintext(t *testing.T, wantHistory int, opts ...dynamo.Option) {
	s, client, table := newSealed(t, opts...)
	plain := storetest.WriteSecrets(t, s)
	history := 0
	for _, k := range scanKeys(t, client, table) {
		if strings.HasPrefix(k[1], "H#") {
			history++
		}
	}
	require.Equal(t, wantHistory, history, "history items in the scan")

	strs := scanStrings(t, client, table)
	require.NotEmpty(t, strs)
	sealed := 0
	for _, v := range strs {
		for _, p := range plain {
			require.NotContains(t, v, p, "raw item holds a plaintext secret")
		}
		if strings.HasPrefix(v, installstore.SealedPrefix) {
			sealed++ // random base64 may spell "xox": only unsealed values are checked for it
			continue
		}
		require.NotContains(t, v, "xox", "raw item holds something token-like")
	}
	require.GreaterOrEqual(t, sealed, 10, "the secrets are there, sealed")
}

func TestHistoryConformanceThroughCrypto(t *testing.T) {
	storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
		s, _, _ := newSealed(t, dynamo.WithHistory(), dynamo.WithClientID("1234567890.0987654321"))
		return s
	})
}

// Encryption layers of two apps and an unscoped one, over app-scoped
// stores of one table, with one master key: they never see each other's
// items (storetest.RunApps), and an item sealed for one app, copied raw
// under another app's key, does not open there.
func TestAppsThroughCrypto(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": key}, "k1")
	require.NoError(t, err)
	var mu sync.Mutex
	tables := map[*testing.T]string{}
	open := func(t *testing.T, clientID string) (installstore.FullStore, *dynamodb.Client, string) {
		client := dynamotest.Client(t)
		mu.Lock()
		table, ok := tables[t]
		if !ok {
			table = dynamotest.NewTable(t, client)
			tables[t] = table
		}
		mu.Unlock()
		opts := []dynamo.Option{dynamo.WithHistory()}
		if clientID != "" {
			opts = append(opts, dynamo.WithClientID(clientID))
		}
		backend, err := dynamo.New(client, table, opts...)
		require.NoError(t, err)
		s, err := crypto.NewStore(backend, keys)
		require.NoError(t, err)
		return s, client, table
	}
	storetest.RunApps(t, func(t *testing.T, clientID string) installstore.FullStore {
		s, _, _ := open(t, clientID)
		return s
	})

	t.Run("CopiedBetweenAppsDoesNotOpen", func(t *testing.T) {
		ctx := context.Background()
		a, client, table := open(t, "111.222")
		b, _, _ := open(t, "333.444")
		require.NoError(t, a.StoreInstallation(ctx, storetest.Fixture("", "T1", "", "a")))
		raw := rawItem(t, client, table, "A#111.222#T#:T1", "LATEST")
		require.NotNil(t, raw)
		raw["PK"] = sv("A#333.444#T#:T1")
		delete(raw, "dueShard")
		delete(raw, "due")
		putItems(t, client, table, raw)
		_, err := b.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.ErrorIs(t, err, crypto.ErrDecrypt, "app A's sealed values do not open for app B")
		got, err := a.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
		require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
	})
}
