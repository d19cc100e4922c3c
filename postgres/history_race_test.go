package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// TestUninstallRacingReinstallLeavesNoStrayHistory: an uninstall (of the
// tenant, or of the installing user) racing a re-install ends in one of
// the two orders, whole: either nothing of the tenant's (or user's) is
// left, or the re-install's record and its entry alone. An entry never
// outlives the uninstall that should have purged it, and a stored record
// never lacks its entry.
func TestUninstallRacingReinstallLeavesNoStrayHistory(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithHistory())
	base := storetest.Fixture("", "T1", "U1", "a").InstalledAt
	orders := map[string]int{}
	for i := range 150 {
		byUser := i%2 == 1
		first := storetest.Fixture("", "T1", "U1", "first")
		first.Bot = nil // a user-only install: a user delete empties the tenant
		first.InstalledAt = base.Add(time.Duration(2*i) * time.Second)
		require.NoError(t, s.StoreInstallation(ctx, first))
		again := first.Clone()
		again.InstalledAt = base.Add(time.Duration(2*i+1) * time.Second)
		del := q("", "T1", "")
		if byUser {
			del.UserID = "U1"
		}
		var wg sync.WaitGroup
		var storeErr, delErr error
		wg.Go(func() { storeErr = s.StoreInstallation(ctx, again) })
		wg.Go(func() { delErr = s.DeleteInstallation(ctx, del) })
		wg.Wait()
		require.NoError(t, storeErr)
		require.NoError(t, delErr)

		hs := storetest.History(t, s, q("", "T1", ""))
		got, err := s.FetchInstallation(ctx, q("", "T1", "U1"))
		switch {
		case errors.Is(err, installstore.ErrNotFound):
			require.Empty(t, hs, "round %d: the uninstall came last, yet history is left", i)
			orders["reinstall, then uninstall"]++
		case err == nil:
			require.True(t, got.InstalledAt.Equal(again.InstalledAt), "round %d", i)
			require.Len(t, hs, 1, "round %d: the re-install came last: its entry alone", i)
			require.True(t, hs[0].InstalledAt.Equal(again.InstalledAt), "round %d", i)
			orders["uninstall, then reinstall"]++
		default:
			require.NoError(t, err)
		}
		require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "")))
	}
	t.Logf("orders seen: %v", orders)
}
