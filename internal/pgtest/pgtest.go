// Package pgtest connects tests to the PostgreSQL server that
// scripts/postgres.sh starts, and gives each test a fresh schema holding the
// store's tables.
//
// Tests read the server's URL from INSTALLVAULT_POSTGRES_URL. When it is
// missing they skip, after one line per test binary naming the command that
// starts the server; under CI=true they fail instead.
//
// Several processes (a test binary re-executing itself as replicas) share
// one store through [SharedSchema]: the parent creates the schema and
// passes the returned environment to its children, which open the same
// schema with [Pool].
package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/installvault/installvault/postgres"
)

// URLEnv holds the server's URL, e.g.
// postgres://postgres:...@127.0.0.1:25432/installvault.
const URLEnv = "INSTALLVAULT_POSTGRES_URL"

// SchemaEnv names the schema a parent process shared with its children
// ([SharedSchema]).
const SchemaEnv = "INSTALLVAULT_POSTGRES_SCHEMA"

var skipOnce sync.Once

// URL returns the server's URL. When URLEnv is missing it fails the test
// under CI=true, and otherwise skips it (printing how to start the server
// once per process).
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(URLEnv); u != "" {
		return u
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set (CI=true): start PostgreSQL with eval \"$(scripts/postgres.sh start)\"", URLEnv)
	}
	skipOnce.Do(func() {
		fmt.Fprintf(os.Stderr, "postgres tests skipped: %s is not set; start a server with eval \"$(scripts/postgres.sh start)\"\n", URLEnv)
	})
	t.SkipNow()
	return ""
}

var seq atomic.Int64

// SchemaName returns a schema name unique to this process and call.
func SchemaName() string {
	return fmt.Sprintf("iv_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
}

// NewSchema creates a fresh schema, runs [postgres.Migrate] in it, and drops
// it (with everything in it) when the test ends. It returns its name.
func NewSchema(t testing.TB) string {
	t.Helper()
	url := URL(t)
	name := SchemaName()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := CreateSchema(ctx, url, name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := DropSchema(ctx, url, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return name
}

// SharedSchema returns a migrated schema for processes to share, and the
// environment ("INSTALLVAULT_POSTGRES_SCHEMA=...") to give child processes.
// In a process whose SchemaEnv is set (a child), it returns that schema;
// otherwise (the parent) it creates one with [NewSchema], dropped when the
// test ends.
func SharedSchema(t testing.TB) (schema string, env []string) {
	t.Helper()
	if name := os.Getenv(SchemaEnv); name != "" {
		return name, []string{SchemaEnv + "=" + name}
	}
	name := NewSchema(t)
	return name, []string{SchemaEnv + "=" + name}
}

// NewSchemaUnmigrated is [NewSchema] without the migration: an empty
// schema, for tests of Migrate itself.
func NewSchemaUnmigrated(t testing.TB) string {
	t.Helper()
	url := URL(t)
	name := SchemaName()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createSchema(ctx, url, name, false); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := DropSchema(ctx, url, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return name
}

// CreateSchema creates schema name and migrates it, for programs (such as a
// re-executed test binary or a benchmark) that manage its lifetime.
func CreateSchema(ctx context.Context, url, name string) error {
	return createSchema(ctx, url, name, true)
}

func createSchema(ctx context.Context, url, name string, migrate bool) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create schema %s: %w", name, err)
	}
	if !migrate {
		return nil
	}
	pool, err := OpenPool(ctx, url, name)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrate schema %s: %w", name, err)
	}
	return nil
}

// DropSchema drops schema name and everything in it.
func DropSchema(ctx context.Context, url, name string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", name, err)
	}
	return nil
}

// OpenPool returns a pool of the server at url whose search_path is schema.
func OpenPool(ctx context.Context, url, schema string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", URLEnv, err)
	}
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	return pool, nil
}

// Pool returns a pool whose search_path is schema, closed when the test
// ends. configure, when given, adjusts the pool's configuration first.
func Pool(t testing.TB, schema string, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(URL(t))
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", URLEnv, err)
	}
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	for _, c := range configure {
		c(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Counter counts the statements a pool sends (BEGIN and COMMIT included),
// as a pgx tracer: statements per operation are the round trips it costs.
type Counter struct{ n atomic.Int64 }

// Configure installs the counter on a pool's configuration (pass it to
// [Pool]).
func (c *Counter) Configure(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = c }

// TraceQueryStart implements pgx.QueryTracer.
func (c *Counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (c *Counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Statements returns the number of statements sent so far.
func (c *Counter) Statements() int64 { return c.n.Load() }

// Reset sets the count to zero.
func (c *Counter) Reset() { c.n.Store(0) }

// Store returns a store over a fresh schema (see [NewSchema]), with opts,
// and the pool it uses.
func Store(t testing.TB, opts ...postgres.Option) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	pool := Pool(t, NewSchema(t))
	s, err := postgres.New(pool, opts...)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s, pool
}
