// Package backendtest holds the parts of the backends' own tests that are
// the same for every backend, around the checks of each backend's raw
// layout: several apps sharing one table, corrupt history entries.
package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

// tag names store i's items: "appA", "appB", ...
func tag(i int) string { return "app" + string(rune('A'+i)) }

// SeedApps writes through each store i (two app-scoped ones and an
// unscoped one, over one table, database or file) the same tenants T1 and T2 (user U1,
// tokens tagged with tag(i), the bot due at now+(i+1) minutes), the nonce
// "state-1" and the lease "refresh:T1" held by tag(i).
func SeedApps(t *testing.T, stores []installstore.FullStore, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for i, s := range stores {
		for _, team := range []string{"T1", "T2"} {
			inst := storetest.Fixture("", team, "U1", tag(i))
			inst.Bot.ExpiresAt = now.Add(time.Duration(i+1) * time.Minute)
			require.NoError(t, s.StoreInstallation(ctx, inst))
		}
		require.NoError(t, s.PutNonce(ctx, "state-1", now.Add(time.Hour)))
		require.NoError(t, s.AcquireLease(ctx, "refresh:T1", tag(i), time.Minute))
	}
}

// CheckAppsSeparated checks that each store SeedApps wrote through fetches, lists,
// lists as due, lists history of and leases its own items only, and that
// the first store's uninstall, nonce consumption and lease release touch its
// own only.
func CheckAppsSeparated(t *testing.T, stores []installstore.FullStore, now time.Time) {
	t.Helper()
	ctx := context.Background()
	t1 := installstore.Query{TeamID: "T1"}
	for i, s := range stores {
		got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
		require.Contains(t, got.Bot.Token.Reveal(), tag(i))
		n := 0
		require.NoError(t, s.ListInstallations(ctx, func(_ installstore.Query, inst *installstore.Installation) error {
			require.Contains(t, inst.Bot.Token.Reveal(), tag(i))
			n++
			return nil
		}))
		require.Equal(t, 4, n, tag(i))
		due := 0
		require.NoError(t, s.ListDue(ctx, now.Add(time.Hour), func(_ installstore.Query, at time.Time) error {
			require.Equal(t, now.Add(time.Duration(i+1)*time.Minute).UnixNano(), at.UnixNano(), "%s lists its own due time", tag(i))
			due++
			return nil
		}))
		require.Equal(t, 2, due, tag(i))
		hs := storetest.History(t, s, t1)
		require.Len(t, hs, 1, tag(i))
		require.Contains(t, hs[0].Bot.Token.Reveal(), tag(i))
		require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld, tag(i))
	}

	a := stores[0]
	require.NoError(t, a.DeleteInstallation(ctx, t1))
	require.NoError(t, a.ConsumeNonce(ctx, "state-1"))
	require.NoError(t, a.ReleaseLease(ctx, "refresh:T1", tag(0)))
	_, err := a.FetchInstallation(ctx, t1)
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.Empty(t, storetest.History(t, a, t1))
	for i, s := range stores[1:] {
		_, err := s.FetchInstallation(ctx, t1)
		require.NoError(t, err, tag(i+1))
		require.Len(t, storetest.History(t, s, t1), 1, tag(i+1))
		require.NoError(t, s.ConsumeNonce(ctx, "state-1"), tag(i+1))
		require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld, tag(i+1))
	}
}

// Sealed returns an encryption layer over s, with a fixed local test key:
// for running storetest.RunApps through crypto on a backend.
func Sealed(t *testing.T, s installstore.FullStore) installstore.FullStore {
	t.Helper()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	require.NoError(t, err)
	sealed, err := crypto.NewStore(s, keys)
	require.NoError(t, err)
	return sealed
}
