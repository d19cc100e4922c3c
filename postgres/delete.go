package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/installvault/installvault/installstore"
)

// DeleteInstallation implements [installstore.Store], in one transaction.
// Without q.UserID it deletes the tenant's row (its users go with it, by
// the foreign key's ON DELETE CASCADE); with it, the user's row, the
// user's tokens from the latest record when that user installed last, and
// the whole tenant when neither a bot nor a user token is left. A
// workspace of an enterprise also deletes the same of its standalone
// record. Rows are deleted by key whatever they hold, so a corrupt record
// is deleted too.
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	return s.tx(ctx, subject("delete", q), func(ctx context.Context, tx pgx.Tx) error {
		return s.deleteIn(ctx, tx, q)
	})
}

// DeleteInstallationIf implements [installstore.ConditionalDeleter]: the
// tenant's row is locked and its version compared in the transaction that
// deletes.
func (s *Store) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	if err := q.Validate(); err != nil {
		return err
	}
	subj := subject("delete", q)
	return s.tx(ctx, subj, func(ctx context.Context, tx pgx.Tx) error {
		var stored int64
		err := tx.QueryRow(ctx, `SELECT version FROM installvault_tenants WHERE tenant = $1 FOR UPDATE`, s.key(q.Tenant())).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // gone already
		}
		if err != nil {
			return err
		}
		if stored != version {
			return fail(subj, installstore.ErrConflict, "stored version %d, expected %d", stored, version)
		}
		return s.deleteIn(ctx, tx, q)
	})
}

// deleteIn deletes what q names, and the same of the standalone record a
// workspace of an enterprise superseded, with their history. The history
// is deleted by a statement after the one that deleted or locked the
// tenant's row: a StoreInstallation that committed while this transaction
// waited for the row has its entry seen and deleted too (under READ
// COMMITTED each statement reads what committed before it started).
func (s *Store) deleteIn(ctx context.Context, tx pgx.Tx, q installstore.Query) error {
	t := q.Tenant()
	keys := []installstore.Tenant{t}
	if std, ok := migrated(t); ok {
		keys = append(keys, std)
	}
	for _, k := range keys {
		var err error
		if q.UserID == "" {
			if _, err = tx.Exec(ctx, `DELETE FROM installvault_tenants WHERE tenant = $1`, s.key(k)); err == nil {
				_, err = tx.Exec(ctx, `DELETE FROM installvault_history WHERE tenant = $1`, s.key(k))
			}
		} else {
			err = deleteUser(ctx, tx, s.key(k), q.UserID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteUser removes user uid's installation of the tenant of key, and the
// user's history entries. The tenant's row is locked first, as every writer
// of the tenant does, so that concurrent writers queue instead of
// deadlocking.
func deleteUser(ctx context.Context, tx pgx.Tx, key, uid string) error {
	var latest string
	err := tx.QueryRow(ctx, `SELECT user_id FROM installvault_tenants WHERE tenant = $1 FOR UPDATE`, key).Scan(&latest)
	if errors.Is(err, pgx.ErrNoRows) {
		// No record (never stored, deleted, or superseded by a Grid
		// migration); its history may remain.
		_, err = tx.Exec(ctx, `DELETE FROM installvault_history WHERE tenant = $1 AND user_id = $2`, key, uid)
		return err
	}
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `
WITH h AS (DELETE FROM installvault_history WHERE tenant = $1 AND user_id = $2)
DELETE FROM installvault_users WHERE tenant = $1 AND user_id = $2`, key, uid)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 && latest != uid {
		return nil // no such user: nothing changed
	}
	var keep bool
	err = tx.QueryRow(ctx, `
UPDATE installvault_tenants AS t SET
	version = nextval('installvault_version_seq'),
	record = CASE WHEN t.user_id = $2 AND jsonb_typeof(t.record) = 'object' THEN t.record - 'user' ELSE t.record END,
	user_token = CASE WHEN t.user_id = $2 THEN NULL ELSE t.user_token END,
	user_refresh_token = CASE WHEN t.user_id = $2 THEN NULL ELSE t.user_refresh_token END,
	user_due = CASE WHEN t.user_id = $2 THEN NULL ELSE t.user_due END,
	user_id = CASE WHEN t.user_id = $2 THEN '' ELSE t.user_id END,
	updated_at = now()
WHERE t.tenant = $1
RETURNING t.bot IS NOT NULL OR t.user_token IS NOT NULL
	OR EXISTS (SELECT 1 FROM installvault_users u WHERE u.tenant = $1 AND u.user_id <> $2 AND u.user_token IS NOT NULL)`,
		key, uid).Scan(&keep)
	if err != nil {
		return err
	}
	if !keep {
		// Nothing left to serve: the tenant reads as not installed, and
		// is gone with its history as an uninstall would be.
		if _, err = tx.Exec(ctx, `DELETE FROM installvault_tenants WHERE tenant = $1`, key); err == nil {
			_, err = tx.Exec(ctx, `DELETE FROM installvault_history WHERE tenant = $1`, key)
		}
	}
	return err
}

// DeleteBot implements [installstore.BotDeleter]: one statement clearing
// the tenant's bot columns and moving its version (the exact tenant: no
// fallback).
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	return s.run(ctx, subject("delete bot of", q), func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, deleteBotSQL+` WHERE tenant = $1 AND bot IS NOT NULL`, s.key(q.Tenant()))
		return err
	})
}

const deleteBotSQL = `
UPDATE installvault_tenants SET bot = NULL, bot_token = NULL, bot_refresh_token = NULL, bot_due = NULL,
	version = nextval('installvault_version_seq'), updated_at = now()`

// DeleteBotIf implements [installstore.ConditionalDeleter]: one statement
// conditioned on the version.
func (s *Store) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	if err := q.Validate(); err != nil {
		return err
	}
	subj := subject("delete bot of", q)
	key := s.key(q.Tenant())
	var deleted, exists, hasBot bool
	var stored int64
	err := s.run(ctx, subj, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, deleteBotSQL+` WHERE tenant = $1 AND version = $2 AND bot IS NOT NULL`, key, version)
		if err != nil {
			return err
		}
		if deleted = tag.RowsAffected() > 0; deleted {
			return nil
		}
		err = s.pool.QueryRow(ctx, `SELECT version, bot IS NOT NULL FROM installvault_tenants WHERE tenant = $1`, key).Scan(&stored, &hasBot)
		exists = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case deleted || !exists:
		return nil
	case stored != version:
		return fail(subj, installstore.ErrConflict, "stored version %d, expected %d", stored, version)
	case !hasBot:
		return nil // no bot to revoke
	default:
		return fail(subj, installstore.ErrConflict, "the tenant changed during the delete")
	}
}
