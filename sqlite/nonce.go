package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/installvault/installvault/installstore"
)

// sweepEvery is how many nonce puts of one process go between sweeps of
// expired nonces; a sweep deletes at most sweepLimit of them, so the table
// stays bounded without a sweep ever holding the write lock long.
const (
	sweepEvery = 256
	sweepLimit = 1024
)

var (
	sqlPutNonce = writeSQL(`INSERT INTO nonces (app, hash, expires_ns) VALUES (?20, ?1, ?2)
ON CONFLICT (app, hash) DO UPDATE SET expires_ns = excluded.expires_ns WHERE nonces.expires_ns <= ?3`)
	sqlSweepNonces  = writeSQL(`DELETE FROM nonces WHERE app = ?20 AND hash IN (SELECT hash FROM nonces WHERE app = ?20 AND expires_ns <= ?1 LIMIT ?2)`)
	sqlConsumeNonce = writeSQL(`DELETE FROM nonces WHERE app = ?20 AND hash = ?1 RETURNING expires_ns`)
)

// nonceKey is what the table keeps of a nonce: its SHA-256, so the file
// never holds a usable OAuth state.
func nonceKey(nonce string) []byte {
	h := sha256.Sum256([]byte(nonce))
	return h[:]
}

// PutNonce implements [installstore.NonceStore] with one statement: an
// insert that replaces only an expired nonce, atomic across processes.
func (s *Store) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if nonce == "" {
		return fmt.Errorf("sqlite: put nonce: %w: empty nonce", installstore.ErrInvalid)
	}
	now := s.now().UnixNano()
	st, err := s.stmt(s.w, sqlPutNonce)
	if err != nil {
		return wrapKey("put nonce", err)
	}
	res, err := st.ExecContext(ctx, s.args(sqlPutNonce, []any{nonceKey(nonce), expiresAt.UnixNano(), now})...)
	if err != nil {
		return wrapKey("put nonce", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrapKey("put nonce", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: put nonce: %w: nonce exists", installstore.ErrConflict)
	}
	if s.puts.Add(1)%sweepEvery == 0 {
		s.sweepNonces(ctx, now)
	}
	return nil
}

// sweepNonces deletes expired nonces, best effort: a nonce is refused by
// its expiry whether or not it was swept.
func (s *Store) sweepNonces(ctx context.Context, now int64) {
	st, err := s.stmt(s.w, sqlSweepNonces)
	if err == nil {
		_, _ = st.ExecContext(ctx, s.args(sqlSweepNonces, []any{now, sweepLimit})...)
	}
}

// ConsumeNonce implements [installstore.NonceStore] with one statement: the
// delete that finds the nonce uses it up, so across processes exactly one
// consumer sees it.
func (s *Store) ConsumeNonce(ctx context.Context, nonce string) error {
	st, err := s.stmt(s.w, sqlConsumeNonce)
	if err != nil {
		return wrapKey("consume nonce", err)
	}
	rows, err := st.QueryContext(ctx, s.args(sqlConsumeNonce, []any{nonceKey(nonce)})...)
	if err != nil {
		return wrapKey("consume nonce", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return wrapKey("consume nonce", err)
		}
		return fmt.Errorf("sqlite: consume nonce: %w: unknown or already used", installstore.ErrNotFound)
	}
	var exp int64
	if err := rows.Scan(&exp); err != nil {
		return wrapKey("consume nonce", err)
	}
	if err := rows.Close(); err != nil {
		return wrapKey("consume nonce", err)
	}
	if s.now().UnixNano() >= exp {
		return fmt.Errorf("sqlite: consume nonce: %w: expired", installstore.ErrNotFound)
	}
	return nil
}
