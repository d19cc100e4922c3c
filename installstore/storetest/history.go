package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// RunHistory checks [installstore.History] on a backend built with history
// on. newStore must return an empty store that no other subtest uses.
// Backends call it beside [Run]:
//
//	storetest.RunHistory(t, func(t *testing.T) installstore.FullStore { return memory.New(memory.WithHistory()) })
func RunHistory(t *testing.T, newStore func(t *testing.T) installstore.FullStore) {
	t.Helper()
	t.Run("StoresAddEntriesNewestFirst", func(t *testing.T) { testHistoryOrder(t, newStore(t)) })
	t.Run("SameInstallReplacesItsEntry", func(t *testing.T) { testHistoryReplace(t, newStore(t)) })
	t.Run("UpdatesAndBotRevocationsLeaveHistory", func(t *testing.T) { testHistoryUntouched(t, newStore(t)) })
	t.Run("UninstallPurges", func(t *testing.T) { testHistoryPurge(t, newStore(t)) })
	t.Run("GridMigrationKeepsStandaloneHistory", func(t *testing.T) { testHistoryGrid(t, newStore(t)) })
	t.Run("PutHistoryTouchesNoRecord", func(t *testing.T) { testPutHistory(t, newStore(t)) })
	t.Run("InvalidInput", func(t *testing.T) { testHistoryInvalid(t, newStore(t)) })
}

// History returns q's history entries, newest first, checking that every
// entry belongs to q's tenant (and user).
func History(t testing.TB, s installstore.History, query installstore.Query) []*installstore.Installation {
	t.Helper()
	var out []*installstore.Installation
	require.NoError(t, s.ListHistory(context.Background(), query, func(inst *installstore.Installation) error {
		out = append(out, inst)
		return nil
	}), "list history of %+v", query)
	for _, h := range out {
		require.Equal(t, query.Tenant(), h.Tenant(), "a history entry of another tenant")
		if query.UserID != "" {
			require.Equal(t, query.UserID, h.User.ID, "a history entry of another user")
		}
	}
	return out
}

// installedAts returns the entries' install times, for order assertions.
func installedAts(hs []*installstore.Installation) []time.Time {
	out := make([]time.Time, len(hs))
	for i, h := range hs {
		out[i] = h.InstalledAt.UTC().Round(0)
	}
	return out
}

func at(base time.Time, minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }

// testHistoryOrder: every install is kept as stored, newest first; a user's
// listing has that user's only; tenants never cross.
func testHistoryOrder(t *testing.T, s installstore.FullStore) {
	base := Fixture("", "T1", "U1", "a").InstalledAt
	first := Fixture("", "T1", "U1", "first")
	second := Fixture("", "T1", "U2", "second")
	second.InstalledAt = at(base, 10)
	second.Bot.InstalledAt = time.Time{}
	third := Fixture("", "T1", "U1", "third")
	third.InstalledAt = at(base, 20)
	third.Bot = nil // a user-scopes-only install carries no bot
	other := Fixture("", "T2", "U1", "other")
	for _, inst := range []*installstore.Installation{first, second, third, other} {
		mustStore(t, s, inst)
	}

	all := History(t, s, q("", "T1", ""))
	require.Len(t, all, 3)
	require.Equal(t, []time.Time{at(base, 20), at(base, 10), base}, installedAts(all), "newest first")
	Equal(t, third, all[0], "an entry is the installation as stored")
	require.Nil(t, all[0].Bot, "a user-only install's entry has no bot")
	Equal(t, second, all[1])
	require.True(t, all[1].Bot.InstalledAt.Equal(second.InstalledAt), "the entry's bot install time is set as the record's")
	Equal(t, first, all[2])
	require.Equal(t, first.Version, all[2].Version, "an entry keeps the Version its store set")

	u1 := History(t, s, q("", "T1", "U1"))
	require.Equal(t, []time.Time{at(base, 20), base}, installedAts(u1))
	require.Len(t, History(t, s, q("", "T1", "U3")), 0)
	require.Len(t, History(t, s, q("", "T9", "")), 0, "a tenant that never installed has no history")
	t2 := History(t, s, q("", "T2", ""))
	require.Len(t, t2, 1)
	Equal(t, other, t2[0])

	// The first error fn returns stops the listing.
	stop := errors.New("stop")
	n := 0
	err := s.ListHistory(context.Background(), q("", "T1", ""), func(*installstore.Installation) error { n++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)

	// Entries are copies.
	all[0].User.Token = installstore.NewSecret("xoxp-test-mutated")
	Equal(t, third, History(t, s, q("", "T1", ""))[0], "mutating a listed entry changes nothing stored")
}

// testHistoryReplace: storing the same installation (same user, same
// install time) again replaces its entry.
func testHistoryReplace(t *testing.T, s installstore.FullStore) {
	inst := Fixture("", "T1", "U1", "a")
	mustStore(t, s, inst.Clone())
	again := Fixture("", "T1", "U1", "b")
	mustStore(t, s, again)
	hs := History(t, s, q("", "T1", ""))
	require.Len(t, hs, 1, "the same install stored twice is one entry")
	Equal(t, again, hs[0], "the later store replaces the entry")

	later := Fixture("", "T1", "U1", "c")
	later.InstalledAt = at(inst.InstalledAt, 1)
	mustStore(t, s, later)
	require.Len(t, History(t, s, q("", "T1", "U1")), 2, "a re-install at a new time adds an entry")
}

// testHistoryUntouched: refreshes and bot revocations change records, not
// history.
func testHistoryUntouched(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	inst := Fixture("", "T1", "U1", "a")
	mustStore(t, s, inst.Clone())
	cur := mustFetch(t, s, q("", "T1", "U1"))
	cur.Bot.Token = installstore.NewSecret("xoxb-test-T1-refreshed")
	cur.User.Token = installstore.NewSecret("xoxp-test-T1-U1-refreshed")
	require.NoError(t, s.UpdateInstallation(ctx, cur))
	require.NoError(t, s.DeleteBot(ctx, q("", "T1", "")))
	hs := History(t, s, q("", "T1", ""))
	require.Len(t, hs, 1)
	Equal(t, inst, hs[0], "an update or a bot revocation leaves history as it was")
}

// testHistoryPurge: an uninstall deletes the tenant's history, a user
// delete that user's, a conditional delete only when it deletes.
func testHistoryPurge(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	for _, tenant := range []string{"T1", "T2"} {
		mustStore(t, s, Fixture("", tenant, "U1", "a"))
		u2 := Fixture("", tenant, "U2", "b")
		u2.InstalledAt = at(u2.InstalledAt, 5)
		mustStore(t, s, u2)
	}
	org := OrgFixture("E1", "U1", "org")
	mustStore(t, s, org)

	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "U1")))
	hs := History(t, s, q("", "T1", ""))
	require.Len(t, hs, 1, "a user delete deletes that user's entries")
	require.Equal(t, "U2", hs[0].User.ID)

	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "")))
	require.Empty(t, History(t, s, q("", "T1", "")), "an uninstall purges the tenant's history")
	require.Len(t, History(t, s, q("", "T2", "")), 2, "another tenant's history stays")

	cur := mustFetch(t, s, q("", "T2", ""))
	err := s.DeleteInstallationIf(ctx, q("", "T2", ""), cur.Version-1)
	require.ErrorIs(t, err, installstore.ErrConflict)
	require.Len(t, History(t, s, q("", "T2", "")), 2, "a conditional delete that loses deletes no history")
	require.NoError(t, s.DeleteInstallationIf(ctx, q("", "T2", ""), cur.Version))
	require.Empty(t, History(t, s, q("", "T2", "")), "a conditional uninstall purges history")

	oq := orgQ("E1", "")
	require.Len(t, History(t, s, oq), 1)
	require.NoError(t, s.DeleteInstallation(ctx, oq))
	require.Empty(t, History(t, s, oq), "an org-wide uninstall purges the organization's history")
}

// testHistoryGrid: an install under the enterprise removes the standalone
// record but keeps its history; an uninstall under either form purges both.
func testHistoryGrid(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	standalone := Fixture("", "T5", "U1", "before")
	mustStore(t, s, standalone)
	joined := Fixture("E1", "T5", "U1", "after")
	joined.InstalledAt = at(joined.InstalledAt, 60)
	mustStore(t, s, joined)

	old := History(t, s, q("", "T5", ""))
	require.Len(t, old, 1, "the Grid migration keeps the standalone record's history")
	Equal(t, standalone, old[0])
	cur := History(t, s, q("E1", "T5", ""))
	require.Len(t, cur, 1, "history is addressed exactly: no fallback")
	Equal(t, joined, cur[0])

	require.NoError(t, s.DeleteInstallation(ctx, q("E1", "T5", "")))
	require.Empty(t, History(t, s, q("E1", "T5", "")))
	require.Empty(t, History(t, s, q("", "T5", "")), "an uninstall naming the enterprise purges the standalone history too")
}

// testPutHistory: PutHistory writes an entry and nothing else.
func testPutHistory(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	entry := Fixture("", "T7", "U1", "restored")
	entry.Version = 42
	require.NoError(t, s.PutHistory(ctx, entry.Clone()))
	requireNotFound(t, s, q("", "T7", ""))
	hs := History(t, s, q("", "T7", ""))
	require.Len(t, hs, 1)
	Equal(t, entry, hs[0])

	replaced := Fixture("", "T7", "U1", "replaced")
	require.NoError(t, s.PutHistory(ctx, replaced.Clone()))
	hs = History(t, s, q("", "T7", ""))
	require.Len(t, hs, 1, "PutHistory replaces the entry of the same key")
	Equal(t, replaced, hs[0])

	mustStore(t, s, Fixture("", "T8", "U1", "live"))
	older := Fixture("", "T8", "U1", "older")
	older.InstalledAt = at(older.InstalledAt, -60)
	require.NoError(t, s.PutHistory(ctx, older))
	Equal(t, Fixture("", "T8", "U1", "live"), mustFetch(t, s, q("", "T8", "")), "PutHistory leaves the records alone")
	require.Len(t, History(t, s, q("", "T8", "")), 2)
}

// testHistoryInvalid: bad input is refused and writes nothing.
func testHistoryInvalid(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	noTime := Fixture("", "T1", "U1", "a")
	noTime.InstalledAt = time.Time{}
	require.ErrorIs(t, s.PutHistory(ctx, noTime), installstore.ErrInvalid, "an entry needs its install time")
	noTenant := Fixture("", "", "U1", "a")
	require.ErrorIs(t, s.PutHistory(ctx, noTenant), installstore.ErrInvalid)
	require.ErrorIs(t, s.ListHistory(ctx, installstore.Query{}, func(*installstore.Installation) error { return nil }), installstore.ErrInvalid)
	require.Empty(t, History(t, s, q("", "T1", "")))
}
