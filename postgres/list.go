package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/installvault/installvault/installstore"
)

const (
	listTenantsSQL = `
SELECT tenant, version, user_id, record, user_token, user_refresh_token, webhook_url, bot, bot_token, bot_refresh_token
FROM installvault_tenants WHERE app = $3 AND tenant > $1 AND tenant < $4 ORDER BY tenant LIMIT $2`
	listUsersSQL = `
SELECT u.tenant, t.version, u.user_id, u.record, u.user_token, u.user_refresh_token, u.webhook_url, t.bot, t.bot_token, t.bot_refresh_token
FROM installvault_users u JOIN installvault_tenants t ON t.tenant = u.tenant
WHERE u.app = $4 AND (u.tenant, u.user_id) > ($1, $2) AND u.tenant < $5 ORDER BY u.tenant, u.user_id LIMIT $3`
)

// listedRow is one record as a listing reads it.
type listedRow struct {
	key     string
	version int64
	rec     recordRow
	bot     botRow
}

// ListInstallations implements [installstore.Lister] with keyset
// pagination: the tenants' latest records in key order, then the users'
// records (each joined with its tenant's row in the same statement, so it
// carries the Version it is current under), one page of rows per query.
// It holds at most one page in memory and no connection while fn runs.
// A scoped store reads its own key range; an unscoped one goes past the
// apps' rows by their app column.
// Records that do not decode are skipped and reported at the end in one
// error wrapping [installstore.ErrCorrupt].
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	var skipped []error
	visit := func(rows []listedRow, user bool) error {
		for _, r := range rows {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("postgres: list: %w", err)
			}
			t, ok := s.parseKey(r.key)
			q := baseQuery(t)
			if user {
				q.UserID = r.rec.userID
			}
			if !ok {
				skipped = append(skipped, corrupt("list "+describe(r.key, r.rec.userID), "column tenant: not a tenant key"))
				continue
			}
			inst, err := assemble(subject("list", q), t, r.version, r.rec, r.bot)
			if err != nil {
				skipped = append(skipped, err)
				continue
			}
			if err := fn(q, inst); err != nil {
				return err
			}
		}
		return nil
	}

	after, _ := s.keyRange()
	for {
		rows, err := s.listPage(ctx, listTenantsSQL, after, "")
		if err != nil {
			return err
		}
		if err := visit(rows, false); err != nil {
			return err
		}
		if len(rows) < s.pageSize {
			break
		}
		after = rows[len(rows)-1].key
	}
	afterTenant, afterUser := s.keyRange()
	afterUser = ""
	for {
		rows, err := s.listPage(ctx, listUsersSQL, afterTenant, afterUser)
		if err != nil {
			return err
		}
		if err := visit(rows, true); err != nil {
			return err
		}
		if len(rows) < s.pageSize {
			break
		}
		afterTenant, afterUser = rows[len(rows)-1].key, rows[len(rows)-1].rec.userID
	}
	return skippedErr("list", skipped)
}

// skippedErr reports the records a listing went past: nil, or one error
// per record, each wrapping [installstore.ErrCorrupt] once and naming the
// record and what is wrong with it (installstore.CountSkipped counts them).
func skippedErr(op string, skipped []error) error {
	if len(skipped) == 0 {
		return nil
	}
	noun := "records"
	if len(skipped) == 1 {
		noun = "record"
	}
	return fmt.Errorf("postgres: %s: skipped %d %s: %w", op, len(skipped), noun, errors.Join(skipped...))
}

// describe names a record: "tenant T1" or "tenant E1/T1 user U1".
func describe(key, uid string) string {
	if uid != "" {
		return "tenant " + key + " user " + uid
	}
	return "tenant " + key
}

// listPage reads one page of rows after the cursor.
func (s *Store) listPage(ctx context.Context, sql, afterTenant, afterUser string) ([]listedRow, error) {
	var rows []listedRow
	err := s.run(ctx, "list", func(ctx context.Context) error {
		_, hi := s.keyRange()
		var args []any
		if sql == listTenantsSQL {
			args = []any{afterTenant, s.pageSize, s.app, hi}
		} else {
			args = []any{afterTenant, afterUser, s.pageSize, s.app, hi}
		}
		res, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		rows = rows[:0]
		var r listedRow
		_, err = pgx.ForEachRow(res, []any{&r.key, &r.version, &r.rec.userID, &r.rec.record, &r.rec.token, &r.rec.refreshToken, &r.rec.hookURL,
			&r.bot.bot, &r.bot.token, &r.bot.refreshToken}, func() error {
			rows = append(rows, r)
			r = listedRow{}
			return nil
		})
		return err
	})
	return rows, err
}

const (
	dueTenantsSQL = `
SELECT tenant, '', due FROM installvault_tenants
WHERE app = $5 AND due IS NOT NULL AND due <= $1 AND (due, tenant) > ($2, $3)
ORDER BY app, due, tenant LIMIT $4`
	dueUsersSQL = `
SELECT tenant, user_id, due FROM installvault_users
WHERE app = $6 AND due IS NOT NULL AND due <= $1 AND (due, tenant, user_id) > ($2, $3, $4)
ORDER BY app, due, tenant, user_id LIMIT $5`
)

// ListDue implements [installstore.DueLister] on the partial indexes
// installvault_tenants_app_due and installvault_users_app_due (rows with a
// due time only, by app first), in pages in due order: a tick with nothing
// due is two index probes that return no row, whatever the number of
// tenants and of other apps' due records. It reads
// committed rows, so it does not lag writes. It holds no connection while
// fn runs.
func (s *Store) ListDue(ctx context.Context, before time.Time, fn func(installstore.Query, time.Time) error) error {
	bound := before.UnixNano()
	var skipped []error
	for _, sql := range []string{dueTenantsSQL, dueUsersSQL} {
		cur := dueCursor{due: math.MinInt64}
		for {
			page, err := s.duePage(ctx, sql, bound, cur)
			if err != nil {
				return err
			}
			for _, d := range page {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("postgres: list due: %w", err)
				}
				t, ok := s.parseKey(d.tenant)
				if !ok {
					skipped = append(skipped, corrupt("list due "+describe(d.tenant, d.user), "column tenant: not a tenant key"))
					continue
				}
				q := baseQuery(t)
				q.UserID = d.user
				if err := fn(q, time.Unix(0, d.due).UTC()); err != nil {
					return err
				}
			}
			if len(page) < s.pageSize {
				break
			}
			cur = page[len(page)-1]
		}
	}
	return skippedErr("list due", skipped)
}

type dueCursor struct {
	tenant, user string
	due          int64
}

func (s *Store) duePage(ctx context.Context, sql string, bound int64, after dueCursor) ([]dueCursor, error) {
	var page []dueCursor
	err := s.run(ctx, "list due", func(ctx context.Context) error {
		args := []any{bound, after.due, after.tenant, after.user, s.pageSize, s.app}
		if sql == dueTenantsSQL {
			args = []any{bound, after.due, after.tenant, s.pageSize, s.app}
		}
		res, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		page = page[:0]
		var d dueCursor
		_, err = pgx.ForEachRow(res, []any{&d.tenant, &d.user, &d.due}, func() error {
			page = append(page, d)
			return nil
		})
		return err
	})
	return page, err
}
