package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/installvault/installvault/installstore"
)

// updateUserSQL replaces user $2's record, and the tenant's latest record
// when that user installed last, and the bot when $8; only while the
// tenant's version is $12 and the user's row exists. The version check
// runs on the locked row (PostgreSQL re-checks it after a concurrent
// writer commits), and every change to a tenant's users moves its version,
// so a concurrent delete makes this update change nothing.
const updateUserSQL = `
WITH t AS (
	UPDATE installvault_tenants AS t SET
		version = nextval('installvault_version_seq'),
		record = CASE WHEN t.user_id = $2::text THEN $3::jsonb ELSE t.record END,
		user_token = CASE WHEN t.user_id = $2::text THEN $4::text ELSE t.user_token END,
		user_refresh_token = CASE WHEN t.user_id = $2::text THEN $5::text ELSE t.user_refresh_token END,
		webhook_url = CASE WHEN t.user_id = $2::text THEN $6::text ELSE t.webhook_url END,
		user_due = CASE WHEN t.user_id = $2::text THEN $7::bigint ELSE t.user_due END,
		bot = CASE WHEN $8::boolean THEN $9::jsonb ELSE t.bot END,
		bot_token = CASE WHEN $8::boolean THEN $10::text ELSE t.bot_token END,
		bot_refresh_token = CASE WHEN $8::boolean THEN $11::text ELSE t.bot_refresh_token END,
		bot_due = CASE WHEN $8::boolean THEN $13::bigint ELSE t.bot_due END,
		updated_at = now()
	WHERE t.tenant = $1::text AND t.version = $12::bigint
		AND EXISTS (SELECT 1 FROM installvault_users WHERE tenant = $1::text AND user_id = $2::text)
	RETURNING t.version
), u AS (
	UPDATE installvault_users SET record = $3::jsonb, user_token = $4::text, user_refresh_token = $5::text, webhook_url = $6::text, due = $7::bigint, updated_at = now()
	WHERE tenant = $1::text AND user_id = $2::text AND EXISTS (SELECT 1 FROM t)
)
SELECT version FROM t`

// updateLatestSQL replaces the latest record of a tenant whose latest
// installation has no user, under the same version condition.
const updateLatestSQL = `
UPDATE installvault_tenants AS t SET
	version = nextval('installvault_version_seq'),
	record = $3::jsonb, user_token = $4::text, user_refresh_token = $5::text, webhook_url = $6::text, user_due = $7::bigint,
	bot = CASE WHEN $8::boolean THEN $9::jsonb ELSE t.bot END,
	bot_token = CASE WHEN $8::boolean THEN $10::text ELSE t.bot_token END,
	bot_refresh_token = CASE WHEN $8::boolean THEN $11::text ELSE t.bot_refresh_token END,
	bot_due = CASE WHEN $8::boolean THEN $13::bigint ELSE t.bot_due END,
	updated_at = now()
WHERE t.tenant = $1::text AND t.version = $12::bigint AND t.user_id = '' AND $2::text = ''
RETURNING t.version`

// explainSQL tells why a conditional write changed nothing.
const explainSQL = `
SELECT t.version, t.user_id, EXISTS (SELECT 1 FROM installvault_users u WHERE u.tenant = t.tenant AND u.user_id = $2)
FROM installvault_tenants t WHERE t.tenant = $1`

// UpdateInstallation implements [installstore.Updater]: one conditional
// statement on the tenant's version. It never re-creates a deleted tenant
// or user ([installstore.ErrNotFound]); a tenant deleted and re-installed
// has a larger version, so an update read before the uninstall gives
// [installstore.ErrConflict].
func (s *Store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	q := inst.Query()
	t := q.Tenant()
	if err := s.checkSecrets("update", inst); err != nil {
		return err
	}
	subj := "update tenant " + t.String()
	if err := ctx.Err(); err != nil {
		return wrapErr(ctx, subj, err)
	}
	rec, bot, err := encodeInstallation(subj, inst)
	if err != nil {
		return err
	}
	sql := updateLatestSQL
	if q.UserID != "" {
		sql = updateUserSQL
	}
	var version int64
	var updated bool
	err = s.run(ctx, subj, func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, sql, s.key(t), q.UserID, rec.record, rec.token, rec.refreshToken, rec.hookURL, rec.due,
			bot.present, bot.bot, bot.token, bot.refreshToken, inst.Version, bot.due).Scan(&version)
		updated = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if !updated {
		return s.explainUpdate(ctx, q, inst.Version)
	}
	inst.Version = version
	return nil
}

// explainUpdate returns the error of an update that changed nothing.
func (s *Store) explainUpdate(ctx context.Context, q installstore.Query, expected int64) error {
	t := q.Tenant()
	subj := "update tenant " + t.String()
	var (
		stored   int64
		latest   string
		hasUser  bool
		notExist bool
	)
	err := s.run(ctx, subj, func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, explainSQL, s.key(t), q.UserID).Scan(&stored, &latest, &hasUser)
		notExist = errors.Is(err, pgx.ErrNoRows)
		if notExist {
			return nil
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case notExist:
		return notFound("update", q)
	case stored != expected:
		return fail(subj, installstore.ErrConflict, "stored version %d, expected %d", stored, expected)
	case q.UserID != "" && !hasUser:
		return notFound("update", q)
	case q.UserID == "" && latest != "":
		return fail(subj, installstore.ErrConflict, "the latest installation belongs to a user; update it with that User.ID")
	default:
		// The state moved between the update and this read.
		return fail(subj, installstore.ErrConflict, "the tenant changed during the update")
	}
}
