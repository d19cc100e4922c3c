package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/backendtest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

func historyCount(t *testing.T, s *postgres.Store, query installstore.Query) int {
	t.Helper()
	return len(storetest.History(t, s, query))
}

// TestHistoryOffWritesNothing: without WithHistory both methods give
// ErrHistoryOff (which is ErrInvalid) and stores write no entry.
func TestHistoryOffWritesNothing(t *testing.T) {
	ctx := context.Background()
	s, pool := pgtest.Store(t, postgres.WithPlaintextSecrets())
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	err := s.ListHistory(ctx, q("", "T1", ""), func(*installstore.Installation) error { return nil })
	require.ErrorIs(t, err, installstore.ErrHistoryOff)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorIs(t, s.PutHistory(ctx, storetest.Fixture("", "T1", "U1", "a")), installstore.ErrHistoryOff)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM installvault_history`).Scan(&n))
	require.Zero(t, n)
}

// TestFailedStoreWritesNoHistory: the record and its history entry are one
// statement. When writing the entry fails, the record is not written (a
// re-install leaves the previous one); when writing a record fails, no
// entry is written.
func TestFailedStoreWritesNoHistory(t *testing.T) {
	ctx := context.Background()
	s, pool := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithHistory())
	before := storetest.Fixture("", "T1", "U1", "before")
	require.NoError(t, s.StoreInstallation(ctx, before.Clone()))

	for table, trigger := range map[string]string{
		"installvault_history": `CREATE TRIGGER fault BEFORE INSERT ON installvault_history FOR EACH ROW EXECUTE FUNCTION fault()`,
		"installvault_users":   `CREATE TRIGGER fault BEFORE INSERT OR UPDATE ON installvault_users FOR EACH ROW EXECUTE FUNCTION fault()`,
	} {
		_, err := pool.Exec(ctx, `CREATE OR REPLACE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$; `+trigger)
		require.NoError(t, err)
		later := storetest.Fixture("", "T1", "U1", "later")
		later.InstalledAt = later.InstalledAt.Add(time.Hour)
		fresh := storetest.Fixture("", "T2", "U1", "fresh")
		require.Error(t, s.StoreInstallation(ctx, later), table)
		require.Error(t, s.StoreInstallation(ctx, fresh), table)
		_, err = pool.Exec(ctx, `DROP TRIGGER fault ON `+table)
		require.NoError(t, err)

		storetest.Equal(t, before, mustFetchPG(t, s, q("", "T1", "U1")), "a failed re-install leaves the record (%s)", table)
		hs := storetest.History(t, s, q("", "T1", ""))
		require.Len(t, hs, 1, "and no entry (%s)", table)
		storetest.Equal(t, before, hs[0])
		_, err = s.FetchInstallation(ctx, q("", "T2", ""))
		require.ErrorIs(t, err, installstore.ErrNotFound, "a failed first install leaves no record (%s)", table)
		require.Zero(t, historyCount(t, s, q("", "T2", "")), "and no entry (%s)", table)
	}
}

func mustFetchPG(t *testing.T, s *postgres.Store, query installstore.Query) *installstore.Installation {
	t.Helper()
	got, err := s.FetchInstallation(context.Background(), query)
	require.NoError(t, err)
	return got
}

// TestCorruptHistoryEntriesAreSkippedAndNamed: entries that do not decode,
// or that name another user or install time than their key, are skipped;
// the listing goes on and reports each (tenant and user, never content).
func TestCorruptHistoryEntriesAreSkippedAndNamed(t *testing.T) {
	ctx := context.Background()
	s, pool := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithHistory(), postgres.WithListPageSize(2))
	backendtest.SeedHistoryUsers(t, s)
	for _, sql := range []string{
		`UPDATE installvault_history SET record = '[1, 2]' WHERE user_id = 'U2'`,
		`UPDATE installvault_history SET record = jsonb_set(record, '{user,id}', '"U9"') WHERE user_id = 'U3'`,
		`UPDATE installvault_history SET installed_ns = installed_ns + 1 WHERE user_id = 'U4'`,
	} {
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	backendtest.CheckCorruptHistorySkipped(t, s)

	// A user's listing skips that user's corrupt entry alone.
	err := s.ListHistory(ctx, q("", "T1", "U2"), func(*installstore.Installation) error { return nil })
	n, _ := installstore.CountSkipped(err, installstore.ErrCorrupt)
	require.Equal(t, 1, n)
	// Deletes work whatever the entries hold.
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "")))
	require.Zero(t, historyCount(t, s, q("", "T1", "")))
}

// TestHistoryPagesInOrder: a history of many pages (entries sharing an
// install time, told apart by user, and install times a nanosecond apart)
// lists whole, newest first then by user, and a user's part likewise.
func TestHistoryPagesInOrder(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithHistory(), postgres.WithListPageSize(3))
	base := time.Date(2026, 5, 1, 10, 0, 0, 999_999_998, time.UTC)
	var want []string
	for i := range 5 {
		at := base.Add(time.Duration(4-i) * time.Nanosecond) // crosses a second
		for _, u := range []string{"U1", "U2"} {
			inst := storetest.Fixture("", "T1", u, fmt.Sprint("n", i))
			inst.InstalledAt = at
			inst.Bot.InstalledAt = time.Time{}
			require.NoError(t, s.PutHistory(ctx, inst))
			want = append(want, fmt.Sprintf("%s %d", u, at.UnixNano()))
		}
	}
	var got []string
	require.NoError(t, s.ListHistory(ctx, q("", "T1", ""), func(inst *installstore.Installation) error {
		got = append(got, fmt.Sprintf("%s %d", inst.User.ID, inst.InstalledAt.UnixNano()))
		return nil
	}))
	require.Equal(t, want, got)
	require.Equal(t, 5, historyCount(t, s, q("", "T1", "U2")))
}
