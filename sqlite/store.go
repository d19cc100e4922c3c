package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/installvault/installvault/installstore"
)

// Store is the SQLite backend. It implements [installstore.FullStore] and is
// safe for concurrent use by any number of goroutines and of processes that
// open the same file on one machine. Call [Store.Close] when done.
type Store struct {
	path      string
	now       func() time.Time
	plaintext bool
	busy      time.Duration
	readers   int
	history   bool   // WithHistory
	app       string // WithClientID: the client ID, "" unscoped
	scoped    bool   // WithClientID was given (Open checks the ID)

	w *sql.DB // one connection: this process's writes queue here, not in SQLite's busy loop
	r *sql.DB // read-only connections: fetches and listings never wait for a writer (WAL)

	stmts map[*sql.DB]map[string]*sql.Stmt // by pool and text, filled at Open

	puts atomic.Uint64 // nonce puts, to sweep expired nonces now and then
}

// Option configures a [Store].
type Option func(*Store)

// WithClock sets the clock used for InstalledAt defaults and for nonce and
// lease expiry (default time.Now). Processes sharing a file should use the
// machine's clock: expiry compares the times they wrote.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithPlaintextSecrets lets the store write secrets that are not sealed by
// package crypto. It is for local experiments only: without it, the store
// refuses (with an error wrapping [installstore.ErrInvalid]) to persist any
// non-empty secret lacking [installstore.SealedPrefix], and writes nothing.
func WithPlaintextSecrets() Option { return func(s *Store) { s.plaintext = true } }

// WithBusyTimeout sets how long an operation waits for a lock another
// process holds on the file before it fails with an error wrapping
// [installstore.ErrUnavailable] (default 5s). Open refuses less than a
// millisecond.
func WithBusyTimeout(d time.Duration) Option { return func(s *Store) { s.busy = d } }

// WithHistory turns on installation history ([installstore.History]):
// every StoreInstallation also writes the installation as stored into the
// history table, in the same transaction, and ListHistory and PutHistory
// work. Without it they give [installstore.ErrHistoryOff] and no history is
// written (deletes still purge what a process with history on wrote). Off
// by default.
func WithHistory() Option { return func(s *Store) { s.history = true } }

// WithClientID scopes the store to one Slack app among several sharing the
// file: every row it writes and reads (records, history, nonces, leases,
// the due index) is keyed by the client ID first, so it never reads,
// lists, deletes or leases another app's items, and an unscoped store (the
// default, with an empty app) sees none of them. id must pass
// [installstore.CheckClientID], or Open fails with an error wrapping
// [installstore.ErrInvalid].
func WithClientID(id string) Option { return func(s *Store) { s.app, s.scoped = id, true } }

// ClientID implements [installstore.AppScoped]: the client ID of
// [WithClientID], or "" for an unscoped store.
func (s *Store) ClientID() string { return s.app }

var _ installstore.AppScoped = (*Store)(nil)

// appParam is the parameter that holds the store's client ID (empty when
// unscoped) in every statement on keyed tables. It is numbered above every
// other parameter of the package's statements: a named parameter would
// take the number after the largest one seen so far in the text, and could
// alias a numbered one that comes later.
const appParam = 20

// args returns the arguments of query: args, and when query names the
// client ID parameter (?20), NULL for the unused numbers up to it and the
// store's client ID.
func (s *Store) args(query string, args []any) []any {
	if !strings.Contains(query, "?20") {
		return args
	}
	out := make([]any, appParam)
	copy(out, args)
	out[appParam-1] = s.app
	return out
}

// Open opens (creating it if needed) the SQLite database file at path,
// creates or upgrades its schema, and returns a store over it. Several
// processes may open the same file, also at the same time on a new file:
// the schema is created once, in one transaction. path is a file name (no
// "file:" URI, no '?', not ":memory:" — use package memory for a store that
// needs no file); bad arguments wrap [installstore.ErrInvalid]. A new file
// is created with mode 0600 (SQLite gives its -wal and -shm files the same
// mode); an existing file keeps its own. A file whose schema is newer than
// this package knows is refused.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	switch {
	case path == "":
		return nil, fmt.Errorf("sqlite: open: %w: empty path", installstore.ErrInvalid)
	case path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?\x00"):
		return nil, fmt.Errorf("sqlite: open %q: %w: want a plain file name (no URI, no '?', not :memory:)", path, installstore.ErrInvalid)
	}
	s := &Store{path: path, now: time.Now, busy: 5 * time.Second, readers: 4, stmts: map[*sql.DB]map[string]*sql.Stmt{}}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		return nil, fmt.Errorf("sqlite: open %q: %w: nil clock", path, installstore.ErrInvalid)
	}
	if s.scoped {
		if err := installstore.CheckClientID(s.app); err != nil {
			return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
		}
	}
	if s.busy < time.Millisecond {
		return nil, fmt.Errorf("sqlite: open %q: %w: busy timeout %v is under 1ms", path, installstore.ErrInvalid, s.busy)
	}
	// A new file is readable by its owner only; SQLite gives the WAL and
	// shared-memory files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	_ = f.Close()
	if s.w, err = sql.Open("sqlite", s.dsn(true)); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	if err := s.useWAL(ctx); err != nil {
		_ = s.w.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.w.Close()
		return nil, err
	}
	if s.r, err = sql.Open("sqlite", s.dsn(false)); err != nil {
		_ = s.w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	s.r.SetMaxOpenConns(s.readers)
	s.r.SetMaxIdleConns(s.readers)
	if err := s.prepare(ctx); err != nil {
		_ = s.Close()
		return nil, wrapKey("open "+path, err)
	}
	return s, nil
}

// dsn returns the data source name of a writing or a read-only connection.
// Every connection sets busy_timeout, synchronous=FULL and foreign_keys; the
// writer also sets BEGIN IMMEDIATE, so a write transaction takes the file's
// write lock at its start and never fails half-way on a lock upgrade. WAL
// is set once, by Open ([Store.useWAL]), and kept by the file.
func (s *Store) dsn(writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", s.busy.Milliseconds()))
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "1")
	}
	return s.path + "?" + q.Encode()
}

// Close closes the store's connections. Operations after Close fail.
func (s *Store) Close() error {
	var errs []error
	for _, db := range []*sql.DB{s.r, s.w} {
		if db != nil {
			if err := db.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sqlite: close %q: %w", s.path, errs[0])
	}
	return nil
}

var _ installstore.FullStore = (*Store)(nil)

// prepare prepares the statements of both pools.
func (s *Store) prepare(ctx context.Context) error {
	for db, queries := range map[*sql.DB][]string{s.w: writeQueries, s.r: readQueries} {
		m := map[string]*sql.Stmt{}
		for _, q := range queries {
			st, err := db.PrepareContext(ctx, q)
			if err != nil {
				return err
			}
			m[q] = st
		}
		s.stmts[db] = m
	}
	return nil
}

// stmt returns the statement prepared on db for query.
func (s *Store) stmt(db *sql.DB, query string) (*sql.Stmt, error) {
	if st := s.stmts[db][query]; st != nil {
		return st, nil
	}
	return nil, fmt.Errorf("statement not prepared: %.40q", query) // a bug of this package
}

// checkSecrets refuses plaintext secrets unless WithPlaintextSecrets.
func (s *Store) checkSecrets(op string, inst *installstore.Installation) error {
	if s.plaintext {
		return nil
	}
	return inst.Secrets(func(field string, sec *installstore.Secret) error {
		if !sec.IsSealed() {
			return fmt.Errorf("sqlite: %s tenant %s: %w: secret %s is not sealed by package crypto (wrap the store with crypto.NewStore, or use WithPlaintextSecrets for local experiments)",
				op, inst.Tenant(), installstore.ErrInvalid, field)
		}
		return nil
	})
}

// The statements of the store, prepared on every connection of their pool
// at Open: a write transaction holds the writer's one connection, so it
// could not prepare on the pool.
var writeQueries, readQueries []string

func writeSQL(q string) string { writeQueries = append(writeQueries, q); return q }
func readSQL(q string) string  { readQueries = append(readQueries, q); return q }
