package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	// 2: installation history; several Slack apps in one schema (client
	// ID scoping). Additive: the previous release keeps working against
	// it (its statements name the same keys and columns; the new columns
	// default to an unscoped store's values), so replicas can be upgraded
	// one at a time. The constraints added to existing tables are NOT
	// VALID (their rows satisfied the stricter checks of version 1), so
	// the migration does not scan them; the indexes are built once.
	`
ALTER TABLE installvault_tenants DROP CONSTRAINT installvault_tenants_tenant_check;
ALTER TABLE installvault_tenants ADD CONSTRAINT installvault_tenants_tenant_check
	CHECK (tenant ~ '^([A-Za-z0-9_.-]{1,64}/)?([A-Za-z0-9_.-]{1,64}:[A-Za-z0-9_.-]{0,64}|:[A-Za-z0-9_.-]{1,64})$') NOT VALID;
ALTER TABLE installvault_tenants ADD COLUMN app text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE installvault_tenants ADD CONSTRAINT installvault_tenants_app_check
	CHECK (CASE WHEN app = '' THEN strpos(tenant, '/') = 0 ELSE starts_with(tenant, app || '/') END) NOT VALID;
CREATE INDEX installvault_tenants_app_due ON installvault_tenants (app, due, tenant) WHERE due IS NOT NULL;

ALTER TABLE installvault_users ADD COLUMN app text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE installvault_users ADD CONSTRAINT installvault_users_app_check
	CHECK (CASE WHEN app = '' THEN strpos(tenant, '/') = 0 ELSE starts_with(tenant, app || '/') END) NOT VALID;
CREATE INDEX installvault_users_app_due ON installvault_users (app, due, tenant, user_id) WHERE due IS NOT NULL;

CREATE TABLE installvault_history (
	tenant             text COLLATE "C" NOT NULL
	                   CHECK (tenant ~ '^([A-Za-z0-9_.-]{1,64}/)?([A-Za-z0-9_.-]{1,64}:[A-Za-z0-9_.-]{0,64}|:[A-Za-z0-9_.-]{1,64})$'),
	installed_s        bigint NOT NULL,
	installed_ns       integer NOT NULL CHECK (installed_ns BETWEEN 0 AND 999999999),
	user_id            text COLLATE "C" NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_.-]{0,64}$'),
	version            bigint NOT NULL,
	record             jsonb NOT NULL,
	user_token         text,
	user_refresh_token text,
	webhook_url        text,
	bot                jsonb,
	bot_token          text,
	bot_refresh_token  text,
	written_at         timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant, installed_s, installed_ns, user_id)
);

CREATE TABLE installvault_app_nonces (
	app        text COLLATE "C" NOT NULL CHECK (app ~ '^[A-Za-z0-9_.-]{1,64}$'),
	hash       bytea NOT NULL CHECK (length(hash) = 32),
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (app, hash)
);
CREATE INDEX installvault_app_nonces_expires ON installvault_app_nonces (app, expires_at);

CREATE TABLE installvault_app_leases (
	app        text COLLATE "C" NOT NULL CHECK (app ~ '^[A-Za-z0-9_.-]{1,64}$'),
	name       text COLLATE "C" NOT NULL,
	owner      text COLLATE "C" NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (app, name)
);
`,
}

// migrationNames say what each migration adds, for [CheckSchema]'s report
// of what a database lacks.
var migrationNames = []string{
	"the store's tables (installvault_tenants, installvault_users, installvault_nonces, installvault_leases)",
	"installation history (installvault_history) and client ID scoping (app columns and per-app due indexes, installvault_app_nonces, installvault_app_leases)",
}

// SchemaVersion is the schema version this package writes and reads: the
// number of migrations [Migrate] knows.
const SchemaVersion = 2

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
// a separate deploy step calls it at start-up to fail fast. A database below
// it gives an error wrapping [installstore.ErrInvalid] that names each
// missing version and what it adds.
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
		missing := make([]string, 0, SchemaVersion-current)
		for v := current + 1; v <= SchemaVersion; v++ {
			missing = append(missing, fmt.Sprintf("version %d: %s", v, migrationNames[v-1]))
		}
		return fmt.Errorf("postgres: check schema: %w: version %d, need %d; missing %s: %w",
			installstore.ErrInvalid, current, SchemaVersion, strings.Join(missing, "; "), errOldSchema)
	}
	return nil
}
