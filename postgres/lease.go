package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/installvault/installvault/installstore"
)

// maxLeaseNameLen bounds lease names and owners.
const maxLeaseNameLen = 1024

func validLeaseText(s string) bool {
	return s != "" && len(s) <= maxLeaseNameLen && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// The lease statements of an unscoped store (installvault_leases) and of a
// scoped one (installvault_app_leases, under its client ID, the last
// argument).
var (
	acquireLeaseSQL = [2]string{`
WITH now AS (SELECT COALESCE($4::timestamptz, clock_timestamp()) AS t)
INSERT INTO installvault_leases AS l (name, owner, expires_at)
SELECT $1::text, $2::text, now.t + $3::bigint * interval '1 microsecond' FROM now
ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
WHERE l.owner = EXCLUDED.owner OR l.expires_at <= (SELECT t FROM now)
RETURNING true`, `
WITH now AS (SELECT COALESCE($4::timestamptz, clock_timestamp()) AS t)
INSERT INTO installvault_app_leases AS l (app, name, owner, expires_at)
SELECT $5::text, $1::text, $2::text, now.t + $3::bigint * interval '1 microsecond' FROM now
ON CONFLICT (app, name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
WHERE l.owner = EXCLUDED.owner OR l.expires_at <= (SELECT t FROM now)
RETURNING true`}
	releaseLeaseSQL = [2]string{
		`DELETE FROM installvault_leases WHERE name = $1 AND owner = $2`,
		`DELETE FROM installvault_app_leases WHERE app = $3 AND name = $1 AND owner = $2`}
)

// AcquireLease implements [installstore.Leaser]: one INSERT ... ON
// CONFLICT DO UPDATE that takes the row only when it is free, expired or
// owner's. Expiry is by the database's clock (clock_timestamp()), so
// replicas whose clocks disagree still agree on who holds a lease (see
// [WithLeaseClock] for tests).
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	if !validLeaseText(name) || !validLeaseText(owner) || ttl <= 0 {
		return fail("acquire lease", installstore.ErrInvalid, "need a name and an owner (valid UTF-8, at most %d bytes) and a positive ttl", maxLeaseNameLen)
	}
	subj := fmt.Sprintf("acquire lease %q", name)
	// $4 is the clock: the database's unless WithLeaseClock.
	var now any
	if s.leaseNow != nil {
		now = s.leaseNow()
	}
	var got bool
	err := s.run(ctx, subj, func(ctx context.Context) error {
		sql, args := s.scopedSQL(acquireLeaseSQL, name, owner, max(ttl.Microseconds(), 1), now)
		err := s.pool.QueryRow(ctx, sql, args...).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if !got {
		return fail(subj, installstore.ErrLeaseHeld, "")
	}
	return nil
}

// ReleaseLease implements [installstore.Leaser]: a DELETE conditioned on
// the owner.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if !validLeaseText(name) || !validLeaseText(owner) {
		return nil // no such lease can exist, or be held by owner
	}
	return s.run(ctx, fmt.Sprintf("release lease %q", name), func(ctx context.Context) error {
		sql, args := s.scopedSQL(releaseLeaseSQL, name, owner)
		_, err := s.pool.Exec(ctx, sql, args...)
		return err
	})
}
