package redisstore_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/redisstore"
)

// newSealed returns crypto.NewStore over a default (sealed-only) store
// with a fresh key prefix and opts, and the prefix.
func newSealed(t testing.TB, client redis.UniversalClient, opts ...redisstore.Option) (*crypto.Store, string) {
	t.Helper()
	prefix := redistest.Prefix(t, client)
	backend, err := redisstore.New(client, append([]redisstore.Option{redisstore.WithKeyPrefix(prefix)}, opts...)...)
	require.NoError(t, err)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	require.NoError(t, err)
	s, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)
	return s, prefix
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
