package redisstore_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/redisstore"
)

var (
	sharedMu       sync.Mutex
	sharedPrefixes = map[testing.TB]string{}
)

// newSealedShared is newSealed on the one prefix of t (made at its first
// call), for stores of several apps sharing one keyspace.
func newSealedShared(t testing.TB, client redis.UniversalClient, opts ...redisstore.Option) (*crypto.Store, string) {
	t.Helper()
	sharedMu.Lock()
	prefix, ok := sharedPrefixes[t]
	if !ok {
		prefix = redistest.Prefix(t, client)
		sharedPrefixes[t] = prefix
		t.Cleanup(func() { sharedMu.Lock(); delete(sharedPrefixes, t); sharedMu.Unlock() })
	}
	sharedMu.Unlock()
	return sealedOn(t, client, prefix, opts...), prefix
}

// newSealed returns crypto.NewStore over a default (sealed-only) store
// with a fresh key prefix and opts, and the prefix.
func newSealed(t testing.TB, client redis.UniversalClient, opts ...redisstore.Option) (*crypto.Store, string) {
	t.Helper()
	prefix := redistest.Prefix(t, client)
	return sealedOn(t, client, prefix, opts...), prefix
}

// sealedOn returns crypto.NewStore over a default (sealed-only) store on
// prefix with opts.
func sealedOn(t testing.TB, client redis.UniversalClient, prefix string, opts ...redisstore.Option) *crypto.Store {
	t.Helper()
	backend, err := redisstore.New(client, append([]redisstore.Option{redisstore.WithKeyPrefix(prefix)}, opts...)...)
	require.NoError(t, err)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	require.NoError(t, err)
	s, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)
	return s
}

func TestConformanceThroughCrypto(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			storetest.Run(t, func(t *testing.T) installstore.FullStore {
				s, _ := newSealed(t, client)
				return s
			})
		})
	}
}

// TestConformanceThroughCryptoWithHistory: history and app scoping keep
// their promises under the encryption layer (entries hold sealed values,
// which ListHistory hands out opened; each app's values are sealed for it).
func TestConformanceThroughCryptoWithHistory(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
				s, _ := newSealed(t, client, redisstore.WithHistory())
				return s
			})
			storetest.RunApps(t, func(t *testing.T, clientID string) installstore.FullStore {
				opts := []redisstore.Option{redisstore.WithHistory()}
				if clientID != "" {
					opts = append(opts, redisstore.WithClientID(clientID))
				}
				s, _ := newSealedShared(t, client, opts...)
				return s
			})
		})
	}
}

// TestMovedRecordDoesNotOpenInAnotherApp: a tenant's hash copied, byte for
// byte, from one app's keys to another's (same prefix, same Redis) does not
// open there: the encryption layer seals for the store's client ID.
func TestMovedRecordDoesNotOpenInAnotherApp(t *testing.T) {
	ctx := context.Background()
	client := redistest.Client(t)
	a, prefix := newSealedShared(t, client, redisstore.WithClientID("1111.aaaa"))
	b, _ := newSealedShared(t, client, redisstore.WithClientID("2222.bbbb"))
	require.NoError(t, a.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	var src string
	require.NoError(t, redistest.EachKey(ctx, client, prefix, func(_ redis.Cmdable, key string) error {
		if strings.HasSuffix(key, ":t::T1") {
			src = key
		}
		return nil
	}))
	require.True(t, strings.HasPrefix(src, "{"+prefix+"@1111.aaaa:"), src)
	dst := strings.Replace(src, "@1111.aaaa:", "@2222.bbbb:", 1)
	require.NoError(t, client.Copy(ctx, src, dst, 0, false).Err())
	_, err := b.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, crypto.ErrDecrypt, "another app's sealed values do not open")
	got, err := a.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-T1-a", got.Bot.Token.Reveal())
}

// rawValues returns every value Redis holds under prefix, read by type
// (GET, HGETALL, ZRANGE), the key names, and each key's DUMP.
func rawValues(t *testing.T, client redis.UniversalClient, prefix string) (keys, values, dumps []string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, redistest.EachKey(ctx, client, prefix, func(c redis.Cmdable, key string) error {
		keys = append(keys, key)
		dump, err := c.Dump(ctx, key).Result()
		if err != nil {
			return err
		}
		dumps = append(dumps, dump)
		switch typ := c.Type(ctx, key).Val(); typ {
		case "string":
			values = append(values, c.Get(ctx, key).Val())
		case "hash":
			for f, v := range c.HGetAll(ctx, key).Val() {
				values = append(values, f, v)
			}
		case "zset":
			values = append(values, c.ZRange(ctx, key, 0, -1).Val()...)
		default:
			t.Errorf("key %s has type %s, which the store never writes", key, typ)
		}
		return nil
	}))
	return keys, values, dumps
}

// sealedValue matches a sealed secret, whose random characters may spell
// anything (even "xox").
var sealedValue = regexp.MustCompile(regexp.QuoteMeta(installstore.SealedPrefix) + `[A-Za-z0-9._~:-]*`)

// TestRawKeysHoldNoPlaintextThroughCrypto: no key or value Redis holds,
// history entries included, holds a plaintext secret, for an unscoped store
// and a store scoped to a client ID.
func TestRawKeysHoldNoPlaintextThroughCrypto(t *testing.T) {
	for _, d := range deployments {
		for name, opts := range map[string][]redisstore.Option{
			"history":            {redisstore.WithHistory()},
			"history, scoped":    {redisstore.WithHistory(), redisstore.WithClientID("1234567890.0987654321")},
			"no history, scoped": {redisstore.WithClientID("1234567890.0987654321")},
		} {
			t.Run(d.name+"/"+name, func(t *testing.T) {
				client := d.client(t)
				s, prefix := newSealed(t, client, opts...)
				plain := storetest.WriteSecrets(t, s)

				keys, values, dumps := rawValues(t, client, prefix)
				require.NotEmpty(t, keys)
				history := 0
				for _, k := range keys {
					if strings.Contains(k, "}:h:") {
						history++
					}
				}
				if strings.Contains(name, "no history") {
					require.Zero(t, history, "history off writes no history key")
				} else {
					require.Equal(t, 3, history, "a history hash per tenant stored (T1, E1/T2, E2)")
				}
				sealed := 0
				for _, v := range append(append(keys, values...), dumps...) {
					for _, p := range plain {
						require.NotContains(t, v, p, "a raw key or value holds a plaintext secret")
					}
				}
				for _, v := range append(keys, values...) {
					sealed += strings.Count(v, installstore.SealedPrefix)
					v = sealedValue.ReplaceAllString(v, installstore.SealedPrefix)
					require.NotContains(t, v, "xox", "a raw key or value holds something token-like")
					require.NotContains(t, v, "hooks.slack", "a raw key or value holds a webhook URL")
				}
				require.GreaterOrEqual(t, sealed, 10, "the secrets are there, sealed")
			})
		}
	}
}
