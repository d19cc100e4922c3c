package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/installvault/installvault/installstore"
)

// pageSize is how many rows a listing reads per statement. A listing holds
// at most one page in memory and no connection or read transaction while it
// calls fn, so fn may write to the store.
const pageSize = 256

// skipped collects the records a listing went past because they do not
// decode; err reports them all at the end.
type skipped struct {
	names []string
}

func (s *skipped) add(name string) { s.names = append(s.names, name) }

// err returns nil, or an error naming every skipped record, each as its own
// error wrapping [installstore.ErrCorrupt], so that
// installstore.CountSkipped counts them.
func (s *skipped) err(op string) error {
	if len(s.names) == 0 {
		return nil
	}
	errs := make([]error, len(s.names))
	for i, name := range s.names {
		errs[i] = fmt.Errorf("%s: %w", name, installstore.ErrCorrupt)
	}
	noun := "records"
	if len(s.names) == 1 {
		noun = "record"
	}
	return fmt.Errorf("sqlite: %s: skipped %d %s: %w", op, len(s.names), noun, errors.Join(errs...))
}

// keyQuery returns the query of a row's key, or false when the key is not
// made of valid IDs (a row written around this package).
func keyQuery(ent, team, user string) (installstore.Query, bool) {
	q := installstore.Query{EnterpriseID: ent, TeamID: team, UserID: user, IsEnterpriseInstall: team == ""}
	return q, q.Validate() == nil
}

// listRow is one record read by a listing page.
type listRow struct {
	ent, team, user string
	version         int64
	rec             string
	doc, bot        sql.NullString
	userID          string
}

var (
	sqlListLatestFirst = readSQL(`SELECT enterprise_id, team_id, '', version, rec, user, bot, user_id FROM tenants t
WHERE app = ?20 ORDER BY app, enterprise_id, team_id LIMIT ?4`)
	sqlListLatestNext = readSQL(`SELECT enterprise_id, team_id, '', version, rec, user, bot, user_id FROM tenants t
WHERE app = ?20 AND (enterprise_id, team_id) > (?1, ?2) ORDER BY app, enterprise_id, team_id LIMIT ?4`)
	sqlListUsersFirst = readSQL(`SELECT u.enterprise_id, u.team_id, u.user_id, t.version, u.rec, u.user, t.bot, u.user_id FROM users u
JOIN tenants t ON t.app = u.app AND t.enterprise_id = u.enterprise_id AND t.team_id = u.team_id
WHERE u.app = ?20 ORDER BY u.app, u.enterprise_id, u.team_id, u.user_id LIMIT ?4`)
	sqlListUsersNext = readSQL(`SELECT u.enterprise_id, u.team_id, u.user_id, t.version, u.rec, u.user, t.bot, u.user_id FROM users u
JOIN tenants t ON t.app = u.app AND t.enterprise_id = u.enterprise_id AND t.team_id = u.team_id
WHERE u.app = ?20 AND (u.enterprise_id, u.team_id, u.user_id) > (?1, ?2, ?3) ORDER BY u.app, u.enterprise_id, u.team_id, u.user_id LIMIT ?4`)
)

// ListInstallations implements [installstore.Lister]: the tenants' latest
// records, then the users' records, each in key order, a page at a time
// (keyset pagination on the primary keys). Each row is read with its
// tenant's bot and version in one statement, so a listed record is what a
// fetch would have returned then.
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	var bad skipped
	for _, pass := range [][2]string{{sqlListLatestFirst, sqlListLatestNext}, {sqlListUsersFirst, sqlListUsersNext}} {
		var cur *listRow
		for {
			query, args := pass[0], []any{"", "", "", pageSize}
			if cur != nil {
				query, args = pass[1], []any{cur.ent, cur.team, cur.user, pageSize}
			}
			page, err := s.listPage(ctx, query, args)
			if err != nil {
				return err
			}
			for i := range page {
				r := &page[i]
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("sqlite: list: %w", err)
				}
				q, ok := keyQuery(r.ent, r.team, r.user)
				if !ok {
					bad.add("a record with a malformed key")
					continue
				}
				inst, err := decode("list", q, r.rec, nullable(r.doc), r.userID, nullable(r.bot), r.version)
				if err != nil {
					bad.add(recordName(q))
					continue
				}
				if err := fn(q, inst); err != nil {
					return err
				}
			}
			if len(page) < pageSize {
				break
			}
			cur = &page[len(page)-1]
		}
	}
	return bad.err("list")
}

// listPage reads one page and releases its connection.
func (s *Store) listPage(ctx context.Context, query string, args []any) ([]listRow, error) {
	st, err := s.stmt(s.r, query)
	if err != nil {
		return nil, wrapKey("list", err)
	}
	rows, err := st.QueryContext(ctx, s.args(query, args)...)
	if err != nil {
		return nil, wrapKey("list", err)
	}
	defer rows.Close()
	page := make([]listRow, 0, pageSize)
	for rows.Next() {
		var r listRow
		if err := rows.Scan(&r.ent, &r.team, &r.user, &r.version, &r.rec, &r.doc, &r.bot, &r.userID); err != nil {
			return nil, wrapKey("list", err)
		}
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapKey("list", err)
	}
	return page, nil
}

var (
	sqlTenantsDue = readSQL(`SELECT due, enterprise_id, team_id, '' FROM tenants INDEXED BY tenants_due
WHERE app = ?20 AND due IS NOT NULL AND due <= ?1 AND (due, enterprise_id, team_id) > (?2, ?3, ?4)
ORDER BY app, due, enterprise_id, team_id LIMIT ?6`)
	sqlUsersDue = readSQL(`SELECT due, enterprise_id, team_id, user_id FROM users INDEXED BY users_due
WHERE app = ?20 AND due IS NOT NULL AND due <= ?1 AND (due, enterprise_id, team_id, user_id) > (?2, ?3, ?4, ?5)
ORDER BY app, due, enterprise_id, team_id, user_id LIMIT ?6`)
)

// ListDue implements [installstore.DueLister] on the partial indexes
// tenants_due and users_due: a call reads only due rows' keys and due
// times (no document), a page at a time in (due, key) order. It is
// consistent with committed writes: a record refreshed or stored before
// the call started is seen as it is.
func (s *Store) ListDue(ctx context.Context, before time.Time, fn func(installstore.Query, time.Time) error) error {
	var bad skipped
	limit := before.UnixNano()
	for _, query := range []string{sqlTenantsDue, sqlUsersDue} {
		// (MinInt64, "", "", "") sorts before every real key: a tenant
		// always has a team or an enterprise, a user row a user ID.
		var due int64 = math.MinInt64
		var ent, team, user string
		for {
			st, err := s.stmt(s.r, query)
			if err != nil {
				return wrapKey("list due", err)
			}
			type dueRow struct {
				due             int64
				ent, team, user string
			}
			page := make([]dueRow, 0, pageSize)
			err = func() error {
				rows, err := st.QueryContext(ctx, s.args(query, []any{limit, due, ent, team, user, pageSize})...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var r dueRow
					if err := rows.Scan(&r.due, &r.ent, &r.team, &r.user); err != nil {
						return err
					}
					page = append(page, r)
				}
				return rows.Err()
			}()
			if err != nil {
				return wrapKey("list due", err)
			}
			for _, r := range page {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("sqlite: list due: %w", err)
				}
				q, ok := keyQuery(r.ent, r.team, r.user)
				if !ok {
					bad.add("a record with a malformed key")
					continue
				}
				if err := fn(q, time.Unix(0, r.due)); err != nil {
					return err
				}
			}
			if len(page) < pageSize {
				break
			}
			last := page[len(page)-1]
			due, ent, team, user = last.due, last.ent, last.team, last.user
		}
	}
	return bad.err("list due")
}
