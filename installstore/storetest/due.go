package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// dueRecords lists the due index up to before, as a map from record to due time.
func dueRecords(t *testing.T, s installstore.FullStore, before time.Time) map[installstore.Query]time.Time {
	t.Helper()
	got := make(map[installstore.Query]time.Time)
	require.NoError(t, s.ListDue(context.Background(), before, func(q installstore.Query, due time.Time) error {
		_, dup := got[q]
		require.False(t, dup, "record %+v listed twice", q)
		got[q] = due.UTC()
		return nil
	}))
	return got
}

// eventuallyDue polls the due index until it equals want: backends may
// index with a short lag (DynamoDB's global secondary indexes). It fails
// after 50 polls.
func eventuallyDue(t *testing.T, s installstore.FullStore, before time.Time, want map[installstore.Query]time.Time) {
	t.Helper()
	var got map[installstore.Query]time.Time
	for range 50 {
		if got = dueRecords(t, s, before); equalDue(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, want, got, "ListDue(%v)", before)
}

func equalDue(a, b map[installstore.Query]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.Equal(v) {
			return false
		}
	}
	return true
}

// rotating returns a fixture whose bot and user tokens rotate and expire at
// bot and user (zero: that token does not rotate).
func rotating(ent, team, user, tag string, bot, usr time.Time) *installstore.Installation {
	inst := Fixture(ent, team, user, tag)
	if team == "" {
		inst = OrgFixture(ent, user, tag)
		inst.User.RefreshToken = installstore.NewSecret("xoxe-1-test-user-" + ent + "-" + user + "-" + tag)
	}
	inst.Bot.ExpiresAt = bot
	if bot.IsZero() {
		inst.Bot.RefreshToken = installstore.Secret{}
	}
	inst.User.ExpiresAt = usr
	if usr.IsZero() {
		inst.User.RefreshToken = installstore.Secret{}
	}
	return inst
}

// testDue: the due index lists exactly the records holding a rotating token
// that expires by the bound, with that time, and follows every write.
func testDue(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	base := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }

	require.Empty(t, dueRecords(t, s, at(1000)), "an empty store has nothing due")

	mustStore(t, s, rotating("", "T1", "U1", "a", at(30), at(10))) // latest: min(bot, user) = 10; user U1: 10
	mustStore(t, s, rotating("", "T2", "U1", "a", at(20), time.Time{}))
	mustStore(t, s, rotating("", "T2", "U2", "a", time.Time{}, at(50))) // a new bot that does not rotate
	mustStore(t, s, rotating("E1", "", "U1", "org", at(40), time.Time{}))
	fixed := Fixture("", "T3", "U1", "fixed")
	fixed.Bot.RefreshToken, fixed.User.RefreshToken = installstore.Secret{}, installstore.Secret{} // nothing rotates: never indexed
	mustStore(t, s, fixed)
	org := installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true}

	// T2's second install replaced the bot with a non-rotating one: T2's
	// latest record is due by U2's user token only.
	want := map[installstore.Query]time.Time{
		q("", "T1", ""):   at(10),
		q("", "T1", "U1"): at(10),
		q("", "T2", ""):   at(50),
		q("", "T2", "U2"): at(50),
		org:               at(40),
	}
	eventuallyDue(t, s, at(1000), want)
	eventuallyDue(t, s, at(10), map[installstore.Query]time.Time{q("", "T1", ""): at(10), q("", "T1", "U1"): at(10)})
	eventuallyDue(t, s, at(9), map[installstore.Query]time.Time{})

	// A refresh (conditional update) moves the record out of the window.
	cur := mustFetch(t, s, q("", "T1", "U1"))
	cur.Bot.ExpiresAt, cur.User.ExpiresAt = at(300), at(200)
	require.NoError(t, s.UpdateInstallation(ctx, cur))
	delete(want, q("", "T1", ""))
	delete(want, q("", "T1", "U1"))
	want[q("", "T1", "")], want[q("", "T1", "U1")] = at(200), at(200)
	eventuallyDue(t, s, at(1000), want)
	eventuallyDue(t, s, at(100), map[installstore.Query]time.Time{q("", "T2", ""): at(50), q("", "T2", "U2"): at(50), org: at(40)})

	// Revoking the bot, deleting a user and uninstalling leave the index.
	require.NoError(t, s.DeleteBot(ctx, org))
	delete(want, org)
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T2", "U2")))
	delete(want, q("", "T2", "U2"))
	delete(want, q("", "T2", "")) // its latest record no longer holds a rotating token
	eventuallyDue(t, s, at(1000), want)
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "")))
	eventuallyDue(t, s, at(1000), map[installstore.Query]time.Time{})

	// The first error of fn stops the listing and is returned.
	mustStore(t, s, rotating("", "T5", "U1", "a", at(1), at(2)))
	mustStore(t, s, rotating("", "T6", "U1", "a", at(1), at(2)))
	eventuallyDue(t, s, at(1000), map[installstore.Query]time.Time{
		q("", "T5", ""): at(1), q("", "T5", "U1"): at(2), q("", "T6", ""): at(1), q("", "T6", "U1"): at(2),
	})
	stop := errors.New("stop")
	calls := 0
	err := s.ListDue(ctx, at(1000), func(installstore.Query, time.Time) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)

	// Every listed query fetches the record it names.
	var listed []installstore.Query
	require.NoError(t, s.ListDue(ctx, at(1000), func(q installstore.Query, _ time.Time) error {
		listed = append(listed, q)
		return nil
	}))
	slices.SortFunc(listed, func(a, b installstore.Query) int {
		if a.TeamID+a.UserID < b.TeamID+b.UserID {
			return -1
		}
		return 1
	})
	for _, lq := range listed {
		got := mustFetch(t, s, lq)
		require.Equal(t, lq.TeamID, got.TeamID)
		if lq.UserID != "" {
			require.Equal(t, lq.UserID, got.User.ID)
		}
	}
}
