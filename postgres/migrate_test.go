package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// prevStoreSQL is the previous release's (schema version 1) StoreInstallation
// statement, verbatim: replicas not yet upgraded keep sending it during a
// rolling upgrade.
const prevStoreSQL = `
WITH superseded AS (
	DELETE FROM installvault_tenants WHERE tenant = $13::text
), t AS (
	INSERT INTO installvault_tenants AS t (tenant, version, user_id, record, user_token, user_refresh_token, webhook_url, user_due,
		bot, bot_token, bot_refresh_token, bot_due)
	VALUES ($1::text, nextval('installvault_version_seq'), $2::text, $3::jsonb, $4::text, $5::text, $6::text, $7::bigint, $8::jsonb, $9::text, $10::text, $11::bigint)
	ON CONFLICT (tenant) DO UPDATE SET
		version = EXCLUDED.version, user_id = EXCLUDED.user_id, record = EXCLUDED.record,
		user_token = EXCLUDED.user_token, user_refresh_token = EXCLUDED.user_refresh_token,
		webhook_url = EXCLUDED.webhook_url, user_due = EXCLUDED.user_due,
		bot = CASE WHEN $12::boolean THEN EXCLUDED.bot ELSE t.bot END,
		bot_token = CASE WHEN $12::boolean THEN EXCLUDED.bot_token ELSE t.bot_token END,
		bot_refresh_token = CASE WHEN $12::boolean THEN EXCLUDED.bot_refresh_token ELSE t.bot_refresh_token END,
		bot_due = CASE WHEN $12::boolean THEN EXCLUDED.bot_due ELSE t.bot_due END,
		updated_at = now()
	RETURNING version
), u AS (
	INSERT INTO installvault_users AS u (tenant, user_id, record, user_token, user_refresh_token, webhook_url, due)
	SELECT $1::text, $2::text, $3::jsonb, $4::text, $5::text, $6::text, $7::bigint WHERE $2::text <> ''
	ON CONFLICT (tenant, user_id) DO UPDATE SET
		record = EXCLUDED.record, user_token = EXCLUDED.user_token, user_refresh_token = EXCLUDED.user_refresh_token,
		webhook_url = EXCLUDED.webhook_url, due = EXCLUDED.due, updated_at = now()
)
SELECT version FROM t`

// prevStore stores a workspace's installation as the previous release did.
func prevStore(t *testing.T, exec func(sql string, args ...any) error, team, user, tag string) {
	t.Helper()
	record := `{"team": "` + team + `", "at": "2026-01-02T03:04:05.123456789Z", "user": {"id": "` + user + `"}}`
	bot := `{"id": "B1", "at": "2026-01-02T03:04:05.123456789Z"}`
	require.NoError(t, exec(prevStoreSQL, ":"+team, user, record, "xoxp-test-"+tag, nil, nil, nil,
		bot, "xoxb-test-"+tag, "xoxe-test-"+tag, time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC).UnixNano(), true, nil))
}

// TestMigrateUpgradesThePreviousRelease: a schema created and filled by the
// previous release (version 1) is reported as missing version 2, upgraded
// in place (twice: idempotent), and then its rows read as before, its due
// records are listed, a scoped store sees none of them, and the previous
// release's own store statement still works beside the new release.
func TestMigrateUpgradesThePreviousRelease(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewSchemaUnmigrated(t))
	_, err := pool.Exec(ctx, postgres.MigrationV1+`;
CREATE TABLE installvault_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
INSERT INTO installvault_schema_migrations (version) VALUES (1)`)
	require.NoError(t, err)
	exec := func(sql string, args ...any) error { _, err := pool.Exec(ctx, sql, args...); return err }
	prevStore(t, exec, "T1", "U1", "old1")
	prevStore(t, exec, "T2", "U2", "old2")

	err = postgres.CheckSchema(ctx, pool)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.Contains(t, err.Error(), "version 1, need 2")
	require.Contains(t, err.Error(), "installvault_history", "it says what is missing")
	require.Contains(t, err.Error(), "run postgres.Migrate")

	require.NoError(t, postgres.Migrate(ctx, pool))
	require.NoError(t, postgres.Migrate(ctx, pool))
	require.NoError(t, postgres.CheckSchema(ctx, pool))

	s, err := postgres.New(pool, postgres.WithPlaintextSecrets(), postgres.WithHistory())
	require.NoError(t, err)
	got, err := s.FetchInstallation(ctx, q("", "T1", "U1"))
	require.NoError(t, err, "a row of the previous release reads")
	require.Equal(t, "xoxp-test-old1", got.User.Token.Reveal())
	require.Equal(t, "xoxb-test-old1", got.Bot.Token.Reveal())
	require.Equal(t, 123456789, got.InstalledAt.Nanosecond())
	n := 0
	require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { n++; return nil }))
	require.Equal(t, 4, n, "two tenants' latest and user records")
	due := map[installstore.Query]time.Time{}
	require.NoError(t, s.ListDue(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), func(q installstore.Query, at time.Time) error { due[q] = at; return nil }))
	require.Len(t, due, 2, "the previous release's due records are in the new index")

	scoped, err := postgres.New(pool, postgres.WithPlaintextSecrets(), postgres.WithClientID("1111.2222"))
	require.NoError(t, err)
	_, err = scoped.FetchInstallation(ctx, q("", "T1", "U1"))
	require.ErrorIs(t, err, installstore.ErrNotFound, "a scoped store does not see the unscoped rows")

	// The previous release, still running on another replica, stores and
	// re-stores beside the new one; the new release reads what it wrote.
	prevStore(t, exec, "T3", "U3", "old3")
	prevStore(t, exec, "T1", "U1", "old1b")
	got, err = s.FetchInstallation(ctx, q("", "T3", "U3"))
	require.NoError(t, err)
	require.Equal(t, "xoxp-test-old3", got.User.Token.Reveal())
	got, err = s.FetchInstallation(ctx, q("", "T1", ""))
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-old1b", got.Bot.Token.Reveal())
	inst := storetest.Fixture("", "T3", "U3", "new")
	require.NoError(t, s.StoreInstallation(ctx, inst))
	var app string
	require.NoError(t, pool.QueryRow(ctx, `SELECT app FROM installvault_tenants WHERE tenant = ':T3'`).Scan(&app))
	require.Empty(t, app, "an unscoped store's rows keep the previous layout")
	require.Len(t, storetest.History(t, s, q("", "T3", "")), 1)
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T3", "")))
	require.Empty(t, storetest.History(t, s, q("", "T3", "")))
}
