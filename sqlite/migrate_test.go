package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

// TestOpenUpgradesThePreviousRelease: a file the previous release created
// and filled (schema version 1) is upgraded at Open, once; its records,
// users, due times, version counter, nonces and leases read as before, a
// scoped store sees none of them, and the rebuilt tables keep their
// foreign key.
func TestOpenUpgradesThePreviousRelease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	due := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	rec := `{"team":"T%d","at":"2026-01-02T03:04:05.123456789Z"}`
	user := `{"id":"U1","tok":"xoxp-test-old%d"}`
	bot := `{"id":"B1","tok":"xoxb-test-old%[1]d","rtok":"xoxe-test-old%[1]d","exp":"2026-01-02T15:00:00Z"}`
	stmts := []string{sqlite.MigrationV1, "PRAGMA user_version = 1", "UPDATE counter SET version = 7"}
	for i := 1; i <= 2; i++ {
		stmts = append(stmts,
			fmt.Sprintf(`INSERT INTO tenants (enterprise_id, team_id, version, rec, user_id, user, user_token, user_due, bot, bot_due)
VALUES ('', 'T%d', %d, '%s', 'U1', '%s', 1, NULL, '%s', %d)`, i, i+5, fmt.Sprintf(rec, i), fmt.Sprintf(user, i), fmt.Sprintf(bot, i), due.UnixNano()),
			fmt.Sprintf(`INSERT INTO users (enterprise_id, team_id, user_id, rec, user, user_token, due) VALUES ('', 'T%d', 'U1', '%s', '%s', 1, NULL)`,
				i, fmt.Sprintf(rec, i), fmt.Sprintf(user, i)))
	}
	stmts = append(stmts,
		fmt.Sprintf(`INSERT INTO leases (name, owner, expires_ns) VALUES ('refresh:T1', 'replica-1', %d)`, time.Now().Add(time.Hour).UnixNano()))
	rawExec(t, path, stmts...)

	s := openAt(t, path, sqlite.WithPlaintextSecrets(), sqlite.WithHistory())
	require.Equal(t, sqlite.SchemaVersion, rawCount(t, path, "PRAGMA user_version"))
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err, "a row of the previous release reads")
	require.Equal(t, "xoxp-test-old1", got.User.Token.Reveal())
	require.Equal(t, "xoxb-test-old1", got.Bot.Token.Reveal())
	require.Equal(t, int64(6), got.Version)
	require.Equal(t, 123456789, got.InstalledAt.Nanosecond())
	n := 0
	require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { n++; return nil }))
	require.Equal(t, 4, n)
	dueN := 0
	require.NoError(t, s.ListDue(ctx, due.Add(time.Minute), func(installstore.Query, time.Time) error { dueN++; return nil }))
	require.Equal(t, 2, dueN, "the due index was rebuilt")
	require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "replica-2", time.Minute), installstore.ErrLeaseHeld, "the lease is still held")

	inst := storetest.Fixture("", "T3", "U1", "new")
	require.NoError(t, s.StoreInstallation(ctx, inst))
	require.Greater(t, inst.Version, int64(7), "the version counter carried over")
	require.Len(t, storetest.History(t, s, installstore.Query{TeamID: "T3"}), 1)

	scoped := openAt(t, path, sqlite.WithPlaintextSecrets(), sqlite.WithClientID("1111.2222"))
	_, err = scoped.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "a scoped store does not see the unscoped rows")
	require.NoError(t, scoped.AcquireLease(ctx, "refresh:T1", "replica-2", time.Minute), "nor their leases")

	// The foreign key survived the rebuild, retargeted to the new tenants
	// table, with app in it.
	require.Equal(t, "tenants", rawString(t, path, `SELECT "table" FROM pragma_foreign_key_list('users') LIMIT 1`))
	require.Equal(t, 3, rawCount(t, path, `SELECT count(*) FROM pragma_foreign_key_list('users')`))
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.Zero(t, rawCount(t, path, "SELECT count(*) FROM users WHERE team_id = 'T1'"))
	require.NoError(t, s.Close())
	require.Zero(t, rawCount(t, path, "SELECT count(*) FROM pragma_foreign_key_check"))
	require.Equal(t, "ok", rawString(t, path, "PRAGMA integrity_check"))

	// Opening again changes nothing.
	again := openAt(t, path, sqlite.WithPlaintextSecrets())
	got, err = again.FetchInstallation(ctx, installstore.Query{TeamID: "T2", UserID: "U1"})
	require.NoError(t, err)
	require.Equal(t, "xoxp-test-old2", got.User.Token.Reveal())
	require.Equal(t, sqlite.SchemaVersion, rawCount(t, path, "PRAGMA user_version"))
}

// Processes opening a version 1 file at once: one upgrades it, in one
// transaction; the others wait for it and find it done.
func TestConcurrentOpensUpgradeOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	rawExec(t, path, sqlite.MigrationV1, "PRAGMA user_version = 1",
		`INSERT INTO tenants (enterprise_id, team_id, version, rec, user_id, user, user_token) VALUES ('', 'T1', 1, '{"team":"T1"}', 'U1', '{"id":"U1","tok":"xoxp-test-old"}', 1)`,
		`INSERT INTO users (enterprise_id, team_id, user_id, rec, user, user_token) VALUES ('', 'T1', 'U1', '{"team":"T1"}', '{"id":"U1","tok":"xoxp-test-old"}', 1)`)
	errs := make(chan error, 6)
	for range 6 {
		go func() {
			s, err := sqlite.Open(context.Background(), path, sqlite.WithPlaintextSecrets())
			if err == nil {
				_, err = s.FetchInstallation(context.Background(), installstore.Query{TeamID: "T1", UserID: "U1"})
				_ = s.Close()
			}
			errs <- err
		}()
	}
	for range 6 {
		require.NoError(t, <-errs)
	}
	require.Equal(t, sqlite.SchemaVersion, rawCount(t, path, "PRAGMA user_version"))
	require.Equal(t, 1, rawCount(t, path, "SELECT count(*) FROM users"))
}
