package sqlite

import (
	"context"
	"fmt"

	"github.com/installvault/installvault/installstore"
)

var (
	sqlDropUsers  = writeSQL(`DELETE FROM users WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2`)
	sqlDropTenant = writeSQL(`DELETE FROM tenants WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2`)
	sqlDeleteUser = writeSQL(`DELETE FROM users WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3`)
	// The latest installation is the user's when its key says so, or when
	// its document does (a row written around the store): either way the
	// user's tokens go.
	sqlClearLatestUser = writeSQL(`UPDATE tenants SET user_id = '', user = NULL, user_token = 0, user_due = NULL
WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2
AND (user_id = ?3 OR CASE WHEN json_valid(user) THEN json_extract(user, '$.id') END = ?3)`)
	sqlDropEmptyTenant = writeSQL(`DELETE FROM tenants WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2 AND bot IS NULL AND user_token = 0
AND NOT EXISTS (SELECT 1 FROM users u WHERE u.app = ?20 AND u.enterprise_id = ?1 AND u.team_id = ?2 AND u.user_token != 0)`)
	sqlSetVersion = writeSQL(`UPDATE tenants SET version = ?3 WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2`)
	sqlDeleteBot  = writeSQL(`UPDATE tenants SET bot = NULL, bot_due = NULL WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2 AND bot IS NOT NULL`)
	sqlVersion    = writeSQL(`SELECT version FROM tenants WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2`)

	sqlDropHistory     = writeSQL(`DELETE FROM history WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2`)
	sqlDropUserHistory = writeSQL(`DELETE FROM history WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3`)
)

// purgeTenant deletes a tenant's rows and its history (an uninstall).
func (w *wtx) purgeTenant(t installstore.Tenant) error {
	if err := w.dropTenant(t); err != nil {
		return err
	}
	_, err := w.exec(sqlDropHistory, t.EnterpriseID, t.TeamID)
	return err
}

// dropTenant deletes a tenant's rows, whatever they hold; its history
// stays (a Grid migration's supersede).
func (w *wtx) dropTenant(t installstore.Tenant) error {
	if _, err := w.exec(sqlDropUsers, t.EnterpriseID, t.TeamID); err != nil {
		return err
	}
	_, err := w.exec(sqlDropTenant, t.EnterpriseID, t.TeamID)
	return err
}

// deleteUser deletes one user's installation of t and history entries,
// and that user's part of the latest installation when they installed
// last. A tenant left with no bot and no user token is deleted whole, with
// its history. Only key and flag columns are read: it works whatever the
// documents hold.
func (w *wtx) deleteUser(t installstore.Tenant, user string) error {
	if _, err := w.exec(sqlDropUserHistory, t.EnterpriseID, t.TeamID, user); err != nil {
		return err
	}
	had, err := w.exec(sqlDeleteUser, t.EnterpriseID, t.TeamID, user)
	if err != nil {
		return err
	}
	latest, err := w.exec(sqlClearLatestUser, t.EnterpriseID, t.TeamID, user)
	if err != nil {
		return err
	}
	if had+latest == 0 {
		return nil
	}
	left, err := w.exec(sqlDropEmptyTenant, t.EnterpriseID, t.TeamID)
	if err != nil {
		return err
	}
	if left > 0 {
		// Nothing left to serve: the tenant (and its token-less users, by
		// cascade) is gone, and its history with it.
		_, err = w.exec(sqlDropHistory, t.EnterpriseID, t.TeamID)
		return err
	}
	return w.setVersion(t)
}

// setVersion gives t the next version.
func (w *wtx) setVersion(t installstore.Tenant) error {
	v, err := w.bump()
	if err != nil {
		return err
	}
	_, err = w.exec(sqlSetVersion, t.EnterpriseID, t.TeamID, v)
	return err
}

// remove deletes what q names, and the same of the standalone record a
// workspace of an enterprise superseded.
func (w *wtx) remove(q installstore.Query) error {
	t := q.Tenant()
	del := func(t installstore.Tenant) error {
		if q.UserID == "" {
			return w.purgeTenant(t)
		}
		return w.deleteUser(t, q.UserID)
	}
	if err := del(t); err != nil {
		return err
	}
	if standalone, ok := migrated(t); ok {
		return del(standalone)
	}
	return nil
}

// removeBot revokes t's bot, if it has one.
func (w *wtx) removeBot(t installstore.Tenant) error {
	n, err := w.exec(sqlDeleteBot, t.EnterpriseID, t.TeamID)
	if err != nil || n == 0 {
		return err
	}
	return w.setVersion(t)
}

// DeleteInstallation implements [installstore.Store].
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	return s.write(ctx, "delete", q.Tenant(), func(w *wtx) error { return w.remove(q) })
}

// DeleteBot implements [installstore.BotDeleter].
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	return s.write(ctx, "delete bot", q.Tenant(), func(w *wtx) error { return w.removeBot(q.Tenant()) })
}

// DeleteInstallationIf implements [installstore.ConditionalDeleter]: the
// version check and the delete are one transaction.
func (s *Store) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	return s.deleteIf(ctx, "delete", q, version, func(w *wtx) error { return w.remove(q) })
}

// DeleteBotIf implements [installstore.ConditionalDeleter].
func (s *Store) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	return s.deleteIf(ctx, "delete bot", q, version, func(w *wtx) error { return w.removeBot(q.Tenant()) })
}

// deleteIf runs del only while q.Tenant() exists at version. A tenant that
// no longer exists is not an error, and then nothing is deleted.
func (s *Store) deleteIf(ctx context.Context, op string, q installstore.Query, version int64, del func(w *wtx) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	return s.write(ctx, op, t, func(w *wtx) error {
		var stored int64
		found, err := w.row(sqlVersion, []any{t.EnterpriseID, t.TeamID}, &stored)
		if err != nil || !found {
			return err
		}
		if stored != version {
			return fail(fmt.Errorf("sqlite: %s tenant %s: %w (stored %d, expected %d)", op, t, installstore.ErrConflict, stored, version))
		}
		return del(w)
	})
}
