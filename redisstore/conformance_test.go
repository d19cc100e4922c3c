package redisstore_test

import (
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/redisstore"
)

// deployments are the two Redis deployments every test runs on.
var deployments = []struct {
	name   string
	client func(t testing.TB) redis.UniversalClient
}{
	{"standalone", func(t testing.TB) redis.UniversalClient { return redistest.Client(t) }},
	{"cluster", func(t testing.TB) redis.UniversalClient { return redistest.ClusterClient(t) }},
}

// newPlain returns a store with a fresh key prefix that accepts the suite's
// plaintext fixtures, and its client and prefix.
func newPlain(t testing.TB, client redis.UniversalClient, opts ...redisstore.Option) (*redisstore.Store, string) {
	t.Helper()
	prefix := redistest.Prefix(t, client)
	s, err := redisstore.New(client, append([]redisstore.Option{redisstore.WithKeyPrefix(prefix), redisstore.WithPlaintextSecrets()}, opts...)...)
	require.NoError(t, err)
	return s, prefix
}

func TestConformance(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			storetest.Run(t, func(t *testing.T) installstore.FullStore {
				s, _ := newPlain(t, client)
				return s
			})
		})
	}
}

func TestConformanceHistory(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
				s, _ := newPlain(t, client, redisstore.WithHistory())
				return s
			})
		})
	}
}

// newApps returns a factory of stores that share one fresh key prefix per
// test and differ by client ID ("" for an unscoped store), for
// storetest.RunApps.
func newApps(client redis.UniversalClient, opts ...redisstore.Option) func(t *testing.T, clientID string) installstore.FullStore {
	var mu sync.Mutex
	prefixes := map[*testing.T]string{}
	return func(t *testing.T, clientID string) installstore.FullStore {
		mu.Lock()
		p, ok := prefixes[t]
		if !ok {
			p = redistest.Prefix(t, client)
			prefixes[t] = p
		}
		mu.Unlock()
		o := append([]redisstore.Option{redisstore.WithKeyPrefix(p), redisstore.WithPlaintextSecrets()}, opts...)
		if clientID != "" {
			o = append(o, redisstore.WithClientID(clientID))
		}
		s, err := redisstore.New(client, o...)
		require.NoError(t, err)
		return s
	}
}

func TestConformanceApps(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			t.Run("HistoryOff", func(t *testing.T) { storetest.RunApps(t, newApps(client)) })
			t.Run("HistoryOn", func(t *testing.T) { storetest.RunApps(t, newApps(client, redisstore.WithHistory())) })
		})
	}
}

// TestConformanceScoped: a store scoped to a client ID is a whole backend,
// with history on.
func TestConformanceScoped(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			storetest.Run(t, func(t *testing.T) installstore.FullStore {
				s, _ := newPlain(t, client, redisstore.WithClientID("1234567890.0987654321"), redisstore.WithHistory())
				return s
			})
			storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
				s, _ := newPlain(t, client, redisstore.WithClientID("1234567890.0987654321"), redisstore.WithHistory())
				return s
			})
		})
	}
}
