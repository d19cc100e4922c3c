// Package redistest connects tests to the Redis servers that
// scripts/redis.sh starts: a standalone server and a Cluster of three
// masters on 127.0.0.1, and gives each test a fresh key prefix whose keys
// are deleted when it ends.
//
// Tests read the addresses from INSTALLVAULT_REDIS_ADDR and
// INSTALLVAULT_REDIS_CLUSTER_ADDRS. When one is missing, a test fails
// under CI=true; otherwise it is skipped, and the package prints one line
// naming the command that starts the servers.
package redistest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Environment variables the helpers read (scripts/redis.sh start exports them).
const (
	// AddrEnv holds the standalone server's address, e.g. 127.0.0.1:21000.
	AddrEnv = "INSTALLVAULT_REDIS_ADDR"
	// ClusterEnv holds the Cluster masters' addresses, comma-separated.
	ClusterEnv = "INSTALLVAULT_REDIS_CLUSTER_ADDRS"
	// ServerEnv holds the redis-server binary, for tests that start their own.
	ServerEnv = "INSTALLVAULT_REDIS_SERVER"
)

var skipOnce sync.Once

// need returns the value of env, or ends the test: t.Fatal under CI=true,
// else a skip (with one line for the whole test binary).
func need(t testing.TB, env string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set: start the Redis servers from the repository root with\n\teval \"$(scripts/redis.sh start)\"\n(stop them with scripts/redis.sh stop)", env)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	skipOnce.Do(func() {
		fmt.Fprintf(os.Stderr, "redistest: %s is not set: skipping the Redis tests (start the servers with: eval \"$(scripts/redis.sh start)\")\n", env)
	})
	t.SkipNow()
	return ""
}

// Addr returns the standalone server's address ([AddrEnv]).
func Addr(t testing.TB) string { t.Helper(); return need(t, AddrEnv) }

// ClusterAddrs returns the Cluster masters' addresses ([ClusterEnv]).
func ClusterAddrs(t testing.TB) []string { t.Helper(); return strings.Split(need(t, ClusterEnv), ",") }

// Server returns the redis-server binary ([ServerEnv]; "redis-server" on
// the PATH when unset, once the servers are known to run).
func Server(t testing.TB) string {
	t.Helper()
	Addr(t)
	if s := os.Getenv(ServerEnv); s != "" {
		return s
	}
	return "redis-server"
}

// Client returns a client of the standalone server, closed when the test ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	c := NewClient(Addr(t))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// NewClient is [Client] for an explicit address, for programs (a
// re-executed test binary) that manage the client themselves.
func NewClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, PoolSize: 64})
}

// ClusterClient returns a client of the Cluster, closed when the test ends.
func ClusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	c := NewClusterClient(ClusterAddrs(t))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// NewClusterClient is [ClusterClient] for explicit addresses.
func NewClusterClient(addrs []string) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: 2 * time.Second, PoolSize: 64})
}

var seq atomic.Int64

// NewPrefix returns a key prefix unique to this process and call.
func NewPrefix() string {
	return fmt.Sprintf("ivtest-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
}

// Prefix returns a fresh key prefix whose keys are deleted from client's
// servers when the test ends.
func Prefix(t testing.TB, client redis.UniversalClient) string {
	t.Helper()
	p := NewPrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := EachKey(ctx, client, p, func(c redis.Cmdable, key string) error { return c.Del(ctx, key).Err() }); err != nil {
			t.Errorf("redistest: deleting the keys of prefix %s: %v", p, err)
		}
	})
	return p
}

// EachKey calls fn with every key of prefix (the store's keys start with
// prefix, "{"+prefix+":" or, for a store scoped to a client ID,
// "{"+prefix+"@"), on every master of a Cluster, found with SCAN. fn gets
// the client of the node holding the key; calls to fn never overlap.
func EachKey(ctx context.Context, client redis.UniversalClient, prefix string, fn func(c redis.Cmdable, key string) error) error {
	var mu sync.Mutex
	scan := func(ctx context.Context, c *redis.Client) error {
		for _, match := range []string{"{" + prefix + ":*", "{" + prefix + "@*", prefix + ":*"} {
			iter := c.Scan(ctx, 0, match, 500).Iterator()
			for iter.Next(ctx) {
				mu.Lock()
				err := fn(c, iter.Val())
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		return nil
	}
	switch c := client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, scan)
	case *redis.Client:
		return scan(ctx, c)
	default:
		return fmt.Errorf("redistest: EachKey: unsupported client %T", client)
	}
}
