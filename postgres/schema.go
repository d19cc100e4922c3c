package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/installvault/installvault/installstore"
)

// migrateLockKey is the advisory lock Migrate holds while it reads and
// upgrades the schema ("installv" in ASCII), so replicas starting together
// apply each migration once and all succeed.
const migrateLockKey int64 = 0x696e7374616c6c76

// migrations are the schema's versions, in order. Each is applied once, in
// the transaction that records it in installvault_schema_migrations; a
// migration is never edited once released (add a new one instead), and
// every migration keeps the previous release working against the new
// schema, so replicas can be upgraded one at a time.
var migrations = []string{
	// 1: tenants, users, the due index, nonces, leases.
	`
CREATE SEQUENCE installvault_version_seq AS bigint;

CREATE TABLE installvault_tenants (
	tenant             text COLLATE "C" PRIMARY KEY
	                   CHECK (tenant ~ '^[A-Za-z0-9_.-]{0,64}:[A-Za-z0-9_.-]{0,64}$' AND tenant <> ':'),
	version            bigint NOT NULL CHECK (version > 0),
	user_id            text COLLATE "C" NOT NULL DEFAULT '',
	record             jsonb NOT NULL,
	user_token         text,
	user_refresh_token text,
	webhook_url        text,
	user_due           bigint,
	bot                jsonb,
	bot_token          text,
	bot_refresh_token  text,
	bot_due            bigint,
	due                bigint GENERATED ALWAYS AS (LEAST(bot_due, user_due)) STORED,
	updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX installvault_tenants_due ON installvault_tenants (due, tenant) WHERE due IS NOT NULL;

CREATE TABLE installvault_users (
	tenant             text COLLATE "C" NOT NULL REFERENCES installvault_tenants (tenant) ON DELETE CASCADE,
	user_id            text COLLATE "C" NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
	record             jsonb NOT NULL,
	user_token         text,
	user_refresh_token text,
	webhook_url        text,
	due                bigint,
	updated_at         timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant, user_id)
);
CREATE INDEX installvault_users_due ON installvault_users (due, tenant, user_id) WHERE due IS NOT NULL;

CREATE TABLE installvault_nonces (
	hash       bytea PRIMARY KEY CHECK (length(hash) = 32),
	expires_at timestamptz NOT NULL
);
CREATE INDEX installvault_nonces_expires ON installvault_nonces (expires_at);

CREATE TABLE installvault_leases (
	name       text COLLATE "C" PRIMARY KEY,
	owner      text COLLATE "C" NOT NULL,
	expires_at timestamptz NOT NULL
);
`,
}

// SchemaVersion is the schema version this package writes and reads: the
// number of migrations [Migrate] knows.
const SchemaVersion = 1

// Migrate creates or upgrades the store's schema in the first schema of the
// pool's search_path (set search_path in the connection string or
// pgxpool.Config to use another than public). It is idempotent and safe to
// run from every replica at start-up, at the same time: it takes a
// transaction-scoped advisory lock, reads the applied versions from
// installvault_schema_migrations, and applies the missing migrations in one
// transaction, so a failure leaves the schema as it was. A database already
// at a newer version than this package knows is left alone (migrations keep
// older releases working). Errors wrap [installstore.ErrUnavailable] when
// the database was transiently unreachable.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if pool == nil {
		return fmt.Errorf("postgres: migrate: %w: nil pool", installstore.ErrInvalid)
	}
	var lastErr error
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				break
			}
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return migrateTx(ctx, tx) })
		if err == nil {
			return nil
		}
		lastErr = err
		if !retryable(err) {
			break
		}
	}
	return wrapErr(ctx, "migrate", lastErr)
}

func migrateTx(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS installvault_schema_migrations (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return err
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM installvault_schema_migrations`).Scan(&current); err != nil {
		return err
	}
	for v := current + 1; v <= len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("schema version %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO installvault_schema_migrations (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("schema version %d: %w", v, err)
		}
	}
	return nil
}

// errOldSchema is returned by CheckSchema for a database below SchemaVersion.
var errOldSchema = errors.New("schema is older than this package: run postgres.Migrate")

// CheckSchema reports whether the database holds the schema this package
// needs (version [SchemaVersion] or newer). An app that runs [Migrate] from
// a separate deploy step calls it at start-up to fail fast.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	if pool == nil {
		return fmt.Errorf("postgres: check schema: %w: nil pool", installstore.ErrInvalid)
	}
	var current int
	err := pool.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM installvault_schema_migrations`).Scan(&current)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // no migrations table: nothing migrated
		err = nil
	}
	if err != nil {
		return wrapErr(ctx, "check schema", err)
	}
	if current < SchemaVersion {
		return fmt.Errorf("postgres: check schema: %w: version %d, need %d: %w", installstore.ErrInvalid, current, SchemaVersion, errOldSchema)
	}
	return nil
}
