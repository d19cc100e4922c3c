package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) installstore.FullStore { return memory.New() })
}

func TestClockDrivesNonceAndLeaseExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(memory.WithClock(func() time.Time { return now }))

	require.NoError(t, s.PutNonce(ctx, "n", now.Add(time.Minute)))
	now = now.Add(time.Minute) // expiry is exclusive
	require.ErrorIs(t, s.ConsumeNonce(ctx, "n"), installstore.ErrNotFound)

	require.NoError(t, s.AcquireLease(ctx, "l", "a", time.Minute))
	now = now.Add(59 * time.Second)
	require.ErrorIs(t, s.AcquireLease(ctx, "l", "b", time.Minute), installstore.ErrLeaseHeld)
	now = now.Add(time.Second)
	require.NoError(t, s.AcquireLease(ctx, "l", "b", time.Minute))

	inst := storetest.Fixture("", "T1", "U1", "a")
	inst.InstalledAt = time.Time{}
	require.NoError(t, s.StoreInstallation(ctx, inst))
	require.Equal(t, now, inst.InstalledAt)
}

func TestNoncesAreSwept(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(memory.WithClock(func() time.Time { return now }))
	for i := range 1024 {
		require.NoError(t, s.PutNonce(ctx, fmt.Sprintf("old-%d", i), now.Add(time.Second)))
	}
	now = now.Add(time.Hour)
	for i := range 1024 {
		require.NoError(t, s.PutNonce(ctx, fmt.Sprintf("new-%d", i), now.Add(time.Second)))
	}
	require.ErrorIs(t, s.ConsumeNonce(ctx, "old-5"), installstore.ErrNotFound)
	require.NoError(t, s.ConsumeNonce(ctx, "new-5"))
	require.Less(t, s.NonceCount(), 1100, "expired nonces must be swept")
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := memory.New()
	require.ErrorIs(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")), context.Canceled)
	_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, s.Len())
}

// BenchmarkFetch fetches from n installations, two ways: "hot" draws every
// query from the same 1 000 tenants (a constant working set, as when a
// thousand workspaces are active), "uniform" from all n. Hot shows the
// lookup itself does not grow with n (one map lookup, O(1)); uniform adds
// what a CPU pays when the data outgrows its caches and TLB, which levels off
// (compare 100 000 and 1 000 000).
func BenchmarkFetch(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		s := fill(b, n)
		for _, pattern := range []string{"hot", "uniform"} {
			b.Run(fmt.Sprintf("installations=%d/%s", n, pattern), func(b *testing.B) {
				ctx := context.Background()
				r := rand.New(rand.NewPCG(1, 2))
				hot := make([]int, 1_000)
				for i := range hot {
					hot[i] = r.IntN(n)
				}
				queries := make([]installstore.Query, 1<<16)
				for i := range queries {
					t := r.IntN(n)
					if pattern == "hot" {
						t = hot[r.IntN(len(hot))]
					}
					queries[i] = installstore.Query{TeamID: team(t)}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if _, err := s.FetchInstallation(ctx, queries[i%len(queries)]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMemoryPerInstallation reports the heap each stored installation
// (a fully populated storetest.Fixture: bot, user token, webhook) costs at
// 1 000 000 installations.
func BenchmarkMemoryPerInstallation(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := fill(b, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/installation")
		runtime.KeepAlive(s)
	}
}

func team(i int) string { return fmt.Sprintf("T%07d", i) }

func fill(b *testing.B, n int) *memory.Store {
	b.Helper()
	ctx := context.Background()
	s := memory.New()
	for i := range n {
		if err := s.StoreInstallation(ctx, storetest.Fixture("", team(i), "U1", "a")); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func Example() {
	ctx := context.Background()
	s := memory.New()
	_ = s.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0001",
		Bot:    &installstore.Bot{ID: "B0001", Token: installstore.NewSecret("xoxb-test-example")},
		User:   installstore.User{ID: "U0001"},
	})
	inst, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T0001"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(inst.TeamID, inst.Bot.ID, inst.Bot.Token) // the token prints redacted

	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T0002"})
	fmt.Println(err)
	// Output:
	// T0001 B0001 [REDACTED]
	// memory: fetch tenant T0002: not found
}
