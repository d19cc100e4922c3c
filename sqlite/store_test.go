package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

func TestOpenRefusesBadArguments(t *testing.T) {
	ctx := context.Background()
	for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro", "x\x00.db"} {
		_, err := sqlite.Open(ctx, path)
		require.ErrorIs(t, err, installstore.ErrInvalid, "%q", path)
	}
	_, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db"), sqlite.WithClock(nil))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	for _, d := range []time.Duration{0, -time.Second, time.Microsecond} {
		_, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db"), sqlite.WithBusyTimeout(d))
		require.ErrorIs(t, err, installstore.ErrInvalid, d)
	}
	_, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "no-such-dir", "x.db"))
	require.Error(t, err, "a directory that does not exist")
}

func TestNewFilesAreTheOwnersOnly(t *testing.T) {
	s, path := open(t, sqlite.WithPlaintextSecrets())
	require.NoError(t, s.StoreInstallation(context.Background(), storetest.Fixture("", "T1", "U1", "a")))
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), filepath.Base(f))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	_, path := open(t)
	rawExec(t, path, fmt.Sprintf("PRAGMA user_version = %d", sqlite.SchemaVersion+1))
	_, err := sqlite.Open(context.Background(), path)
	require.ErrorContains(t, err, "newer than this package's")
}

// Goroutines opening one new file at once, each its own connections (as
// separate processes would): one creates the schema, all succeed.
func TestConcurrentOpenOfANewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	var wg sync.WaitGroup
	stores := make([]*sqlite.Store, 8)
	for i := range stores {
		wg.Go(func() {
			s, err := sqlite.Open(context.Background(), path, sqlite.WithPlaintextSecrets())
			if !assertNoError(t, err) {
				return
			}
			stores[i] = s
			assertNoError(t, s.StoreInstallation(context.Background(), &installstore.Installation{TeamID: fmt.Sprintf("T%d", i)}))
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			require.NoError(t, s.Close())
		}
	}
	require.Equal(t, len(stores), rawCount(t, path, "SELECT count(*) FROM tenants"))
	require.Equal(t, sqlite.SchemaVersion, rawCount(t, path, "PRAGMA user_version"))
	require.Equal(t, 1, rawCount(t, path, "SELECT count(*) FROM counter"))
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

// Closing and reopening the file (a restart) keeps installations, versions
// (never reused afterwards), the due index, nonces and leases.
func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "restart.db")
	s, err := sqlite.Open(ctx, path, sqlite.WithPlaintextSecrets(), sqlite.WithClock(clock))
	require.NoError(t, err)
	want := []*installstore.Installation{
		storetest.Fixture("", "T1", "U1", "a"), storetest.Fixture("", "T1", "U2", "b"),
		storetest.Fixture("E1", "T2", "U3", "c"), storetest.OrgFixture("E1", "U4", "d"),
	}
	for _, inst := range want {
		require.NoError(t, s.StoreInstallation(ctx, inst))
	}
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T2"}))
	require.NoError(t, s.StoreInstallation(ctx, want[2]))
	last := want[2].Version
	require.NoError(t, s.PutNonce(ctx, "nonce-restart", now.Add(time.Hour)))
	require.NoError(t, s.AcquireLease(ctx, "lease-restart", "owner-a", time.Hour))
	dueBefore := dueSet(t, s, now.AddDate(10, 0, 0))
	fetched := map[installstore.Query]*installstore.Installation{}
	for _, inst := range want {
		for _, q := range []installstore.Query{inst.Query(), latestQuery(inst)} {
			got, err := s.FetchInstallation(ctx, q)
			require.NoError(t, err)
			fetched[q] = got
		}
	}
	require.NoError(t, s.Close())

	s = openAt(t, path, sqlite.WithPlaintextSecrets(), sqlite.WithClock(clock))
	for q, before := range fetched {
		got, err := s.FetchInstallation(ctx, q)
		require.NoError(t, err)
		storetest.Equal(t, before, got)
		require.Equal(t, before.Version, got.Version)
	}
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, "U2", got.User.ID)
	require.Equal(t, "xoxb-test-T1-b", got.Bot.Token.Reveal())
	require.Equal(t, dueBefore, dueSet(t, s, now.AddDate(10, 0, 0)))
	require.ErrorIs(t, s.PutNonce(ctx, "nonce-restart", now.Add(time.Hour)), installstore.ErrConflict)
	require.NoError(t, s.ConsumeNonce(ctx, "nonce-restart"))
	require.ErrorIs(t, s.AcquireLease(ctx, "lease-restart", "owner-b", time.Hour), installstore.ErrLeaseHeld)
	again := storetest.Fixture("", "T9", "U1", "after")
	require.NoError(t, s.StoreInstallation(ctx, again))
	require.Greater(t, again.Version, last, "the version counter survives a restart")
}

func dueSet(t *testing.T, s installstore.DueLister, before time.Time) map[installstore.Query]time.Time {
	t.Helper()
	out := map[installstore.Query]time.Time{}
	require.NoError(t, s.ListDue(context.Background(), before, func(q installstore.Query, at time.Time) error {
		out[q] = at.UTC()
		return nil
	}))
	return out
}

// Listings read a page at a time and hold nothing while fn runs: fn may
// write to the store (here: delete every record it is handed, and store new
// ones), and every record present from start to end is listed exactly once.
func TestListingsPageAndLetFnWrite(t *testing.T) {
	ctx := context.Background()
	s := newPlain(t)
	const tenants = 700 // several pages of tenants and of users
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range tenants {
		inst := storetest.Fixture("", fmt.Sprintf("T%04d", i), "U1", "p")
		inst.Bot.ExpiresAt = exp.Add(time.Duration(i%3) * time.Second) // ties in due order across pages
		require.NoError(t, s.StoreInstallation(ctx, inst))
	}
	seen := map[installstore.Query]int{}
	added := 0
	err := s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		seen[q]++
		if q.UserID == "" {
			require.NoError(t, s.DeleteBot(ctx, q))
			if added < 50 {
				added++
				require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", fmt.Sprintf("TNEW%02d", added), "U1", "n")))
			}
		}
		return nil
	})
	require.NoError(t, err)
	for i := range tenants {
		team := fmt.Sprintf("T%04d", i)
		require.Equal(t, 1, seen[installstore.Query{TeamID: team}], team)
		require.Equal(t, 1, seen[installstore.Query{TeamID: team, UserID: "U1"}], team)
	}

	// The due index pages the same way: after the bots were revoked, the
	// users' tokens (due 2030) remain; fn may write.
	n := 0
	require.NoError(t, s.ListDue(ctx, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), func(q installstore.Query, _ time.Time) error {
		n++
		if q.UserID != "" && n%2 == 0 {
			require.NoError(t, s.DeleteInstallation(ctx, q))
		}
		return nil
	}))
	require.GreaterOrEqual(t, n, 2*tenants)
}

// A lock another process holds past the busy timeout is ErrUnavailable, and
// the failed write changed nothing.
func TestLockHeldPastBusyTimeoutIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, sqlite.WithPlaintextSecrets(), sqlite.WithBusyTimeout(50*time.Millisecond))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, s.PutNonce(ctx, "nonce-busy", time.Now().Add(time.Hour)))

	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)

	cur, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err, "readers never wait for the writer (WAL)")
	writes := map[string]func() error{
		"store": func() error { return s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "b")) },
		"update": func() error {
			c := cur.Clone()
			c.Bot.Token = installstore.NewSecret("xoxb-test-b")
			return s.UpdateInstallation(ctx, c)
		},
		"delete":  func() error { return s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}) },
		"consume": func() error { return s.ConsumeNonce(ctx, "nonce-busy") },
		"lease":   func() error { return s.AcquireLease(ctx, "lease-busy", "a", time.Minute) },
	}
	for name, write := range writes {
		err := write()
		require.ErrorIs(t, err, installstore.ErrUnavailable, name)
		require.NotContains(t, err.Error(), "xox", name)
	}
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)

	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, cur.Version, got.Version, "nothing changed")
	require.Equal(t, "xoxb-test-T1-a", got.Bot.Token.Reveal())
	require.NoError(t, s.ConsumeNonce(ctx, "nonce-busy"), "the nonce was not used up by the failed consume")
	for name, write := range writes {
		if name != "consume" && name != "update" {
			require.NoError(t, write(), name)
		}
	}
}

// Cancellation is the caller's, not a transient failure of the store.
func TestCanceledContextIsNotUnavailable(t *testing.T) {
	s := newPlain(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a"))
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.Is(err, installstore.ErrUnavailable))
	_, err = s.FetchInstallation(context.Background(), installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
}

func TestOperationsAfterCloseFail(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "closed.db"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.FetchInstallation(context.Background(), installstore.Query{TeamID: "T1"})
	require.Error(t, err)
	require.False(t, errors.Is(err, installstore.ErrNotFound))
}

// latestQuery is the query of inst's tenant's latest installation.
func latestQuery(inst *installstore.Installation) installstore.Query {
	q := inst.Query()
	q.UserID = ""
	return q
}
