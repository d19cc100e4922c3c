package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/installvault/installvault/installstore"
)

// Installation history ([WithHistory]) lives in installvault_history, one
// row per entry keyed (tenant, installed_s, installed_ns, user_id): the
// tenant key as the tenants table has it (with a scoped store's client ID
// prefix), InstalledAt at full precision (Unix seconds and nanoseconds) and
// the installing user (empty for none). The row holds the installation's
// columns as a tenant's row does (record jsonb, its secrets as given, the
// bot it carried) and the Version it was stored with.

const (
	putHistorySQL = `
INSERT INTO installvault_history AS h (tenant, installed_s, installed_ns, user_id, version, record, user_token, user_refresh_token, webhook_url,
	bot, bot_token, bot_refresh_token)
VALUES ($1::text, $2::bigint, $3::integer, $4::text, $5::bigint, $6::jsonb, $7::text, $8::text, $9::text, $10::jsonb, $11::text, $12::text)
ON CONFLICT (tenant, installed_s, installed_ns, user_id) DO UPDATE SET` + historyUpdateSet

	// listHistorySQL reads one page of a tenant's entries (with $2 <> '',
	// that user's only), newest first (then by user), after the cursor
	// ($3, $4, $5) when $3 is not NULL: keyset pagination on the primary
	// key, read backwards.
	listHistorySQL = `
SELECT installed_s, installed_ns, user_id, version, record, user_token, user_refresh_token, webhook_url, bot, bot_token, bot_refresh_token
FROM installvault_history
WHERE tenant = $1::text AND ($2::text = '' OR user_id = $2::text)
	AND ($3::bigint IS NULL OR (installed_s, installed_ns) < ($3::bigint, $4::integer)
		OR (installed_s, installed_ns) = ($3::bigint, $4::integer) AND user_id > $5::text)
ORDER BY installed_s DESC, installed_ns DESC, user_id LIMIT $6::integer`
)

// historyRow is one entry as read.
type historyRow struct {
	sec     int64
	nsec    int32
	version int64
	rec     recordRow
	bot     botRow
}

// ListHistory implements [installstore.History]: the entries of exactly
// q.Tenant() (with q.UserID, that user's), newest InstalledAt first, one
// page ([WithListPageSize]) per query, with no connection held while fn
// runs. An entry that does not decode is skipped and reported at the end
// in one error wrapping [installstore.ErrCorrupt] naming its tenant, user
// and install time. Without [WithHistory] it gives
// [installstore.ErrHistoryOff].
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	if !s.history {
		return fmt.Errorf("postgres: list history of tenant %s: %w", q.Tenant(), installstore.ErrHistoryOff)
	}
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	subj := subject("list history of", q)
	var skipped []error
	var cur *historyRow
	for {
		page, err := s.historyPage(ctx, subj, s.key(t), q.UserID, cur)
		if err != nil {
			return err
		}
		for i := range page {
			r := &page[i]
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("postgres: %s: %w", subj, err)
			}
			inst, err := s.decodeEntry(t, r)
			if err != nil {
				skipped = append(skipped, err)
				continue
			}
			if err := fn(inst); err != nil {
				return err
			}
		}
		if len(page) < s.pageSize {
			break
		}
		cur = &page[len(page)-1]
	}
	return skippedErr("list history of tenant "+t.String(), skipped)
}

// historyPage reads one page of entries after cur (nil: the first page).
func (s *Store) historyPage(ctx context.Context, subj, key, uid string, cur *historyRow) ([]historyRow, error) {
	var page []historyRow
	err := s.run(ctx, subj, func(ctx context.Context) error {
		var sec, nsec, user any
		if cur != nil {
			sec, nsec, user = cur.sec, cur.nsec, cur.rec.userID
		}
		res, err := s.pool.Query(ctx, listHistorySQL, key, uid, sec, nsec, user, s.pageSize)
		if err != nil {
			return err
		}
		page = page[:0]
		var r historyRow
		_, err = pgx.ForEachRow(res, []any{&r.sec, &r.nsec, &r.rec.userID, &r.version, &r.rec.record, &r.rec.token, &r.rec.refreshToken, &r.rec.hookURL,
			&r.bot.bot, &r.bot.token, &r.bot.refreshToken}, func() error {
			page = append(page, r)
			r = historyRow{}
			return nil
		})
		return err
	})
	return page, err
}

// decodeEntry decodes an entry of tenant t, checking that it names the
// tenant, user and install time its key names.
func (s *Store) decodeEntry(t installstore.Tenant, r *historyRow) (*installstore.Installation, error) {
	at := time.Unix(r.sec, int64(r.nsec)).UTC()
	subj := subject("list history of", withUser(baseQuery(t), r.rec.userID)) + " installed at " + at.Format(time.RFC3339Nano)
	inst, err := decodeRecord(subj, t, r.rec)
	if err != nil {
		return nil, err
	}
	if inst.Bot, err = decodeBot(subj, r.bot); err != nil {
		return nil, err
	}
	if !inst.InstalledAt.Equal(at) {
		return nil, corrupt(subj, "column record: holds another install time than its key")
	}
	inst.Version = r.version
	return inst, nil
}

// PutHistory implements [installstore.History]: one INSERT ... ON CONFLICT
// writes inst as the entry of (its tenant, User.ID, InstalledAt), replacing
// one of the same key, and touches no record. inst must be valid, with a
// non-zero InstalledAt, and its secrets sealed (unless
// [WithPlaintextSecrets]). Without [WithHistory] it gives
// [installstore.ErrHistoryOff].
func (s *Store) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	if !s.history {
		if inst == nil {
			return fmt.Errorf("postgres: put history: %w", installstore.ErrHistoryOff)
		}
		return fmt.Errorf("postgres: put history of tenant %s: %w", inst.Tenant(), installstore.ErrHistoryOff)
	}
	if err := inst.Validate(); err != nil {
		return err
	}
	t := inst.Tenant()
	subj := "put history of tenant " + t.String()
	if inst.InstalledAt.IsZero() {
		return fail(subj, installstore.ErrInvalid, "zero InstalledAt (a history entry is keyed by it)")
	}
	if err := s.checkSecrets("put history of", inst); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrapErr(ctx, subj, err)
	}
	rec, bot, err := encodeInstallation(subj, inst)
	if err != nil {
		return err
	}
	return s.run(ctx, subj, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, putHistorySQL, s.key(t), inst.InstalledAt.Unix(), inst.InstalledAt.Nanosecond(), rec.userID, inst.Version,
			rec.record, rec.token, rec.refreshToken, rec.hookURL, bot.bot, bot.token, bot.refreshToken)
		return err
	})
}
