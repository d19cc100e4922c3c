package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/sqlite"
)

// Expired nonces are swept by later puts, so the table stays bounded by
// the nonces alive; and the file keeps only their hashes.
func TestExpiredNoncesAreSwept(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s, path := open(t, sqlite.WithClock(func() time.Time { return now }))
	for i := range 1000 {
		require.NoError(t, s.PutNonce(ctx, fmt.Sprintf("old-%d", i), now.Add(time.Second)))
	}
	now = now.Add(2 * time.Second)
	for i := range 512 {
		require.NoError(t, s.PutNonce(ctx, fmt.Sprintf("new-%d", i), now.Add(time.Hour)))
	}
	require.Equal(t, 512, rawCount(t, path, "SELECT count(*) FROM nonces"), "the expired ones are gone")
	require.ErrorIs(t, s.ConsumeNonce(ctx, "old-1"), installstore.ErrNotFound)
	require.NoError(t, s.ConsumeNonce(ctx, "new-1"))
	require.Equal(t, 0, rawCount(t, path, "SELECT count(*) FROM nonces WHERE length(hash) != 32"), "only SHA-256 hashes are kept")
}

// An expired nonce is refused at its expiry, whether or not it was swept,
// and may be put again.
func TestNonceExpiryIsExact(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s, _ := open(t, sqlite.WithClock(func() time.Time { return now }))
	require.NoError(t, s.PutNonce(ctx, "n", now.Add(time.Minute)))
	now = now.Add(time.Minute - time.Nanosecond)
	require.ErrorIs(t, s.PutNonce(ctx, "n", now.Add(time.Minute)), installstore.ErrConflict, "alive until its expiry")
	now = now.Add(time.Nanosecond)
	require.NoError(t, s.PutNonce(ctx, "n", now.Add(time.Minute)), "expired: put again")
	now = now.Add(time.Minute)
	require.ErrorIs(t, s.ConsumeNonce(ctx, "n"), installstore.ErrNotFound, "expired at exactly its expiry")
	require.ErrorIs(t, s.ConsumeNonce(ctx, "n"), installstore.ErrNotFound)
}

// Leases expire by the store's clock; the owner extends its own.
func TestLeaseExpiryByTheStoresClock(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "lease.db")
	clock := func() time.Time { return now }
	a := openAt(t, path, sqlite.WithClock(clock))
	b := openAt(t, path, sqlite.WithClock(clock)) // another process's store, on the same file
	require.NoError(t, a.AcquireLease(ctx, "l", "a", time.Minute))
	now = now.Add(59 * time.Second)
	require.ErrorIs(t, b.AcquireLease(ctx, "l", "b", time.Minute), installstore.ErrLeaseHeld)
	require.NoError(t, a.AcquireLease(ctx, "l", "a", time.Minute), "extended to now+1m")
	now = now.Add(59 * time.Second)
	require.ErrorIs(t, b.AcquireLease(ctx, "l", "b", time.Minute), installstore.ErrLeaseHeld)
	now = now.Add(time.Second)
	require.NoError(t, b.AcquireLease(ctx, "l", "b", time.Minute), "expired: taken over")
	require.NoError(t, a.ReleaseLease(ctx, "l", "a"), "a no longer holds it: a no-op")
	require.ErrorIs(t, a.AcquireLease(ctx, "l", "a", time.Minute), installstore.ErrLeaseHeld)
}
