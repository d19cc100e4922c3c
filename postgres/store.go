package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/installvault/installvault/installstore"
)

// Store is the PostgreSQL backend. It implements [installstore.FullStore]
// and is safe for concurrent use by any number of goroutines and processes
// sharing the database.
type Store struct {
	pool      *pgxpool.Pool
	now       func() time.Time
	leaseNow  func() time.Time // nil: the database's clock
	plaintext bool
	pageSize  int
	puts      atomic.Uint64 // nonce puts, for the periodic sweep
}

// Option configures a [Store].
type Option func(*Store)

// WithClock sets the clock used for InstalledAt defaults and for nonce
// expiry (default time.Now). Lease expiry uses the database's clock, so
// replicas with skewed clocks still agree on who holds a lease.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLeaseClock makes lease expiry follow now instead of the database's
// clock. It is for tests that drive time with a fake clock (a crashed
// lease holder taken over once its lease expires); in production keep the
// default, under which replicas with skewed clocks still agree on who holds
// a lease.
func WithLeaseClock(now func() time.Time) Option { return func(s *Store) { s.leaseNow = now } }

// WithPlaintextSecrets lets the store write secrets that are not sealed by
// package crypto. It is for local experiments only: without it, the store
// refuses (with an error wrapping [installstore.ErrInvalid]) to persist any
// non-empty secret lacking [installstore.SealedPrefix].
func WithPlaintextSecrets() Option { return func(s *Store) { s.plaintext = true } }

// WithListPageSize sets how many rows one query of a listing
// (ListInstallations, ListDue) reads (default 500): a listing holds at most
// one page in memory, and no connection while it calls fn.
func WithListPageSize(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.pageSize = n
		}
	}
}

// New returns a store over pool, whose database must hold the schema
// [Migrate] creates. It does no I/O; see [CheckSchema] to fail fast at
// start-up.
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("postgres: new store: %w: nil pool", installstore.ErrInvalid)
	}
	s := &Store{pool: pool, now: time.Now, pageSize: 500}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		return nil, fmt.Errorf("postgres: new store: %w: nil clock", installstore.ErrInvalid)
	}
	return s, nil
}

var _ installstore.FullStore = (*Store)(nil)

// run calls fn, again (with a short backoff) while it fails in a way that
// certainly changed nothing, and classifies what still fails.
func (s *Store) run(ctx context.Context, subject string, fn func(ctx context.Context) error) error {
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			if backoff(ctx, attempt) != nil {
				break
			}
		}
		if err = fn(ctx); err == nil || ours(err) || !retryable(err) {
			break
		}
	}
	return wrapErr(ctx, subject, err)
}

// tx is run with fn inside one transaction.
func (s *Store) tx(ctx context.Context, subject string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return s.run(ctx, subject, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
	})
}

// checkSecrets refuses plaintext secrets unless WithPlaintextSecrets, and
// any secret PostgreSQL's text cannot hold (a NUL byte, invalid UTF-8),
// without echoing it.
func (s *Store) checkSecrets(op string, inst *installstore.Installation) error {
	return inst.Secrets(func(field string, sec *installstore.Secret) error {
		v := sec.Reveal()
		if !utf8.ValidString(v) || containsNUL(v) {
			return fail(op+" tenant "+inst.Tenant().String(), installstore.ErrInvalid, "secret %s is not valid UTF-8 text", field)
		}
		if !s.plaintext && !sec.IsSealed() {
			return fail(op+" tenant "+inst.Tenant().String(), installstore.ErrInvalid,
				"secret %s is not sealed by package crypto (wrap the store with crypto.NewStore, or use WithPlaintextSecrets for local experiments)", field)
		}
		return nil
	})
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// subject names an operation on a query: "fetch tenant E1/T1 user U1".
func subject(op string, q installstore.Query) string {
	if q.UserID != "" {
		return op + " tenant " + q.Tenant().String() + " user " + q.UserID
	}
	return op + " tenant " + q.Tenant().String()
}

func notFound(op string, q installstore.Query) error {
	return fail(subject(op, q), installstore.ErrNotFound, "")
}

// migrated returns the standalone tenant (no enterprise, same team) a
// workspace of an enterprise supersedes: its record from before it joined
// the organization.
func migrated(t installstore.Tenant) (installstore.Tenant, bool) {
	if t.EnterpriseID == "" || t.TeamID == "" {
		return installstore.Tenant{}, false
	}
	return installstore.Tenant{TeamID: t.TeamID}, true
}
