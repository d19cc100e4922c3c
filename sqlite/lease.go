package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/installvault/installvault/installstore"
)

var (
	sqlAcquireLease = writeSQL(`INSERT INTO leases (app, name, owner, expires_ns) VALUES (?20, ?1, ?2, ?3)
ON CONFLICT (app, name) DO UPDATE SET owner = excluded.owner, expires_ns = excluded.expires_ns
WHERE leases.owner = excluded.owner OR leases.expires_ns <= ?4`)
	sqlReleaseLease = writeSQL(`DELETE FROM leases WHERE app = ?20 AND name = ?1 AND owner = ?2`)
)

// AcquireLease implements [installstore.Leaser] with one statement: an
// insert that takes over the lease only when it is the owner's or expired,
// atomic across processes (it runs under the file's write lock). Expiry
// compares times written by the store's clock (see the package
// documentation for the bound).
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	if name == "" || owner == "" || ttl <= 0 {
		return fmt.Errorf("sqlite: acquire lease: %w: need a name, an owner and a positive ttl", installstore.ErrInvalid)
	}
	now := s.now()
	st, err := s.stmt(s.w, sqlAcquireLease)
	if err != nil {
		return wrapKey(fmt.Sprintf("acquire lease %q", name), err)
	}
	res, err := st.ExecContext(ctx, s.args(sqlAcquireLease, []any{name, owner, now.Add(ttl).UnixNano(), now.UnixNano()})...)
	if err != nil {
		return wrapKey(fmt.Sprintf("acquire lease %q", name), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrapKey(fmt.Sprintf("acquire lease %q", name), err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: acquire lease %q: %w", name, installstore.ErrLeaseHeld)
	}
	return nil
}

// ReleaseLease implements [installstore.Leaser].
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	st, err := s.stmt(s.w, sqlReleaseLease)
	if err != nil {
		return wrapKey(fmt.Sprintf("release lease %q", name), err)
	}
	if _, err := st.ExecContext(ctx, s.args(sqlReleaseLease, []any{name, owner})...); err != nil {
		return wrapKey(fmt.Sprintf("release lease %q", name), err)
	}
	return nil
}
