package redisstore_test

import (
	"context"
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
// with a fresh key prefix, and the prefix.
func newSealed(t testing.TB, client redis.UniversalClient) (*crypto.Store, string) {
	t.Helper()
	prefix := redistest.Prefix(t, client)
	backend, err := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
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
// (GET, HGETALL, ZRANGE), and each key's DUMP, and the key names.
func rawValues(t *testing.T, client redis.UniversalClient, prefix string) (keys, values []string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, redistest.EachKey(ctx, client, prefix, func(c redis.Cmdable, key string) error {
		keys = append(keys, key)
		dump, err := c.Dump(ctx, key).Result()
		if err != nil {
			return err
		}
		values = append(values, dump)
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
	return keys, values
}

func TestRawKeysHoldNoPlaintextThroughCrypto(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			s, prefix := newSealed(t, client)
			plain := storetest.WriteSecrets(t, s)

			keys, values := rawValues(t, client, prefix)
			require.NotEmpty(t, keys)
			sealed := 0
			for _, v := range append(keys, values...) {
				for _, p := range plain {
					require.NotContains(t, v, p, "a raw key or value holds a plaintext secret")
				}
				require.NotContains(t, v, "xox", "a raw key or value holds something token-like")
				require.NotContains(t, v, "hooks.slack", "a raw key or value holds a webhook URL")
				sealed += strings.Count(v, installstore.SealedPrefix)
			}
			require.GreaterOrEqual(t, sealed, 10, "the secrets are there, sealed")
		})
	}
}
