package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/installvault/installvault/installstore"
)

// migrated returns the standalone tenant (no enterprise, same team) that a
// workspace of an enterprise supersedes: its record from before it joined
// the organization.
func migrated(t installstore.Tenant) (installstore.Tenant, bool) {
	if t.EnterpriseID == "" || t.TeamID == "" {
		return installstore.Tenant{}, false
	}
	return installstore.Tenant{TeamID: t.TeamID}, true
}

var (
	sqlUpsertTenant = writeSQL(`INSERT INTO tenants (app, enterprise_id, team_id, version, rec, user_id, user, user_token, user_due, bot, bot_due)
VALUES (?20, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (app, enterprise_id, team_id) DO UPDATE SET
	version = excluded.version, rec = excluded.rec, user_id = excluded.user_id, user = excluded.user,
	user_token = excluded.user_token, user_due = excluded.user_due,
	bot = CASE WHEN ?11 THEN excluded.bot ELSE tenants.bot END,
	bot_due = CASE WHEN ?11 THEN excluded.bot_due ELSE tenants.bot_due END`)
	sqlUpsertUser = writeSQL(`INSERT INTO users (app, enterprise_id, team_id, user_id, rec, user, user_token, due)
VALUES (?20, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (app, enterprise_id, team_id, user_id) DO UPDATE SET
	rec = excluded.rec, user = excluded.user, user_token = excluded.user_token, due = excluded.due`)
)

// StoreInstallation implements [installstore.Store]: one transaction
// writes the tenant's row (latest installation, bot unless inst.Bot is nil,
// version), the user's row, the history entry ([WithHistory]), and removes
// the standalone record a workspace of an enterprise supersedes (its
// history stays).
func (s *Store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if err := s.checkSecrets("store", inst); err != nil {
		return err
	}
	if inst.InstalledAt.IsZero() {
		inst.InstalledAt = s.now()
	}
	if inst.Bot != nil && inst.Bot.InstalledAt.IsZero() {
		inst.Bot.InstalledAt = inst.InstalledAt
	}
	t := inst.Tenant()
	e := encode(inst)
	var version int64
	err := s.write(ctx, "store", t, func(w *wtx) error {
		v, err := w.bump()
		if err != nil {
			return err
		}
		if standalone, ok := migrated(t); ok {
			if err := w.dropTenant(standalone); err != nil {
				return err
			}
		}
		if _, err := w.exec(sqlUpsertTenant, t.EnterpriseID, t.TeamID, v, e.rec, inst.User.ID, e.user, e.userToken, e.userDue,
			e.bot, e.botDue, inst.Bot != nil); err != nil {
			return err
		}
		if inst.User.ID != "" {
			if _, err := w.exec(sqlUpsertUser, t.EnterpriseID, t.TeamID, inst.User.ID, e.rec, e.user, e.userToken, e.userDue); err != nil {
				return err
			}
		}
		if s.history {
			if err := w.putHistory(inst, v, e); err != nil {
				return err
			}
		}
		version = v
		return nil
	})
	if err != nil {
		return err
	}
	inst.Version = version
	return nil
}

// The fetch queries find the row of the query's tenant or, for a workspace
// of an enterprise (?1, ?2), its fallbacks: the standalone record (empty enterprise, ?3)
// and the org-wide install (?4, empty team), in that order, in one statement (one
// snapshot). For a query without fallback the alternatives name the same
// row or none.
const fetchWhere = `
WHERE t.app = ?20 AND ((t.enterprise_id = ?1 AND t.team_id = ?2) OR (t.enterprise_id = '' AND t.team_id = ?3) OR (t.enterprise_id = ?4 AND t.team_id = ''))
ORDER BY CASE WHEN t.enterprise_id = ?1 AND t.team_id = ?2 THEN 0 WHEN t.enterprise_id = '' THEN 1 ELSE 2 END
LIMIT 1`

var (
	sqlFetchLatest = readSQL(`SELECT t.enterprise_id, t.team_id, t.version, t.rec, t.user, t.user_id, t.bot FROM tenants t` + fetchWhere)
	sqlFetchUser   = readSQL(`SELECT t.enterprise_id, t.team_id, t.version, u.rec, u.user, u.user_id, t.bot FROM tenants t
LEFT JOIN users u ON u.app = t.app AND u.enterprise_id = t.enterprise_id AND u.team_id = t.team_id AND u.user_id = ?5` + fetchWhere)
)

// FetchInstallation implements [installstore.Store], in one statement.
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	t := q.Tenant()
	query, args := sqlFetchLatest, []any{t.EnterpriseID, t.TeamID, t.TeamID, t.EnterpriseID}
	if q.UserID != "" {
		query, args = sqlFetchUser, append(args, q.UserID)
	}
	st, err := s.stmt(s.r, query)
	if err != nil {
		return nil, wrap("fetch", t, err)
	}
	var (
		ent, team string
		version   int64
		rec       sql.NullString
		user, bot sql.NullString
		userID    sql.NullString
	)
	err = st.QueryRowContext(ctx, s.args(query, args)...).Scan(&ent, &team, &version, &rec, &user, &userID, &bot)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("fetch", q)
	}
	if err != nil {
		return nil, wrap("fetch", t, err)
	}
	if !rec.Valid {
		return nil, notFound("fetch", q) // the tenant, without that user
	}
	found := installstore.Query{EnterpriseID: ent, TeamID: team, IsEnterpriseInstall: team == "", UserID: q.UserID}
	return decode("fetch", found, rec.String, nullable(user), userID.String, nullable(bot), version)
}

func nullable(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

var sqlUpdateTenant = writeSQL(`UPDATE tenants SET version = ?3,
	rec = CASE WHEN ?4 THEN ?5 ELSE rec END,
	user = CASE WHEN ?4 THEN ?6 ELSE user END,
	user_token = CASE WHEN ?4 THEN ?7 ELSE user_token END,
	user_due = CASE WHEN ?4 THEN ?8 ELSE user_due END,
	bot = CASE WHEN ?9 THEN ?10 ELSE bot END,
	bot_due = CASE WHEN ?9 THEN ?11 ELSE bot_due END
WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2`)

var (
	sqlTenantHead = writeSQL(`SELECT version, user_id FROM tenants WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2`)
	sqlUpdateUser = writeSQL(`UPDATE users SET rec = ?4, user = ?5, user_token = ?6, due = ?7
WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2 AND user_id = ?3`)
)

// UpdateInstallation implements [installstore.Updater]: one transaction
// checks the tenant's version and the user's row, then writes.
func (s *Store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if err := s.checkSecrets("update", inst); err != nil {
		return err
	}
	q := inst.Query()
	t := q.Tenant()
	e := encode(inst)
	var version int64
	err := s.write(ctx, "update", t, func(w *wtx) error {
		var stored int64
		var latestUser string
		found, err := w.row(sqlTenantHead,
			[]any{t.EnterpriseID, t.TeamID}, &stored, &latestUser)
		if err != nil {
			return err
		}
		if !found {
			return fail(notFound("update", q))
		}
		if stored != inst.Version {
			return fail(fmt.Errorf("sqlite: update tenant %s: %w (stored %d, expected %d)", t, installstore.ErrConflict, stored, inst.Version))
		}
		latest := latestUser == q.UserID
		if q.UserID != "" {
			n, err := w.exec(sqlUpdateUser, t.EnterpriseID, t.TeamID, q.UserID, e.rec, e.user, e.userToken, e.userDue)
			if err != nil {
				return err
			}
			if n == 0 {
				return fail(notFound("update", q))
			}
		} else if !latest {
			return fail(fmt.Errorf("sqlite: update tenant %s: %w: the latest installation belongs to a user; update it with that User.ID", t, installstore.ErrConflict))
		}
		v, err := w.bump()
		if err != nil {
			return err
		}
		if _, err := w.exec(sqlUpdateTenant, t.EnterpriseID, t.TeamID, v, latest, e.rec, e.user, e.userToken, e.userDue,
			inst.Bot != nil, e.bot, e.botDue); err != nil {
			return err
		}
		version = v
		return nil
	})
	if err != nil {
		return err
	}
	inst.Version = version
	return nil
}
