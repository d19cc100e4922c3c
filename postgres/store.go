package postgres

import (
	"context"
	"fmt"
	"strings"
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
	history   bool          // WithHistory: StoreInstallation also writes a history entry
	app       string        // WithClientID: the client ID, "" when unscoped
	prefix    string        // app + "/", the prefix of every tenant key of a scoped store
	scoped    bool          // WithClientID was given (New checks the ID)
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
// (ListInstallations, ListDue, ListHistory) reads (default 500): a listing
// holds at most one page in memory, and no connection while it calls fn.
func WithListPageSize(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.pageSize = n
		}
	}
}

// WithHistory turns on installation history ([installstore.History]):
// every StoreInstallation also writes the installation as stored into
// installvault_history, in the same statement, and ListHistory and
// PutHistory work. Without it they give [installstore.ErrHistoryOff] and a
// store writes no history (deletes still purge the history other replicas
// wrote). Off by default.
func WithHistory() Option { return func(s *Store) { s.history = true } }

// WithClientID scopes the store to one Slack app among several sharing the
// schema: its tenant keys are prefixed with the client ID, its rows carry
// it in their app column, and its nonces and leases go to
// installvault_app_nonces and installvault_app_leases under it. The store
// reads, lists, deletes and leases only its own app's items; an unscoped
// store (the default) sees no app's items. id must pass
// [installstore.CheckClientID], or New fails with an error wrapping
// [installstore.ErrInvalid].
func WithClientID(id string) Option {
	return func(s *Store) {
		s.app, s.prefix, s.scoped = id, id+"/", true
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
	if s.scoped {
		if err := installstore.CheckClientID(s.app); err != nil {
			return nil, fmt.Errorf("postgres: new store: %w", err)
		}
	}
	return s, nil
}

// ClientID implements [installstore.AppScoped]: the client ID of
// [WithClientID], or "" for an unscoped store.
func (s *Store) ClientID() string { return s.app }

var _ installstore.AppScoped = (*Store)(nil)

// key is the tenant column's value of t in this store: "ENTERPRISE:TEAM",
// prefixed with "CLIENTID/" in a scoped store.
func (s *Store) key(t installstore.Tenant) string { return s.prefix + t.Key() }

// parseKey is the inverse of key; false for a key of another app or not a
// tenant key.
func (s *Store) parseKey(key string) (installstore.Tenant, bool) {
	rest, ok := strings.CutPrefix(key, s.prefix)
	if !ok || strings.Contains(rest, "/") {
		return installstore.Tenant{}, false
	}
	return parseTenant(rest)
}

// keyRange returns bounds (lo, hi) around every tenant key of the store, for
// range scans of the primary keys: a scoped store's keys all start with
// "CLIENTID/" and sort between it and "CLIENTID0" ('0' follows '/'); an
// unscoped store's keys interleave with the apps' and are told apart by the
// app column.
func (s *Store) keyRange() (lo, hi string) {
	if s.app == "" {
		return "", "~" // every key is ASCII below '~'
	}
	return s.prefix, s.app + "0"
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
