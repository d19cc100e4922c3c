// Package sqlite is the embedded, persistent installstore backend: one
// SQLite file on the local disk, for a single-machine app and for local
// development. [Store] implements the whole [installstore.FullStore]
// contract, in pure Go (modernc.org/sqlite through database/sql, no cgo),
// and keeps every installation across restarts. Several processes on one
// machine may share the file: nonces stay single-use and leases exclusive
// across them; several Slack apps may too ([WithClientID]); [WithHistory]
// keeps every installation. For several machines, use the DynamoDB or PostgreSQL backend:
// SQLite's locks do not work over network file systems.
//
// Where it goes: at the bottom of a stack, below the encryption layer
// (crypto.NewStore(store, keys)) and whatever goes above it. By default the
// store refuses to write a secret that is not sealed by package crypto;
// [WithPlaintextSecrets] lifts that, for local experiments only.
//
// Copy the file only while no process has it open (the last one to close
// it folds the -wal file back in); while it is in use, back it up with
// package backup (sealed records as JSON lines) or SQLite's VACUUM INTO.
//
// # Schema
//
// [Open] creates the schema, or upgrades it, in one BEGIN IMMEDIATE
// transaction versioned by PRAGMA user_version ([SchemaVersion]): processes
// opening a new file at once create it exactly once. Tables are STRICT;
// IDs are Slack IDs (letters, digits, '_', '.', '-'); an org-wide install
// has an empty team_id, a standalone workspace an empty enterprise_id.
// Every key starts with app: the client ID of a store scoped to one Slack
// app ([WithClientID]), empty for an unscoped store.
//
//	tenants   (app, enterprise_id, team_id) primary key
//	          version     the tenant's Version, from counter
//	          rec, user   the latest installation (JSON; user NULL when none),
//	          user_id     its installing user ('' when none)
//	          bot         the tenant's bot (JSON; NULL when none)
//	          user_token  1 when the latest installation holds a user token
//	          user_due, bot_due, due (generated: the smaller) — refresh times
//	users     (app, enterprise_id, team_id, user_id) primary key, rows of a tenant
//	          rec, user   that user's installation (JSON); user_token; due
//	history   (app, enterprise_id, team_id, installed_s, installed_ns, user_id)
//	          primary key: a history entry (WithHistory), keyed by InstalledAt
//	          (Unix seconds, nanoseconds) and the installing user (empty: none)
//	          version; rec, user, bot  the installation as stored, with the
//	          bot it carried (NULL: none)
//	counter   one row: the last Version given, to every tenant, so a
//	          Version is never reused, even after a delete and re-install
//	nonces    (app, hash) primary key (hash: SHA-256 of the nonce, so the
//	          file never holds a usable OAuth state); expires_ns
//	leases    (app, name) primary key; owner; expires_ns
//
// Partial indexes tenants_due (app, due, key) and users_due hold only the
// rows with a rotating token ("due IS NOT NULL"): [Store.ListDue] reads
// its app's due rows' keys and nothing else, so a tick with nothing due
// costs one index probe per table whatever the number of tenants and of
// other apps' due records. A latest record's due time is
// [installstore.Installation.RefreshAt] of the bot and the latest installing
// user's tokens; a user's, of that user's tokens. Times are Unix
// nanoseconds.
//
// The JSON documents use short names (app, ent, entName, entURL, team,
// teamName, org, tokType, at, hook{url, ch, chID, cfg}; user: id, tok, rtok,
// exp, scopes; bot: id, uid, tok, rtok, exp, at, scopes), times in RFC 3339.
// tok, rtok and url are the secrets, stored as given: sealed by package
// crypto. Due times, IDs, names and scopes are unsealed metadata. A new
// file is created with mode 0600, and SQLite gives its -wal and -shm files
// the same mode.
//
// Schema version 2 (this release) added app to every key and the history
// table. Open upgrades a version 1 file in its one transaction: SQLite
// cannot change a primary key in place, so each table is rebuilt under its
// name and its rows copied with an empty app (an unscoped store's, read
// as before); the version counter, nonces and leases carry over. The
// rebuild copies the file's rows once (seconds for a large file) and a
// failure leaves version 1 as it was. Processes of the previous release
// refuse a version 2 file, so stop them all before the first process of
// this release opens it.
//
// # Installation history
//
// With [WithHistory], StoreInstallation writes the installation as stored
// (Version, InstalledAt and Bot.InstalledAt set, the bot it carried or
// none) as a history row in its transaction: a failed store leaves
// neither, a stored install always has its entry; the same (tenant, user,
// InstalledAt) again replaces it. Updates and DeleteBot touch no entry.
// Deleting a tenant deletes its history (for a workspace of an
// enterprise, also the standalone team's), a user delete that user's
// entries, and a user delete that empties the tenant the tenant's
// history, in the delete's transaction, also in a store built without
// WithHistory; the Grid supersede inside StoreInstallation keeps the
// standalone record's history. Entries hold the record's documents,
// secrets as given (sealed). ListHistory reads a page of the primary key
// at a time, newest first; entries that do not decode, or that name
// another user or install time than their key, are skipped and named.
// Cost: with history off, nothing; on, one more row per store in the same
// transaction (one fsync either way).
//
// # Several apps in one file
//
// [WithClientID] scopes a store to one Slack app: every statement names its
// app as the first key column, so fetches (and their Grid fallbacks),
// updates, deletes, listings, due ticks, history, nonces and leases read
// and write that app's rows only, by key range; an unscoped store's app is
// empty and it sees none of the apps' rows. The version counter is the
// file's, shared by all apps.
//
// # Guarantees
//
// Every write is one transaction: the tenant's row, the user's row, the
// history entry, the version counter and a Grid migration's removal of
// the standalone record commit together or not at all. A fetch is one statement, so a user's
// record is never paired with a Version it was not current under, and the
// Grid fallbacks ((E, T), then (no enterprise, T), then E's org-wide
// install) are chosen in one snapshot. Listings page by primary key
// (keyset pagination, 256 rows a page): memory stays bounded, and fn is
// called with no connection or read transaction held, so fn may write to
// the store. A row that does not decode, or that names another tenant or
// user than its key, is contained: a fetch gives [installstore.ErrCorrupt],
// listings skip and report it, and deletes work on key columns only,
// whatever the documents hold.
//
// Nonces and leases are single statements (an upsert conditioned on expiry
// or owner, a DELETE ... RETURNING) that run under the file's write lock,
// so across all processes sharing the file exactly one PutNonce,
// ConsumeNonce or AcquireLease of a name wins. Expiry compares Unix times
// written by the store's clock ([WithClock], default time.Now). Processes
// sharing a file run on one machine and read one system clock, so their
// clocks do not drift apart; the bound on a lease is then the clock's own
// steps: a system clock set back by d keeps an expired lease held up to d
// longer, one set forward by d frees a lease up to d early.
//
// [Store.ListDue] reads committed data, like every statement here: it does
// not lag writes (unlike DynamoDB's index), though a record may change
// between the listing and the caller's fetch.
//
// # Concurrency and durability
//
// The file is in WAL mode: readers never wait for the writer, nor the writer
// for readers. Writes of one process queue on one connection (a
// database/sql pool of one, so goroutines wait in Go, in order, not in
// SQLite's busy loop); each write transaction begins IMMEDIATE, taking the
// file's write lock at once, so it never fails half-way on a lock upgrade.
// A write waits up to the busy timeout ([WithBusyTimeout], default 5s) for
// another process's lock.
//
// synchronous=FULL: a write is on disk (the WAL fsynced) before it is
// acknowledged, and survives a power loss, not only a crash of the app.
// NORMAL would be faster but may lose the last acknowledged writes on
// power loss, and a lost write here is unrecoverable: Slack invalidates a
// refresh token the moment it issues the next one, so losing the stored
// new one means a reinstall.
//
// # Errors
//
// A lock still held after the busy timeout (SQLITE_BUSY, SQLITE_LOCKED) and
// failures that may pass (SQLITE_IOERR, SQLITE_FULL, SQLITE_NOMEM,
// SQLITE_PROTOCOL) wrap [installstore.ErrUnavailable]: the transaction was
// rolled back, nothing changed. Errors name the operation and tenant once,
// never a secret (SQLite's messages name tables and columns, not bound
// values).
package sqlite
