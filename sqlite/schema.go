package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

// migrations are the schema's versions, in order: migrations[i] upgrades a
// file at PRAGMA user_version i to i+1. Append only; never edit one that
// shipped.
var migrations = [SchemaVersion]string{
	// 1: tenants, users, the version counter, nonces, leases, due indexes.
	`
CREATE TABLE tenants (
	enterprise_id TEXT NOT NULL,
	team_id       TEXT NOT NULL,
	version       INTEGER NOT NULL,
	rec           TEXT NOT NULL,
	user_id       TEXT NOT NULL DEFAULT '',
	user          TEXT,
	user_token    INTEGER NOT NULL DEFAULT 0,
	user_due      INTEGER,
	bot           TEXT,
	bot_due       INTEGER,
	due           INTEGER GENERATED ALWAYS AS (
		CASE WHEN bot_due IS NULL THEN user_due
		     WHEN user_due IS NULL THEN bot_due
		     ELSE min(bot_due, user_due) END) STORED,
	PRIMARY KEY (enterprise_id, team_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
	enterprise_id TEXT NOT NULL,
	team_id       TEXT NOT NULL,
	user_id       TEXT NOT NULL,
	rec           TEXT NOT NULL,
	user          TEXT NOT NULL,
	user_token    INTEGER NOT NULL DEFAULT 0,
	due           INTEGER,
	PRIMARY KEY (enterprise_id, team_id, user_id),
	FOREIGN KEY (enterprise_id, team_id) REFERENCES tenants (enterprise_id, team_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX tenants_due ON tenants (due, enterprise_id, team_id) WHERE due IS NOT NULL;
CREATE INDEX users_due ON users (due, enterprise_id, team_id, user_id) WHERE due IS NOT NULL;

CREATE TABLE counter (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
) STRICT;
INSERT INTO counter (id, version) VALUES (1, 0);

CREATE TABLE nonces (
	hash       BLOB PRIMARY KEY,
	expires_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces (expires_ns);

CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	expires_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`,
	// 2: the client ID (app, '' for an unscoped store) leads every key, so
	// several Slack apps share the file; installation history. SQLite
	// cannot change a primary key in place: each table is rebuilt under
	// its name, its rows copied with app '' (what an unscoped store
	// reads, as before). users is copied before tenants is dropped, so
	// no foreign key cascade runs; renaming tenants_v2 retargets users'
	// foreign key to it.
	`
CREATE TABLE tenants_v2 (
	app           TEXT NOT NULL DEFAULT '',
	enterprise_id TEXT NOT NULL,
	team_id       TEXT NOT NULL,
	version       INTEGER NOT NULL,
	rec           TEXT NOT NULL,
	user_id       TEXT NOT NULL DEFAULT '',
	user          TEXT,
	user_token    INTEGER NOT NULL DEFAULT 0,
	user_due      INTEGER,
	bot           TEXT,
	bot_due       INTEGER,
	due           INTEGER GENERATED ALWAYS AS (
		CASE WHEN bot_due IS NULL THEN user_due
		     WHEN user_due IS NULL THEN bot_due
		     ELSE min(bot_due, user_due) END) STORED,
	PRIMARY KEY (app, enterprise_id, team_id)
) STRICT, WITHOUT ROWID;
INSERT INTO tenants_v2 (app, enterprise_id, team_id, version, rec, user_id, user, user_token, user_due, bot, bot_due)
	SELECT '', enterprise_id, team_id, version, rec, user_id, user, user_token, user_due, bot, bot_due FROM tenants;

CREATE TABLE users_v2 (
	app           TEXT NOT NULL DEFAULT '',
	enterprise_id TEXT NOT NULL,
	team_id       TEXT NOT NULL,
	user_id       TEXT NOT NULL,
	rec           TEXT NOT NULL,
	user          TEXT NOT NULL,
	user_token    INTEGER NOT NULL DEFAULT 0,
	due           INTEGER,
	PRIMARY KEY (app, enterprise_id, team_id, user_id),
	FOREIGN KEY (app, enterprise_id, team_id) REFERENCES tenants_v2 (app, enterprise_id, team_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
INSERT INTO users_v2 (app, enterprise_id, team_id, user_id, rec, user, user_token, due)
	SELECT '', enterprise_id, team_id, user_id, rec, user, user_token, due FROM users;

DROP TABLE users;
DROP TABLE tenants;
ALTER TABLE tenants_v2 RENAME TO tenants;
ALTER TABLE users_v2 RENAME TO users;
CREATE INDEX tenants_due ON tenants (app, due, enterprise_id, team_id) WHERE due IS NOT NULL;
CREATE INDEX users_due ON users (app, due, enterprise_id, team_id, user_id) WHERE due IS NOT NULL;

CREATE TABLE nonces_v2 (
	app        TEXT NOT NULL DEFAULT '',
	hash       BLOB NOT NULL,
	expires_ns INTEGER NOT NULL,
	PRIMARY KEY (app, hash)
) STRICT, WITHOUT ROWID;
INSERT INTO nonces_v2 (app, hash, expires_ns) SELECT '', hash, expires_ns FROM nonces;
DROP TABLE nonces;
ALTER TABLE nonces_v2 RENAME TO nonces;
CREATE INDEX nonces_expiry ON nonces (app, expires_ns);

CREATE TABLE leases_v2 (
	app        TEXT NOT NULL DEFAULT '',
	name       TEXT NOT NULL,
	owner      TEXT NOT NULL,
	expires_ns INTEGER NOT NULL,
	PRIMARY KEY (app, name)
) STRICT, WITHOUT ROWID;
INSERT INTO leases_v2 (app, name, owner, expires_ns) SELECT '', name, owner, expires_ns FROM leases;
DROP TABLE leases;
ALTER TABLE leases_v2 RENAME TO leases;

CREATE TABLE history (
	app           TEXT NOT NULL DEFAULT '',
	enterprise_id TEXT NOT NULL,
	team_id       TEXT NOT NULL,
	installed_s   INTEGER NOT NULL,
	installed_ns  INTEGER NOT NULL,
	user_id       TEXT NOT NULL,
	version       INTEGER NOT NULL,
	rec           TEXT NOT NULL,
	user          TEXT,
	bot           TEXT,
	PRIMARY KEY (app, enterprise_id, team_id, installed_s, installed_ns, user_id)
) STRICT, WITHOUT ROWID;
`,
}

// SchemaVersion is the schema version (PRAGMA user_version) this package
// creates and reads.
const SchemaVersion = 2

// migrate brings the file's schema to SchemaVersion in one BEGIN IMMEDIATE
// transaction: the first of several processes opening a new file at once
// creates it, the others wait for the lock (busy_timeout), then find it
// done.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrapKey("open "+s.path+": migrate", err)
	}
	defer func() { _ = tx.Rollback() }()
	var have int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return wrapKey("open "+s.path+": migrate", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("sqlite: open %q: schema version %d is newer than this package's %d: upgrade installvault", s.path, have, len(migrations))
	}
	if have == len(migrations) {
		return nil
	}
	for v := have; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return wrapKey(fmt.Sprintf("open %s: migrate to schema %d", s.path, v+1), err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return wrapKey("open "+s.path+": migrate", err)
	}
	if err := tx.Commit(); err != nil {
		return wrapKey("open "+s.path+": migrate", err)
	}
	return nil
}

// useWAL puts the file in WAL mode (a no-op once it is: the mode is kept in
// the file). Switching takes an exclusive lock, for which SQLite does not
// call its busy handler; so when another process holds a lock, as when
// several open a new file at once, useWAL retries until the busy timeout.
func (s *Store) useWAL(ctx context.Context) error {
	deadline := time.Now().Add(s.busy)
	for {
		var mode string
		err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		var e *sqlite3.Error
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("sqlite: open %q: the file stays in journal mode %q, not WAL", s.path, mode)
		case errors.As(err, &e) && e.Code()&0xff == sqlitelib.SQLITE_BUSY && time.Now().Before(deadline):
			select {
			case <-ctx.Done():
				return fmt.Errorf("sqlite: open %q: %w", s.path, ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		default:
			return wrapKey("open "+s.path+": set WAL mode", err)
		}
	}
}
