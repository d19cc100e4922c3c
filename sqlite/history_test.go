package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/backendtest"
	"github.com/installvault/installvault/sqlite"
)

// TestHistoryOffWritesNothing: without WithHistory both methods give
// ErrHistoryOff (which is ErrInvalid) and stores write no entry.
func TestHistoryOffWritesNothing(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, sqlite.WithPlaintextSecrets())
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	err := s.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error { return nil })
	require.ErrorIs(t, err, installstore.ErrHistoryOff)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorIs(t, s.PutHistory(ctx, storetest.Fixture("", "T1", "U1", "a")), installstore.ErrHistoryOff)
	require.Zero(t, rawCount(t, path, "SELECT count(*) FROM history"))
}

// TestFailedStoreWritesNoHistory: the record and its entry are one
// transaction. When writing the entry fails, no record is written (a
// re-install leaves the previous one); when writing a record fails, no
// entry is.
func TestFailedStoreWritesNoHistory(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, sqlite.WithPlaintextSecrets(), sqlite.WithHistory())
	before := storetest.Fixture("", "T1", "U1", "before")
	require.NoError(t, s.StoreInstallation(ctx, before.Clone()))
	for table, triggers := range map[string][]string{
		"history": {`CREATE TRIGGER fault BEFORE INSERT ON history BEGIN SELECT RAISE(ABORT, 'injected fault'); END`},
		"users": {`CREATE TRIGGER fault BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
			`CREATE TRIGGER fault2 BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'injected fault'); END`},
	} {
		rawExec(t, path, triggers...)
		later := storetest.Fixture("", "T1", "U1", "later")
		later.InstalledAt = later.InstalledAt.Add(time.Hour)
		require.Error(t, s.StoreInstallation(ctx, later), table)
		require.Error(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "fresh")), table)
		rawExec(t, path, "DROP TRIGGER fault", "DROP TRIGGER IF EXISTS fault2")

		got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
		storetest.Equal(t, before, got, "a failed re-install leaves the record (%s)", table)
		hs := storetest.History(t, s, installstore.Query{TeamID: "T1"})
		require.Len(t, hs, 1, "and no entry (%s)", table)
		storetest.Equal(t, before, hs[0])
		_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
		require.ErrorIs(t, err, installstore.ErrNotFound, "a failed first install leaves no record (%s)", table)
		require.Empty(t, storetest.History(t, s, installstore.Query{TeamID: "T2"}), "and no entry (%s)", table)
	}
}

// TestCorruptHistoryEntriesAreSkippedAndNamed: entries that do not decode,
// or that name another user or install time than their key, are skipped;
// the listing goes on and reports each (tenant and user, never content).
func TestCorruptHistoryEntriesAreSkippedAndNamed(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, sqlite.WithPlaintextSecrets(), sqlite.WithHistory())
	backendtest.SeedHistoryUsers(t, s)
	rawExec(t, path,
		`UPDATE history SET rec = '[1, 2' WHERE user_id = 'U2'`,
		`UPDATE history SET user = json_set(user, '$.id', 'U9') WHERE user_id = 'U3'`,
		`UPDATE history SET installed_ns = installed_ns + 1 WHERE user_id = 'U4'`)
	backendtest.CheckCorruptHistorySkipped(t, s)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.Zero(t, rawCount(t, path, "SELECT count(*) FROM history"), "deletes work whatever the entries hold")
}

// TestHistoryPagesInOrder: a history longer than a page (entries sharing
// an install time, told apart by user; install times a nanosecond apart,
// across a second) lists whole, newest first then by user.
func TestHistoryPagesInOrder(t *testing.T) {
	ctx := context.Background()
	s := newPlain(t, sqlite.WithHistory())
	base := time.Date(2026, 5, 1, 10, 0, 0, 999_999_900, time.UTC)
	var want []string
	const times = 150 // two users each: more than a page of 256
	for i := range times {
		at := base.Add(time.Duration(times-1-i) * time.Nanosecond)
		for _, u := range []string{"U1", "U2"} {
			inst := storetest.Fixture("", "T1", u, fmt.Sprint("n", i))
			inst.InstalledAt = at
			require.NoError(t, s.PutHistory(ctx, inst))
			want = append(want, fmt.Sprintf("%s %d", u, at.UnixNano()))
		}
	}
	var got []string
	require.NoError(t, s.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(inst *installstore.Installation) error {
		got = append(got, fmt.Sprintf("%s %d", inst.User.ID, inst.InstalledAt.UnixNano()))
		return nil
	}))
	require.Equal(t, want, got)
	require.Len(t, storetest.History(t, s, installstore.Query{TeamID: "T1", UserID: "U2"}), times)
}
