package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/redisstore"
)

const benchTenants = 100

// counter is a go-redis hook counting round trips (a command, or a
// pipeline) and commands.
type counter struct{ trips, cmds atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(1)
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func (c *counter) reset() { c.trips.Store(0); c.cmds.Store(0) }

func (c *counter) report(b *testing.B) {
	b.ReportMetric(float64(c.trips.Load())/float64(b.N), "roundtrips/op")
	b.ReportMetric(float64(c.cmds.Load())/float64(b.N), "commands/op")
}

type benchStore struct {
	s       installstore.FullStore
	counter *counter // nil for memory
}

// benchStores returns the memory baseline and, on the standalone server and
// the Cluster, a plaintext store and crypto.NewStore over a sealed-only
// one, each holding benchTenants tenants with one user each.
func benchStores(b *testing.B) map[string]benchStore {
	b.Helper()
	stores := map[string]benchStore{"memory": {s: memory.New()}}
	for _, d := range deployments {
		for _, sealed := range []bool{false, true} {
			client := d.client(b)
			c := &counter{}
			client.AddHook(c)
			var s installstore.FullStore
			name := "redis-" + d.name
			if sealed {
				s, _ = newSealed(b, client)
				name = "crypto+" + name
			} else {
				s, _ = newPlain(b, client)
			}
			stores[name] = benchStore{s: s, counter: c}
		}
	}
	for _, bs := range stores {
		for i := range benchTenants {
			if err := bs.s.StoreInstallation(context.Background(), storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "bench")); err != nil {
				b.Fatal(err)
			}
		}
	}
	return stores
}

var benchOrder = []string{"memory", "redis-standalone", "crypto+redis-standalone", "redis-cluster", "crypto+redis-cluster"}

func benchEach(b *testing.B, op func(b *testing.B, s installstore.FullStore, i int)) {
	stores := benchStores(b)
	for _, name := range benchOrder {
		bs := stores[name]
		b.Run(name, func(b *testing.B) {
			if bs.counter != nil {
				bs.counter.reset()
			}
			i := 0
			for b.Loop() {
				op(b, bs.s, i)
				i++
			}
			if bs.counter != nil {
				bs.counter.report(b)
			}
		})
	}
}

func BenchmarkFetch(b *testing.B) {
	benchEach(b, func(b *testing.B, s installstore.FullStore, i int) {
		if _, err := s.FetchInstallation(context.Background(), installstore.Query{TeamID: fmt.Sprintf("T%d", i%benchTenants)}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkPing is the floor under every figure above: one round trip to
// the server (PING), on the same clients.
func BenchmarkPing(b *testing.B) {
	for _, d := range deployments {
		client := d.client(b)
		b.Run(d.name, func(b *testing.B) {
			for b.Loop() {
				if err := client.Ping(context.Background()).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFetchWithUser(b *testing.B) {
	benchEach(b, func(b *testing.B, s installstore.FullStore, i int) {
		if _, err := s.FetchInstallation(context.Background(), installstore.Query{TeamID: fmt.Sprintf("T%d", i%benchTenants), UserID: "U1"}); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkStore(b *testing.B) {
	benchEach(b, func(b *testing.B, s installstore.FullStore, i int) {
		if err := s.StoreInstallation(context.Background(), storetest.Fixture("", fmt.Sprintf("T%d", i%benchTenants), "U1", "again")); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkUpdate is a token refresh's write: a conditional update of the
// user's record and the bot, with the Version the previous update set.
func BenchmarkUpdate(b *testing.B) {
	stores := benchStores(b)
	ctx := context.Background()
	for _, name := range benchOrder {
		bs := stores[name]
		b.Run(name, func(b *testing.B) {
			cur := make([]*installstore.Installation, benchTenants)
			for i := range cur {
				var err error
				if cur[i], err = bs.s.FetchInstallation(ctx, installstore.Query{TeamID: fmt.Sprintf("T%d", i), UserID: "U1"}); err != nil {
					b.Fatal(err)
				}
			}
			if bs.counter != nil {
				bs.counter.reset()
			}
			i := 0
			for b.Loop() {
				inst := cur[i%benchTenants]
				inst.Bot.Token = installstore.NewSecret(fmt.Sprintf("xoxb-test-refreshed-%d", i))
				if err := bs.s.UpdateInstallation(ctx, inst); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if bs.counter != nil {
				bs.counter.report(b)
			}
		})
	}
}

// BenchmarkDueTick is what a background refresh tick asks the store: the
// records due within the refresh window, among 2 000 tenants whose bot
// tokens rotate, with 20 or none of them due.
func BenchmarkDueTick(b *testing.B) {
	const tenants = 2000
	ctx := context.Background()
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, d := range deployments {
		client := d.client(b)
		c := &counter{}
		client.AddHook(c)
		s, _ := newPlain(b, client)
		for i := range tenants {
			inst := storetest.Fixture("", fmt.Sprintf("TD%d", i), "U1", "due")
			inst.User.RefreshToken = installstore.Secret{}
			inst.Bot.ExpiresAt = now.Add(time.Duration(i+1) * time.Minute) // tenant i is due i+1 minutes from now
			if err := s.StoreInstallation(ctx, inst); err != nil {
				b.Fatal(err)
			}
		}
		for _, due := range []int{20, 0} {
			b.Run(fmt.Sprintf("%s/%d-of-%d-due", d.name, due, tenants), func(b *testing.B) {
				before := now.Add(time.Duration(due)*time.Minute + time.Second)
				c.reset()
				for b.Loop() {
					n := 0
					if err := s.ListDue(ctx, before, func(installstore.Query, time.Time) error { n++; return nil }); err != nil {
						b.Fatal(err)
					}
					if n != due {
						b.Fatalf("%d records due, want %d", n, due)
					}
				}
				c.report(b)
			})
		}
	}
}

// BenchmarkMemoryPerInstallation reports the Redis memory (MEMORY USAGE of
// every key, indexes included) per installation of 5 000 tenants with one
// user each, the suite's fully populated fixture, plaintext and sealed,
// with history off and on (one entry per installation).
func BenchmarkMemoryPerInstallation(b *testing.B) {
	const n = 5000
	ctx := context.Background()
	for _, mode := range []struct {
		name    string
		sealed  bool
		history bool
	}{{"plaintext", false, false}, {"crypto", true, false}, {"plaintext+history", false, true}, {"crypto+history", true, true}} {
		sealed := mode.sealed
		var opts []redisstore.Option
		if mode.history {
			opts = append(opts, redisstore.WithHistory())
		}
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				client := redistest.Client(b)
				var s installstore.FullStore
				var prefix string
				if sealed {
					s, prefix = newSealed(b, client, opts...)
				} else {
					s, prefix = newPlain(b, client, opts...)
				}
				for i := range n {
					if err := s.StoreInstallation(ctx, storetest.Fixture("", fmt.Sprintf("T%07d", i), "U1", "a")); err != nil {
						b.Fatal(err)
					}
				}
				var total int64
				if err := redistest.EachKey(ctx, client, prefix, func(c redis.Cmdable, key string) error {
					u, err := c.MemoryUsage(ctx, key, 0).Result()
					total += u
					return err
				}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(total)/n, "B/installation")
			}
		})
	}
}

// BenchmarkStoreHistory is the cost of history: StoreInstallation with
// history off, on with the same install stored again (its entry replaced),
// and on with a re-install at a new time each call (an entry added), on
// the standalone server and the Cluster; and ListHistory of a tenant with
// 100 entries.
func BenchmarkStoreHistory(b *testing.B) {
	ctx := context.Background()
	for _, d := range deployments {
		client := d.client(b)
		c := &counter{}
		client.AddHook(c)
		off, _ := newPlain(b, client)
		on, _ := newPlain(b, client, redisstore.WithHistory())
		for _, bc := range []struct {
			name string
			s    *redisstore.Store
			grow bool
		}{{"off", off, false}, {"on-replace", on, false}, {"on-add", on, true}} {
			b.Run(d.name+"/"+bc.name, func(b *testing.B) {
				c.reset()
				i := 0
				for b.Loop() {
					inst := storetest.Fixture("", fmt.Sprintf("T%d", i%benchTenants), "U1", "again")
					if bc.grow {
						inst.InstalledAt = inst.InstalledAt.Add(time.Duration(i) * time.Second)
					}
					if err := bc.s.StoreInstallation(ctx, inst); err != nil {
						b.Fatal(err)
					}
					i++
				}
				c.report(b)
			})
		}
		lister, _ := newPlain(b, client, redisstore.WithHistory())
		for i := range 100 {
			inst := storetest.Fixture("", "T1", fmt.Sprintf("U%d", i%5), "h")
			inst.InstalledAt = inst.InstalledAt.Add(time.Duration(i) * time.Minute)
			if err := lister.StoreInstallation(ctx, inst); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(d.name+"/list-100", func(b *testing.B) {
			c.reset()
			for b.Loop() {
				n := 0
				if err := lister.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error { n++; return nil }); err != nil || n != 100 {
					b.Fatal(n, err)
				}
			}
			c.report(b)
		})
	}
}
