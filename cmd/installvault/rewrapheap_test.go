package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/liveheap"
	"github.com/installvault/installvault/memory"
)

// TestRewrapHeap measures how much Go heap crypto.Rewrap (what 'installvault
// rewrap' runs) holds beyond the store's own, over the memory backend so that
// no server's speed is in the figure: the peak of HeapInuse sampled during
// the run, less HeapInuse before it (after a GC), and the live heap
// sampled between Rewrap's writes (after a GC), at the number of tenants
// in INSTALLVAULT_REWRAP_HEAP_TENANTS (each with a latest and one user
// record). Bounded memory means the same figure at 10 000 and 100 000:
//
//	INSTALLVAULT_REWRAP_HEAP_TENANTS=10000 go test -run TestRewrapHeap -v ./cmd/installvault
//	INSTALLVAULT_REWRAP_HEAP_TENANTS=100000 go test -run TestRewrapHeap -v ./cmd/installvault
func TestRewrapHeap(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("INSTALLVAULT_REWRAP_HEAP_TENANTS"))
	if n <= 0 {
		t.Skip("set INSTALLVAULT_REWRAP_HEAP_TENANTS=<tenants> to measure rewrap's heap")
	}
	ctx := context.Background()
	oldKey, newKey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)
	before, err := crypto.NewLocalKeyring(map[string][]byte{"old": oldKey}, "old")
	require.NoError(t, err)
	after, err := crypto.NewLocalKeyring(map[string][]byte{"old": oldKey, "new": newKey}, "new")
	require.NoError(t, err)
	backend := memory.New()
	seal, err := crypto.NewStore(backend, before)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, seal.StoreInstallation(ctx, storetest.Fixture("", fmt.Sprintf("T%07d", i), "U1", "s")))
	}
	watched := &liveheap.Updates{FullStore: backend, Every: max(1, n/5)}
	rotate, err := crypto.NewStore(watched, after)
	require.NoError(t, err)

	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	base, baseLive := m.HeapInuse, liveheap.Now()
	peak := watchHeap()
	start := time.Now()
	st, err := crypto.Rewrap(ctx, rotate)
	d := time.Since(start)
	top := peak()
	require.NoError(t, err)
	require.Equal(t, 2*n, st.Seen)
	require.Zero(t, st.Failed)
	topLive := slices.Max(append(watched.Samples, baseLive))
	runtime.GC()
	runtime.ReadMemStats(&m)
	t.Logf("rewrap of %d tenants (%d records) over memory: %v (%.0f records/s); store's heap before %.1f MiB; HeapInuse's peak beyond it %.1f MiB (%.0f B per tenant: garbage included); live heap beyond the store's, largest of %d samples taken between writes, %.1f MiB (%.0f B per tenant); after, %.1f MiB",
		n, 2*n, d.Round(time.Millisecond), float64(2*n)/d.Seconds(), float64(base)/(1<<20),
		float64(top-min(top, base))/(1<<20), float64(top-min(top, base))/float64(n),
		len(watched.Samples), float64(topLive-baseLive)/(1<<20), float64(topLive-baseLive)/float64(n), float64(m.HeapInuse)/(1<<20))
}
