package rotation

import (
	"bytes"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/redisstore"
)

// The production stack shared by the replicas, on Redis: crypto.NewStore
// over one redisstore key prefix, on the standalone server and on the
// 3-master Cluster that scripts/redis.sh starts. Without
// INSTALLVAULT_REDIS_ADDR the test is skipped (fails under CI=true).

const envXprocRedisPrefix = "ROTATION_XPROC_REDIS_PREFIX"

func init() {
	for name, newClient := range map[string]func(t testing.TB) redis.UniversalClient{
		"crypto+redis":         func(t testing.TB) redis.UniversalClient { return redistest.Client(t) },
		"crypto+redis-cluster": func(t testing.TB) redis.UniversalClient { return redistest.ClusterClient(t) },
	} {
		sharedBackends[name] = func(t testing.TB) *sharedBackend {
			prefix := os.Getenv(envXprocRedisPrefix)
			if os.Getenv(envXprocChild) != "1" {
				prefix = redistest.Prefix(t, newClient(t))
			}
			return &sharedBackend{
				env: []string{envXprocRedisPrefix + "=" + prefix},
				open: func(t testing.TB) installstore.FullStore {
					inner, err := redisstore.New(newClient(t), redisstore.WithKeyPrefix(prefix))
					if err != nil {
						t.Fatal(err)
					}
					// A fixed test key, the same in every replica.
					keys, err := crypto.NewLocalKeyring(map[string][]byte{"xproc": bytes.Repeat([]byte{7}, 32)}, "xproc")
					if err != nil {
						t.Fatal(err)
					}
					store, err := crypto.NewStore(inner, keys)
					if err != nil {
						t.Fatal(err)
					}
					return store
				},
			}
		}
	}
}
