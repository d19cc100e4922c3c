package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// RunApps checks that stores scoped to different Slack apps
// ([installstore.AppScoped], each backend's WithClientID option) and an
// unscoped store never see each other's items, though they share one table.
// newStore(t, clientID) returns a store for clientID ("" for an unscoped
// store); for one t, every call must return a store over the same table,
// database or keyspace, empty when the subtest starts.
func RunApps(t *testing.T, newStore func(t *testing.T, clientID string) installstore.FullStore) {
	t.Helper()
	t.Run("RecordsStayWithTheirApp", func(t *testing.T) { testAppsRecords(t, newStore) })
	t.Run("DeletesStayWithTheirApp", func(t *testing.T) { testAppsDeletes(t, newStore) })
	t.Run("NoncesLeasesAndHistoryStayWithTheirApp", func(t *testing.T) { testAppsNonces(t, newStore) })
}

// The apps of these tests: two scoped, one unscoped.
var appIDs = []string{"1111111111.2222222222", "3333333333.4444444444", ""}

func appStores(t *testing.T, newStore func(t *testing.T, clientID string) installstore.FullStore) []installstore.FullStore {
	t.Helper()
	out := make([]installstore.FullStore, len(appIDs))
	for i, id := range appIDs {
		out[i] = newStore(t, id)
		got := ""
		if a, ok := out[i].(installstore.AppScoped); ok {
			got = a.ClientID()
		}
		require.Equal(t, id, got, "the store's ClientID")
	}
	return out
}

func appTag(i int) string { return []string{"appA", "appB", "unscoped"}[i] }

// testAppsRecords: the same tenants in each app; each app fetches, lists and
// lists as due only its own.
func testAppsRecords(t *testing.T, newStore func(t *testing.T, clientID string) installstore.FullStore) {
	stores := appStores(t, newStore)
	base := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, s := range stores {
		mustStore(t, s, rotating("", "T1", "U1", appTag(i), at(base, 10+i), time.Time{}))
		mustStore(t, s, OrgFixture("E1", "U1", appTag(i)))
	}
	for i, s := range stores {
		tag := appTag(i)
		want := rotating("", "T1", "U1", tag, at(base, 10+i), time.Time{})
		Equal(t, want, mustFetch(t, s, q("", "T1", "")), "app %s reads its own record", tag)
		Equal(t, want, mustFetch(t, s, q("", "T1", "U1")), "app %s reads its own user record", tag)
		Equal(t, OrgFixture("E1", "U1", tag), mustFetch(t, s, q("E1", "T9", "")), "app %s falls back to its own org-wide install", tag)

		n := 0
		require.NoError(t, s.ListInstallations(context.Background(), func(q installstore.Query, inst *installstore.Installation) error {
			n++
			require.Contains(t, inst.User.Token.Reveal(), tag, "app %s lists another app's record %+v", tag, q)
			return nil
		}))
		require.Equal(t, 4, n, "app %s lists its own 4 records", tag)

		eventuallyDue(t, s, at(base, 100), map[installstore.Query]time.Time{q("", "T1", ""): at(base, 10+i)})
	}
	// The Grid migration of one app leaves the others' standalone records.
	mustStore(t, stores[0], Fixture("E2", "T1", "U1", "joined"))
	requireNotFound(t, stores[0], q("", "T1", ""))
	for i, s := range stores[1:] {
		require.Contains(t, mustFetch(t, s, q("", "T1", "")).User.Token.Reveal(), appTag(i+1))
	}
}

// testAppsDeletes: deletes, conditional deletes, bot revocations and
// updates of one app leave the others alone.
func testAppsDeletes(t *testing.T, newStore func(t *testing.T, clientID string) installstore.FullStore) {
	ctx := context.Background()
	stores := appStores(t, newStore)
	for i, s := range stores {
		mustStore(t, s, Fixture("", "T1", "U1", appTag(i)))
		mustStore(t, s, Fixture("", "T2", "U1", appTag(i)))
	}
	a, b, unscoped := stores[0], stores[1], stores[2]

	require.NoError(t, a.DeleteInstallation(ctx, q("", "T1", "")))
	requireNotFound(t, a, q("", "T1", ""))
	require.NoError(t, unscoped.DeleteBot(ctx, q("", "T2", "")))
	curB := mustFetch(t, b, q("", "T2", "U1"))
	require.NoError(t, b.DeleteInstallationIf(ctx, q("", "T2", ""), curB.Version))

	for i, s := range stores {
		tag := appTag(i)
		if i != 0 {
			require.Contains(t, mustFetch(t, s, q("", "T1", "")).Bot.Token.Reveal(), tag, "app %s keeps T1 after another app's uninstall", tag)
		}
		if i != 1 {
			got := mustFetch(t, s, q("", "T2", ""))
			if i == 2 {
				require.Nil(t, got.Bot, "the unscoped store revoked its own bot")
			} else {
				require.NotNil(t, got.Bot, "app %s keeps its bot after another app's revocation", tag)
				require.Contains(t, got.Bot.Token.Reveal(), tag)
			}
		}
	}
	requireNotFound(t, b, q("", "T2", ""))

	// An update of one app never lands in another's record, whatever the
	// versions say.
	curA := mustFetch(t, a, q("", "T2", "U1"))
	curA.User.Token = installstore.NewSecret("xoxp-test-appA-updated")
	require.NoError(t, a.UpdateInstallation(ctx, curA))
	require.Contains(t, mustFetch(t, unscoped, q("", "T2", "U1")).User.Token.Reveal(), "unscoped")
	requireNotFound(t, b, q("", "T2", "U1"))
	fromA := mustFetch(t, a, q("", "T2", "U1"))
	fromA.User.Token = installstore.NewSecret("xoxp-test-appA-into-B")
	err := b.UpdateInstallation(ctx, fromA)
	require.Error(t, err, "an update of a tenant app B does not have")
	require.True(t, errors.Is(err, installstore.ErrNotFound) || errors.Is(err, installstore.ErrConflict), "got %v", err)
	requireNotFound(t, b, q("", "T2", "U1"))
}

// testAppsNonces: nonces, leases and (when on) history are per app.
func testAppsNonces(t *testing.T, newStore func(t *testing.T, clientID string) installstore.FullStore) {
	ctx := context.Background()
	stores := appStores(t, newStore)
	exp := time.Now().Add(time.Hour)
	for i, s := range stores {
		require.NoError(t, s.PutNonce(ctx, "state-1", exp), "app %s puts a nonce another app put too", appTag(i))
		require.NoError(t, s.AcquireLease(ctx, "refresh:T1", appTag(i), time.Minute), "app %s takes a lease another app holds", appTag(i))
	}
	require.NoError(t, stores[0].ConsumeNonce(ctx, "state-1"))
	require.ErrorIs(t, stores[0].ConsumeNonce(ctx, "state-1"), installstore.ErrNotFound)
	for _, s := range stores[1:] {
		require.NoError(t, s.ConsumeNonce(ctx, "state-1"), "consuming one app's nonce leaves the others'")
	}
	require.ErrorIs(t, stores[0].AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld)
	require.NoError(t, stores[1].ReleaseLease(ctx, "refresh:T1", appTag(1)))
	require.ErrorIs(t, stores[2].AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld, "releasing one app's lease leaves the others'")

	for i, s := range stores {
		mustStore(t, s, Fixture("", "T1", "U1", appTag(i)))
	}
	for i, s := range stores {
		err := s.ListHistory(ctx, q("", "T1", ""), func(*installstore.Installation) error { return nil })
		if errors.Is(err, installstore.ErrHistoryOff) {
			continue
		}
		hs := History(t, s, q("", "T1", ""))
		require.Len(t, hs, 1, "app %s lists its own history only", appTag(i))
		require.Contains(t, hs[0].User.Token.Reveal(), appTag(i))
	}
	require.NoError(t, stores[0].DeleteInstallation(ctx, q("", "T1", "")))
	for i, s := range stores[1:] {
		err := s.ListHistory(ctx, q("", "T1", ""), func(*installstore.Installation) error { return nil })
		if errors.Is(err, installstore.ErrHistoryOff) {
			continue
		}
		require.Len(t, History(t, s, q("", "T1", "")), 1, "app %s keeps its history after another app's uninstall", appTag(i+1))
	}
}
