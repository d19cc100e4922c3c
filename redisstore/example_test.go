package redisstore_test

import (
	"context"
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/redisstore"
)

// The production stack on Redis: the encryption layer over the Redis
// store, which refuses anything it is given unsealed. The server runs with
// appendonly yes, appendfsync everysec (or always) and maxmemory-policy
// noeviction (see the package documentation).
func Example() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	// On Redis Cluster: redis.NewClusterClient(&redis.ClusterOptions{Addrs: ...}),
	// without ReadOnly, RouteByLatency or RouteRandomly.
	backend, err := redisstore.New(client, redisstore.WithKeyPrefix("myslackapp"))
	if err != nil {
		log.Fatal(err)
	}
	keys, err := crypto.ParseLocalKeyring(os.Getenv("INSTALLVAULT_LOCAL_KEYS"), "")
	if err != nil {
		log.Fatal(err)
	}
	store, err := crypto.NewStore(backend, keys)
	if err != nil {
		log.Fatal(err)
	}
	inst, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T0123456"})
	if err != nil {
		log.Fatal(err) // errors.Is(err, installstore.ErrUnavailable): Redis did not answer; try again
	}
	_ = inst.Bot.Token // opened, ready for Slack
}

// Two Slack apps share one Redis and one key prefix, each with its own
// store (and installation history): neither ever reads, lists or deletes
// the other's installations, nonces or leases.
func ExampleWithClientID() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	keys, err := crypto.ParseLocalKeyring(os.Getenv("INSTALLVAULT_LOCAL_KEYS"), "")
	if err != nil {
		log.Fatal(err)
	}
	stores := map[string]installstore.FullStore{}
	for _, clientID := range []string{"1111111111.2222222222", "3333333333.4444444444"} {
		backend, err := redisstore.New(client, redisstore.WithKeyPrefix("slackapps"),
			redisstore.WithClientID(clientID), redisstore.WithHistory())
		if err != nil {
			log.Fatal(err)
		}
		if stores[clientID], err = crypto.NewStore(backend, keys); err != nil {
			log.Fatal(err)
		}
	}
	// Every installation app 1111111111.2222222222 ever had in workspace
	// T0123456, newest first.
	err = stores["1111111111.2222222222"].ListHistory(ctx, installstore.Query{TeamID: "T0123456"}, func(inst *installstore.Installation) error {
		log.Printf("installed %s by %s", inst.InstalledAt, inst.User.ID)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
