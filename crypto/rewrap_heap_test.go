package crypto_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/liveheap"
	"github.com/installvault/installvault/memory"
)

// TestRewrapHeapStaysFlat: over the memory backend, the live heap during a
// Rewrap is the same a quarter of the way through as at its end: neither
// Rewrap nor memory's listing keeps a record it went through (the listing
// used to keep every replaced record alive until it ended, about 600 B a
// record; measured at scale by cmd/installvault's TestRewrapHeap).
func TestRewrapHeapStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("rewraps 4 000 tenants")
	}
	const tenants = 4000 // a latest and a user record each
	backend := memory.New()
	seal := newStore(t, backend, keyring(t, "old", "old"))
	for i := range tenants {
		require.NoError(t, seal.StoreInstallation(bg, storetest.Fixture("", fmt.Sprintf("T%05d", i), "U1", "s")))
	}
	watched := &liveheap.Updates{FullStore: backend, Every: tenants / 4}
	st, err := crypto.Rewrap(bg, newStore(t, watched, keyring(t, "new", "old", "new")))
	require.NoError(t, err)
	require.Equal(t, 2*tenants, st.Seen)
	require.Equal(t, tenants, st.Rewrapped, "one write a tenant: its user record is its latest")
	n := len(watched.Samples) // an update a record, and one more for a user record listed after its tenant's rewrap (a conflict)
	require.GreaterOrEqual(t, n, 4)
	first, last := watched.Samples[0], watched.Samples[n-1]
	perUpdate := (float64(last) - float64(first)) / float64((n-1)*watched.Every)
	t.Logf("live heap over %d samples: %v B; %+.1f B an update from the first to the last", n, watched.Samples, perUpdate)
	require.Less(t, perUpdate, 100.0, "the live heap grows with the records rewrapped")
}
