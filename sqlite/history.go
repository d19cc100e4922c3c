package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/installvault/installvault/installstore"
)

// Installation history ([WithHistory]) lives in the history table, one row
// per entry keyed (app, enterprise_id, team_id, installed_s, installed_ns,
// user_id): InstalledAt at full precision (Unix seconds and nanoseconds)
// and the installing user (empty for none). The row holds the documents a
// record's row holds (rec, user, and the bot the installation carried, NULL
// when none) and the Version it was stored with.

var (
	sqlPutHistory = writeSQL(`INSERT INTO history (app, enterprise_id, team_id, installed_s, installed_ns, user_id, version, rec, user, bot)
VALUES (?20, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (app, enterprise_id, team_id, installed_s, installed_ns, user_id) DO UPDATE SET
	version = excluded.version, rec = excluded.rec, user = excluded.user, bot = excluded.bot`)

	// A page of a tenant's entries (with ?3 <> '', that user's), newest
	// first then by user, after the cursor (?4, ?5, ?6): keyset pagination
	// on the primary key.
	sqlHistoryFirst = readSQL(`SELECT installed_s, installed_ns, user_id, version, rec, user, bot FROM history
WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2 AND (?3 = '' OR user_id = ?3)
ORDER BY installed_s DESC, installed_ns DESC, user_id LIMIT ?7`)
	sqlHistoryNext = readSQL(`SELECT installed_s, installed_ns, user_id, version, rec, user, bot FROM history
WHERE app = ?20 AND enterprise_id = ?1 AND team_id = ?2 AND (?3 = '' OR user_id = ?3)
	AND ((installed_s, installed_ns) < (?4, ?5) OR (installed_s, installed_ns) = (?4, ?5) AND user_id > ?6)
ORDER BY installed_s DESC, installed_ns DESC, user_id LIMIT ?7`)
)

// putHistory writes inst, stored at version v with columns e, as its
// history entry, in the store's transaction.
func (w *wtx) putHistory(inst *installstore.Installation, v int64, e encoded) error {
	t := inst.Tenant()
	bot := any(nil)
	if inst.Bot != nil {
		bot = e.bot
	}
	_, err := w.exec(sqlPutHistory, t.EnterpriseID, t.TeamID, inst.InstalledAt.Unix(), int64(inst.InstalledAt.Nanosecond()), inst.User.ID,
		v, e.rec, e.user, bot)
	return err
}

// ListHistory implements [installstore.History]: the entries of exactly
// q.Tenant() (with q.UserID, that user's), newest InstalledAt first, a page
// at a time with no connection held while fn runs. An entry that does not
// decode is skipped and reported at the end in one error wrapping
// [installstore.ErrCorrupt] naming its tenant and user. Without
// [WithHistory] it gives [installstore.ErrHistoryOff].
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	if !s.history {
		return fmt.Errorf("sqlite: list history of tenant %s: %w", q.Tenant(), installstore.ErrHistoryOff)
	}
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	what := "list history of tenant " + t.String()
	var bad skipped
	type entry struct {
		sec, nsec int64
		user      string
		version   int64
		rec       string
		doc, bot  sql.NullString
	}
	var cur *entry
	for {
		query, args := sqlHistoryFirst, []any{t.EnterpriseID, t.TeamID, q.UserID, nil, nil, nil, pageSize}
		if cur != nil {
			query, args = sqlHistoryNext, []any{t.EnterpriseID, t.TeamID, q.UserID, cur.sec, cur.nsec, cur.user, pageSize}
		}
		st, err := s.stmt(s.r, query)
		if err != nil {
			return wrapKey(what, err)
		}
		page := make([]entry, 0, pageSize)
		err = func() error {
			rows, err := st.QueryContext(ctx, s.args(query, args)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var e entry
				if err := rows.Scan(&e.sec, &e.nsec, &e.user, &e.version, &e.rec, &e.doc, &e.bot); err != nil {
					return err
				}
				page = append(page, e)
			}
			return rows.Err()
		}()
		if err != nil {
			return wrapKey(what, err)
		}
		for i := range page {
			e := &page[i]
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("sqlite: %s: %w", what, err)
			}
			eq := baseQuery(t)
			eq.UserID = e.user
			inst, err := decode("list history", eq, e.rec, nullable(e.doc), e.user, nullable(e.bot), e.version)
			if err == nil && !inst.InstalledAt.Equal(time.Unix(e.sec, e.nsec)) {
				err = corruptf("list history", eq, "column rec holds another install time than its key")
			}
			if err != nil {
				bad.add(recordName(eq) + " installed at " + time.Unix(e.sec, e.nsec).UTC().Format(time.RFC3339Nano))
				continue
			}
			if err := fn(inst); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			break
		}
		cur = &page[len(page)-1]
	}
	return bad.err(what)
}

// baseQuery returns the query of a tenant's latest record.
func baseQuery(t installstore.Tenant) installstore.Query {
	return installstore.Query{EnterpriseID: t.EnterpriseID, TeamID: t.TeamID, IsEnterpriseInstall: t.IsEnterprise()}
}

// PutHistory implements [installstore.History]: one statement writes inst
// as the entry of (its tenant, User.ID, InstalledAt), replacing one of the
// same key, and touches no record. inst must be valid, with a non-zero
// InstalledAt, and its secrets sealed (unless [WithPlaintextSecrets]).
// Without [WithHistory] it gives [installstore.ErrHistoryOff].
func (s *Store) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	if !s.history {
		if inst == nil {
			return fmt.Errorf("sqlite: put history: %w", installstore.ErrHistoryOff)
		}
		return fmt.Errorf("sqlite: put history of tenant %s: %w", inst.Tenant(), installstore.ErrHistoryOff)
	}
	if err := inst.Validate(); err != nil {
		return err
	}
	t := inst.Tenant()
	if inst.InstalledAt.IsZero() {
		return fmt.Errorf("sqlite: put history of tenant %s: %w: zero InstalledAt (a history entry is keyed by it)", t, installstore.ErrInvalid)
	}
	if err := s.checkSecrets("put history of", inst); err != nil {
		return err
	}
	e := encode(inst)
	return s.write(ctx, "put history of", t, func(w *wtx) error { return w.putHistory(inst, inst.Version, e) })
}
