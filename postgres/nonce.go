package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/installvault/installvault/installstore"
)

// maxNonceLen bounds the nonces PutNonce accepts.
const maxNonceLen = 4096

// sweepEvery: every this many nonce puts, a store deletes up to sweepBatch
// expired nonces, so the table stays bounded without a cron job.
const (
	sweepEvery = 256
	sweepBatch = 1000
)

// nonceHash keys a nonce by its SHA-256: the table never holds a usable
// OAuth state, and any nonce fits in the key.
func nonceHash(nonce string) []byte {
	sum := sha256.Sum256([]byte(nonce))
	return sum[:]
}

// The nonce statements of an unscoped store (installvault_nonces) and of a
// scoped one (installvault_app_nonces, under app $4).
var (
	putNonceSQL = [2]string{`
INSERT INTO installvault_nonces AS n (hash, expires_at) VALUES ($1, $2)
ON CONFLICT (hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE n.expires_at <= $3
RETURNING true`, `
INSERT INTO installvault_app_nonces AS n (app, hash, expires_at) VALUES ($4, $1, $2)
ON CONFLICT (app, hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE n.expires_at <= $3
RETURNING true`}
	sweepNoncesSQL = [2]string{`
DELETE FROM installvault_nonces WHERE hash IN (
	SELECT hash FROM installvault_nonces WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`, `
DELETE FROM installvault_app_nonces WHERE app = $3 AND hash IN (
	SELECT hash FROM installvault_app_nonces WHERE app = $3 AND expires_at <= $1 ORDER BY expires_at LIMIT $2)`}
	consumeNonceSQL = [2]string{
		`DELETE FROM installvault_nonces WHERE hash = $1 RETURNING expires_at > $2`,
		`DELETE FROM installvault_app_nonces WHERE app = $3 AND hash = $1 RETURNING expires_at > $2`}
)

// scopedSQL picks the statement of an unscoped or a scoped store, and
// appends the client ID to the arguments of the scoped one.
func (s *Store) scopedSQL(sql [2]string, args ...any) (string, []any) {
	if !s.scoped {
		return sql[0], args
	}
	return sql[1], append(args, s.app)
}

// PutNonce implements [installstore.NonceStore]: one INSERT ... ON
// CONFLICT that takes over the row only when the stored nonce has expired
// (by the store's clock, as the caller's expiresAt is), so across replicas
// exactly one put of a live nonce succeeds. A scoped store's nonces are
// rows of installvault_app_nonces under its client ID.
func (s *Store) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if nonce == "" || len(nonce) > maxNonceLen {
		return fail("put nonce", installstore.ErrInvalid, "empty or longer than %d bytes", maxNonceLen)
	}
	now := s.now()
	var put bool
	err := s.run(ctx, "put nonce", func(ctx context.Context) error {
		sql, args := s.scopedSQL(putNonceSQL, nonceHash(nonce), expiresAt, now)
		err := s.pool.QueryRow(ctx, sql, args...).Scan(&put)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if !put {
		return fail("put nonce", installstore.ErrConflict, "nonce exists")
	}
	if s.puts.Add(1)%sweepEvery == 0 {
		// Best effort: a failed sweep is retried by a later put.
		sql, args := s.scopedSQL(sweepNoncesSQL, now, sweepBatch)
		_, _ = s.pool.Exec(ctx, sql, args...)
	}
	return nil
}

// ConsumeNonce implements [installstore.NonceStore]: one DELETE ...
// RETURNING, so exactly one consumer across replicas gets the row; an
// expired nonce is removed and refused.
func (s *Store) ConsumeNonce(ctx context.Context, nonce string) error {
	if nonce == "" || len(nonce) > maxNonceLen {
		return fail("consume nonce", installstore.ErrNotFound, "unknown or already used")
	}
	var live, found bool
	err := s.run(ctx, "consume nonce", func(ctx context.Context) error {
		sql, args := s.scopedSQL(consumeNonceSQL, nonceHash(nonce), s.now())
		err := s.pool.QueryRow(ctx, sql, args...).Scan(&live)
		found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case !found:
		return fail("consume nonce", installstore.ErrNotFound, "unknown or already used")
	case !live:
		return fail("consume nonce", installstore.ErrNotFound, "expired")
	}
	return nil
}
