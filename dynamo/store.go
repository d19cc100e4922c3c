package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/installvault/installvault/installstore"
)

// Store is the DynamoDB backend. It implements [installstore.FullStore] and
// is safe for concurrent use by any number of goroutines and processes
// sharing the table.
type Store struct {
	client    *dynamodb.Client
	table     string
	now       func() time.Time
	plaintext bool
	attempts  int
	clientID  string
	sc        scope // key prefix of everything the store keeps
	history   bool  // WithHistory
	segments  int   // WithScanSegments
	optErr    error // the first bad option
}

// Option configures a [Store].
type Option func(*Store)

// WithPlaintextSecrets lets the store write secrets that are not sealed by
// package crypto. It is for local experiments only: without it, the store
// refuses (with an error wrapping [installstore.ErrInvalid]) to persist any
// non-empty secret lacking [installstore.SealedPrefix].
func WithPlaintextSecrets() Option { return func(s *Store) { s.plaintext = true } }

// WithClock sets the clock used for InstalledAt defaults, versions, and
// nonce and lease expiry (default time.Now). Replicas sharing a table should
// have roughly synchronized clocks; versions stay monotonic regardless.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithConflictAttempts sets how many times an operation re-reads and retries
// after losing a race on the version of a tenant it writes unconditionally
// (StoreInstallation, deletes) before giving up with
// [installstore.ErrConflict] (default 25). UpdateInstallation never retries:
// a lost race is the caller's ErrConflict.
func WithConflictAttempts(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.attempts = n
		}
	}
}

// WithClientID scopes the store to one Slack app among several sharing the
// table (Bolt keys its stores by client ID): everything the store keeps
// (records, history, nonces, leases, tombstones, due index entries) lives
// under partition keys starting "A#<id>#", its due index entries under
// shards "A#<id>#DUE#nn", and no call of the store reads, lists, deletes or
// overwrites another app's items or an unscoped store's (whose items keep
// the layout they always had, so a table can gain apps later). See the
// package documentation for what a shared table costs. id must pass
// [installstore.CheckClientID]; else [New] fails with an error wrapping
// [installstore.ErrInvalid].
func WithClientID(id string) Option {
	return func(s *Store) {
		if err := installstore.CheckClientID(id); err != nil {
			s.fail(fmt.Errorf("dynamo: new store: WithClientID: %w", err))
			return
		}
		s.clientID, s.sc = id, appScope(id)
	}
}

// WithHistory keeps installation history ([installstore.History]): every
// successful StoreInstallation also writes the installation as stored, in
// the same TransactWriteItems, as an item of the tenant's partition (see
// the package documentation). Off by default: [Store.ListHistory] and
// [Store.PutHistory] then give [installstore.ErrHistoryOff], and nothing
// extra is written or read.
func WithHistory() Option { return func(s *Store) { s.history = true } }

// DefaultScanSegments is the number of parallel Scan segments
// [Store.ListInstallations] uses unless [WithScanSegments] says otherwise.
const DefaultScanSegments = 4

// MaxScanSegments bounds [WithScanSegments].
const MaxScanSegments = 64

// WithScanSegments sets how many parallel Scan segments
// [Store.ListInstallations] reads the table with (default
// [DefaultScanSegments], at most [MaxScanSegments]); it reads up to two
// tenants' records at once per segment. More segments list a large table
// faster, at a higher momentary read rate (mind provisioned capacity): on
// DynamoDB Local (2 shared cores, 10 000 tenants with one user each) 1, 2,
// 4 and 8 segments listed 560, 1 400, 1 600 and 2 200 records a second.
// The default reads 8 tenants at once beside 4 Scans; on an on-demand
// table of 100 000 tenants, 8 or 16 segments are reasonable.
// n < 1 or above MaxScanSegments makes [New] fail with an error wrapping
// [installstore.ErrInvalid].
func WithScanSegments(n int) Option {
	return func(s *Store) {
		if n < 1 || n > MaxScanSegments {
			s.fail(fmt.Errorf("dynamo: new store: WithScanSegments(%d): %w: want 1 to %d", n, installstore.ErrInvalid, MaxScanSegments))
			return
		}
		s.segments = n
	}
}

func (s *Store) fail(err error) {
	if s.optErr == nil {
		s.optErr = err
	}
}

// ClientID implements [installstore.AppScoped]: the client ID set by
// [WithClientID], or "" for an unscoped store.
func (s *Store) ClientID() string { return s.clientID }

// New returns a store over the table, which must have the schema described
// in the package documentation (see [CreateTable]; a table made before the
// due index existed needs [AddDueIndex] for [Store.ListDue]). Throttling and transient
// errors are retried by client's retryer; set its retry mode and attempts
// on the client (config.WithRetryer).
func New(client *dynamodb.Client, table string, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("dynamo: new store: %w: nil client", installstore.ErrInvalid)
	}
	if table == "" {
		return nil, fmt.Errorf("dynamo: new store: %w: empty table name", installstore.ErrInvalid)
	}
	s := &Store{client: client, table: table, now: time.Now, attempts: 25, segments: DefaultScanSegments}
	for _, o := range opts {
		o(s)
	}
	if s.optErr != nil {
		return nil, s.optErr
	}
	return s, nil
}

var (
	_ installstore.FullStore = (*Store)(nil)
	_ installstore.AppScoped = (*Store)(nil)
)

// newVersion returns a version larger than floor: the current time in
// microseconds, or floor+1 when the clock is behind. Seeding from the clock
// keeps a re-created tenant from reusing the Versions of its previous life.
func (s *Store) newVersion(floor int64) int64 {
	v := s.now().UnixMicro()
	if v <= floor {
		v = floor + 1
	}
	return v
}

// checkSecrets refuses plaintext secrets unless WithPlaintextSecrets.
func (s *Store) checkSecrets(op string, inst *installstore.Installation) error {
	if s.plaintext {
		return nil
	}
	return inst.Secrets(func(field string, sec *installstore.Secret) error {
		if !sec.IsSealed() {
			return fmt.Errorf("dynamo: %s tenant %s: %w: secret %s is not sealed by package crypto (wrap the store with crypto.NewStore, or use WithPlaintextSecrets for local experiments)",
				op, inst.Tenant(), installstore.ErrInvalid, field)
		}
		return nil
	})
}

func notFound(op string, q installstore.Query) error {
	if q.UserID != "" {
		return fmt.Errorf("dynamo: %s tenant %s user %s: %w", op, q.Tenant(), q.UserID, installstore.ErrNotFound)
	}
	return fmt.Errorf("dynamo: %s tenant %s: %w", op, q.Tenant(), installstore.ErrNotFound)
}

func (s *Store) tooManyConflicts(op string, t installstore.Tenant) error {
	return fmt.Errorf("dynamo: %s tenant %s: %w: lost %d races in a row", op, t, installstore.ErrConflict, s.attempts)
}

func ctxErr(ctx context.Context, op string, t installstore.Tenant) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamo: %s tenant %s: %w", op, t, err)
	}
	return nil
}
