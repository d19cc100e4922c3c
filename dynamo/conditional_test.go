package dynamo_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

// A re-install that lands while a conditional uninstall is under way is
// never touched: before the commit step the delete gives ErrConflict and
// deletes nothing; after it, the sweep leaves the re-install's items alone.
func TestConditionalDeleteRacesReinstall(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		at       string // the request before which the re-install lands
		conflict bool
	}{
		{"before the tombstone", "UpdateItem", true},
		{"during the sweep", "DeleteItem", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fp, s, check, direct, table := faultyStores(t)
			require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "old")))
			require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "old")))
			seen, err := check.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
			require.NoError(t, err)

			var once sync.Once
			fp.setHook(func(op string) {
				if op == c.at {
					once.Do(func() {
						require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "new")))
					})
				}
			})
			err = s.DeleteInstallationIf(ctx, installstore.Query{TeamID: "T1"}, seen.Version)
			fp.setHook(nil)
			got, ferr := check.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
			require.NoError(t, ferr, "the re-install is whole")
			require.Equal(t, installstore.NewSecret("xoxb-test-T1-new"), got.Bot.Token)
			require.Equal(t, installstore.NewSecret("xoxp-test-T1-U1-new"), got.User.Token)
			u2, u2err := check.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"})
			if c.conflict {
				require.ErrorIs(t, err, installstore.ErrConflict)
				require.NoError(t, u2err, "nothing deleted")
				require.Equal(t, installstore.NewSecret("xoxp-test-T1-U2-old"), u2.User.Token)
				require.Len(t, snapshot(t, direct, table), 3)
			} else {
				require.NoError(t, err, "the delete committed before the re-install")
				require.ErrorIs(t, u2err, installstore.ErrNotFound, "the earlier life's user is gone")
				require.Len(t, snapshot(t, direct, table), 2, "the re-install's LATEST and USER#U1 items, nothing else")
			}
		})
	}
}

// A conditional user delete under a moved version deletes nothing.
func TestConditionalUserDeleteRacesUpdate(t *testing.T) {
	ctx := context.Background()
	fp, s, check, direct, table := faultyStores(t)
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	seen, err := check.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	before := snapshot(t, direct, table)
	var once sync.Once
	fp.setHook(func(op string) {
		if op == "TransactWriteItems" {
			once.Do(func() {
				refreshed := seen.Clone()
				refreshed.User.Token = installstore.NewSecret("xoxp-test-refreshed")
				require.NoError(t, check.UpdateInstallation(ctx, refreshed))
			})
		}
	})
	err = s.DeleteInstallationIf(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}, seen.Version)
	fp.setHook(nil)
	require.ErrorIs(t, err, installstore.ErrConflict)
	got, err := check.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxp-test-refreshed"), got.User.Token)
	require.Len(t, snapshot(t, direct, table), len(before))
}
