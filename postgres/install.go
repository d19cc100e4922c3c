package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/installvault/installvault/installstore"
)

// storeSQL writes a tenant's latest record, its bot (kept when $12 is
// false), a new version from the sequence, and the user's record when $2
// names a user; and deletes the standalone tenant $13 superseded by a Grid
// migration (NULL: none). $14 is the store's client ID (empty: unscoped). One
// statement: all of it or nothing.
const storeSQL = `
WITH superseded AS (
	DELETE FROM installvault_tenants WHERE tenant = $13::text
), t AS (
	INSERT INTO installvault_tenants AS t (tenant, app, version, user_id, record, user_token, user_refresh_token, webhook_url, user_due,
		bot, bot_token, bot_refresh_token, bot_due)
	VALUES ($1::text, $14::text, nextval('installvault_version_seq'), $2::text, $3::jsonb, $4::text, $5::text, $6::text, $7::bigint, $8::jsonb, $9::text, $10::text, $11::bigint)
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
	INSERT INTO installvault_users AS u (tenant, app, user_id, record, user_token, user_refresh_token, webhook_url, due)
	SELECT $1::text, $14::text, $2::text, $3::jsonb, $4::text, $5::text, $6::text, $7::bigint WHERE $2::text <> ''
	ON CONFLICT (tenant, user_id) DO UPDATE SET
		record = EXCLUDED.record, user_token = EXCLUDED.user_token, user_refresh_token = EXCLUDED.user_refresh_token,
		webhook_url = EXCLUDED.webhook_url, due = EXCLUDED.due, updated_at = now()
)`

// storeReturnSQL ends storeSQL.
const storeReturnSQL = `
SELECT version FROM t`

// storeHistorySQL is storeSQL with the history entry of the installation
// ($15, $16: InstalledAt in Unix seconds and nanoseconds), as stored: the
// new version, the record's columns, and the bot it carried ($8..$10,
// NULL when none). Same key again replaces the entry.
const storeHistorySQL = storeSQL + `, h AS (
	INSERT INTO installvault_history AS h (tenant, installed_s, installed_ns, user_id, version, record, user_token, user_refresh_token, webhook_url,
		bot, bot_token, bot_refresh_token)
	SELECT $1::text, $15::bigint, $16::integer, $2::text, t.version, $3::jsonb, $4::text, $5::text, $6::text, $8::jsonb, $9::text, $10::text FROM t
	ON CONFLICT (tenant, installed_s, installed_ns, user_id) DO UPDATE SET` + historyUpdateSet + `
)` + storeReturnSQL

// historyUpdateSet replaces a history entry's content with EXCLUDED's.
const historyUpdateSet = `
		version = EXCLUDED.version, record = EXCLUDED.record, user_token = EXCLUDED.user_token,
		user_refresh_token = EXCLUDED.user_refresh_token, webhook_url = EXCLUDED.webhook_url,
		bot = EXCLUDED.bot, bot_token = EXCLUDED.bot_token, bot_refresh_token = EXCLUDED.bot_refresh_token,
		written_at = now()`

// StoreInstallation implements [installstore.Store]: one statement (one
// round trip, one transaction) writes the tenant's row with a new version
// from the sequence installvault_version_seq, the user's row, the history
// entry ([WithHistory]), and removes the standalone row of a workspace
// that joined an organization (its history stays).
func (s *Store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	t := inst.Tenant()
	if err := s.checkSecrets("store", inst); err != nil {
		return err
	}
	subj := "store tenant " + t.String()
	if err := ctx.Err(); err != nil {
		return wrapErr(ctx, subj, err)
	}
	if inst.InstalledAt.IsZero() {
		inst.InstalledAt = s.now()
	}
	if inst.Bot != nil && inst.Bot.InstalledAt.IsZero() {
		inst.Bot.InstalledAt = inst.InstalledAt
	}
	rec, bot, err := encodeInstallation(subj, inst)
	if err != nil {
		return err
	}
	var superseded any
	if std, ok := migrated(t); ok {
		superseded = s.key(std)
	}
	sql := storeSQL + storeReturnSQL
	args := []any{s.key(t), rec.userID, rec.record, rec.token, rec.refreshToken, rec.hookURL, rec.due,
		bot.bot, bot.token, bot.refreshToken, bot.due, bot.present, superseded, s.app}
	if s.history {
		sql = storeHistorySQL
		args = append(args, inst.InstalledAt.Unix(), inst.InstalledAt.Nanosecond())
	}
	var version int64
	err = s.run(ctx, subj, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, sql, args...).Scan(&version)
	})
	if err != nil {
		return err
	}
	inst.Version = version
	return nil
}

// Reading: the first existing tenant of $1 (in order: the tenant, then
// the fallbacks), and with fetchUserSQL the row of user $2 of it, in one
// statement: a snapshot that never pairs a user's record with a Version it
// was not current under.
const (
	fetchLatestSQL = `
SELECT tenant, version, user_id, record, user_token, user_refresh_token, webhook_url, bot, bot_token, bot_refresh_token
FROM installvault_tenants WHERE tenant = ANY($1::text[])
ORDER BY array_position($1::text[], tenant) LIMIT 1`
	fetchUserSQL = `
SELECT t.tenant, t.version, u.user_id, u.record, u.user_token, u.user_refresh_token, u.webhook_url, t.bot, t.bot_token, t.bot_refresh_token
FROM installvault_tenants t LEFT JOIN installvault_users u ON u.tenant = t.tenant AND u.user_id = $2
WHERE t.tenant = ANY($1::text[])
ORDER BY array_position($1::text[], t.tenant) LIMIT 1`
)

// candidates returns the tenant keys a query reads, in order: the tenant;
// for a workspace of an enterprise, its standalone record (a Grid
// migration) and the org-wide install.
func (s *Store) candidates(q installstore.Query) []string {
	t := q.Tenant()
	keys := []string{s.key(t)}
	if std, ok := migrated(t); ok {
		keys = append(keys, s.key(std), s.key(installstore.Tenant{EnterpriseID: t.EnterpriseID}))
	}
	return keys
}

// FetchInstallation implements [installstore.Store]: one statement, with
// the fallbacks of the contract resolved by the database in the same
// snapshot.
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	subj := subject("fetch", q)
	if err := ctx.Err(); err != nil {
		return nil, wrapErr(ctx, subj, err)
	}
	var (
		key     string
		version int64
		uid     *string
		rec     recordRow
		bot     botRow
		found   bool
	)
	err := s.run(ctx, subj, func(ctx context.Context) error {
		var row pgx.Row
		if q.UserID == "" {
			row = s.pool.QueryRow(ctx, fetchLatestSQL, s.candidates(q))
		} else {
			row = s.pool.QueryRow(ctx, fetchUserSQL, s.candidates(q), q.UserID)
		}
		err := row.Scan(&key, &version, &uid, &rec.record, &rec.token, &rec.refreshToken, &rec.hookURL, &bot.bot, &bot.token, &bot.refreshToken)
		if errors.Is(err, pgx.ErrNoRows) {
			found = false
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found || uid == nil {
		return nil, notFound("fetch", q)
	}
	rec.userID = *uid
	t, ok := s.parseKey(key)
	if !ok {
		return nil, corrupt(subj, "column tenant: not a tenant key")
	}
	return assemble(subject("fetch", withUser(baseQuery(t), q.UserID)), t, version, rec, bot)
}

func withUser(q installstore.Query, uid string) installstore.Query {
	q.UserID = uid
	return q
}

// assemble decodes what a fetch or a listing returns: a record with its
// tenant's bot and version.
func assemble(subj string, t installstore.Tenant, version int64, rec recordRow, bot botRow) (*installstore.Installation, error) {
	inst, err := decodeRecord(subj, t, rec)
	if err != nil {
		return nil, err
	}
	if inst.Bot, err = decodeBot(subj, bot); err != nil {
		return nil, err
	}
	if version <= 0 {
		return nil, corrupt(subj, "column version: not positive")
	}
	inst.Version = version
	return inst, nil
}
