package redisstore_test

import (
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
