// Package postgres is an installstore backend on PostgreSQL, through
// github.com/jackc/pgx/v5's pgxpool. [Store] implements
// [installstore.FullStore]: any number of replicas of a Slack app share one
// database safely (several apps one schema, with [WithClientID]), every
// operation of the contract is one statement or one short transaction, and
// [WithHistory] keeps every installation.
//
// By default the store refuses to write a secret that is not sealed by
// package crypto (an error wrapping [installstore.ErrInvalid] that names the
// field, never its value); wrap it with crypto.NewStore.
// [WithPlaintextSecrets] lifts that, for local experiments only.
//
// # Setting up
//
// Run [Migrate] before serving, from every replica if you like: it creates
// or upgrades the schema under an advisory lock, idempotently, and records
// each applied version in installvault_schema_migrations. Or run it from a
// deploy step and call [CheckSchema] at start-up.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	if err := postgres.Migrate(ctx, pool); err != nil { ... }
//	backend, err := postgres.New(pool)
//	store, err := crypto.NewStore(backend, keys)
//
// The tables go in the first schema of the pool's search_path: public by
// default; to keep them apart, create a schema and name it in the URL
// (postgres://app@db/app?search_path=installvault) or in
// pgxpool.Config.ConnConfig.RuntimeParams["search_path"].
// The role needs SELECT, INSERT, UPDATE and DELETE on the tables and USAGE
// on the sequence; Migrate also needs CREATE on the schema.
//
// # Schema (version 2)
//
// Tenants are "ENTERPRISE:TEAM" with empty parts left empty (":T123",
// "E1:T2", "E1:" for an org-wide install), prefixed with "CLIENTID/" in a
// store scoped to one Slack app ([WithClientID]: "1234.5678/:T123"); IDs
// are Slack IDs (letters, digits, '_', '.', '-'), checked by the table too.
//
//	installvault_tenants       one row per tenant
//	  tenant text PK             "ENTERPRISE:TEAM", or "CLIENTID/ENTERPRISE:TEAM"
//	  app text                   the client ID ('' unscoped; a CHECK ties it to the key's prefix)
//	  version bigint             from installvault_version_seq: every write takes a new, larger one,
//	                             never reused, even after a delete and re-install
//	  user_id text               the latest installer ('' when none)
//	  record jsonb               the latest installation's non-secret fields
//	  user_token, user_refresh_token, webhook_url text   its secrets, as given (sealed)
//	  bot jsonb                  the bot's non-secret fields; NULL: no bot
//	  bot_token, bot_refresh_token text                  its secrets, as given (sealed)
//	  bot_due, user_due bigint   when the bot's / the latest user's rotating token expires (Unix ns)
//	  due bigint                 generated: LEAST(bot_due, user_due), the record's refresh time
//	installvault_users         one row per user installation
//	  (tenant, user_id) PK       tenant REFERENCES installvault_tenants ON DELETE CASCADE
//	  app text                   as the tenant's
//	  record jsonb; user_token, user_refresh_token, webhook_url text; due bigint (that user's tokens only)
//	installvault_history       one row per history entry (WithHistory)
//	  (tenant, installed_s, installed_ns, user_id) PK   the tenant key, InstalledAt (Unix s, ns), the user ('' none)
//	  version bigint; record jsonb; user_token, user_refresh_token, webhook_url text;
//	  bot jsonb; bot_token, bot_refresh_token text      the installation as stored, with the bot it carried
//	installvault_nonces        an unscoped store's: hash bytea PK (SHA-256 of the nonce), expires_at timestamptz
//	installvault_app_nonces    a scoped store's: (app, hash) PK, expires_at
//	installvault_leases        an unscoped store's: name text PK, owner text, expires_at timestamptz
//	installvault_app_leases    a scoped store's: (app, name) PK, owner, expires_at
//	installvault_schema_migrations   version integer PK, applied_at timestamptz
//
// Indexes: the primary keys; installvault_tenants_app_due (app, due,
// tenant) and installvault_users_app_due (app, due, tenant, user_id), both
// partial (WHERE due IS NOT NULL), so that a record holding no rotating
// token costs the due index nothing and an app's tick reads its own due
// records only; installvault_nonces_expires (expires_at) and
// installvault_app_nonces_expires (app, expires_at) for the sweeps. Version
// 1's installvault_tenants_due (due, tenant) and installvault_users_due are
// kept for replicas of the previous release during a rolling upgrade (they
// cost one more index entry per write of a rotating record; a later
// migration drops them).
//
// # Upgrading from version 1
//
// Migrate to version 2 is additive and in place: it adds the app columns
// (defaulting to the empty string, what an unscoped store writes, so no row is
// rewritten), loosens the tenant key's CHECK to allow the prefix (NOT
// VALID: existing rows met the stricter check, so they are not scanned),
// builds the per-app due indexes (this locks writes to the two tables
// while it runs, once) and creates the new tables. The previous release
// keeps working against version 2, so replicas can be upgraded one at a
// time: its statements name the same keys and columns, and its rows are an
// unscoped store's. Limits while it still runs: its stores write no
// history entry and its uninstalls delete none, and its listings would
// report a scoped app's rows as corrupt, so scope an app into a shared schema once every replica runs
// this release. [CheckSchema] names each missing version and what it adds.
//
// # Installation history
//
// With [WithHistory], StoreInstallation writes the installation as stored
// (its Version, InstalledAt and Bot.InstalledAt set, the bot it carried or
// none) into installvault_history in the same statement as the records:
// a store that fails leaves neither, a stored install always has its
// entry. The same (tenant, user, InstalledAt) again replaces the entry.
// Updates and DeleteBot touch no entry. Deleting a tenant deletes its
// history (for a workspace of an enterprise, also the standalone team's),
// a user delete that user's entries, a user delete that empties the tenant
// the tenant's history, all in the delete's transaction, after the
// statement that deleted or locked the tenant's row, so a store that
// committed while the delete waited has its entry deleted too; the Grid
// supersede inside StoreInstallation deletes the standalone record and
// keeps its history. Deletes purge history also in a store built without
// WithHistory (another replica may keep it). Entries hold what a record
// holds: secrets as given, sealed by package crypto. ListHistory reads one
// page of the primary key per query, newest first; entries that do not
// decode, or that name another user or install time than their key, are
// skipped and named. Cost: with history off, nothing (a separate
// statement text); on, one more row and index entry per store, in the
// same round trip.
//
// # Several apps in one schema
//
// [WithClientID] scopes a store to one Slack app: its tenant keys carry the
// client ID prefix and its rows the app column, so its fetches (and their
// Grid fallbacks), updates, deletes and history address its own rows only;
// ListInstallations scans its own key range ("CLIENTID/" to "CLIENTID0"),
// ListDue probes the per-app partial indexes, and its nonces and leases are
// rows of installvault_app_nonces and installvault_app_leases under its
// client ID. An unscoped store (the default) keeps version 1's layout
// exactly, and its listings pass over the apps' rows by their app column
// (a listing of an unscoped store in a schema shared with apps reads the
// apps' rows too, and skips them; its due tick does not).
//
// Secrets have columns of their own, apart from the jsonb metadata: a
// role can be granted the metadata columns only (column privileges), and no
// JSON tool or log of a record ever sees a secret. Nonces are stored as
// their SHA-256, so the table never holds a usable OAuth state.
//
// # Guarantees
//
//   - Each write is atomic: StoreInstallation and UpdateInstallation are one
//     statement (the tenant's row, the user's row, the history entry, and
//     for a Grid migration the deletion of the standalone row); deletes
//     are one transaction, with their history.
//     A connection lost mid-write leaves all of it or none of it.
//   - Reads are one statement: a user's record and its tenant's bot and
//     Version come from one snapshot, and the fallbacks of the contract (a
//     workspace of an enterprise to its standalone record, then to the
//     org-wide install) are resolved in the same statement.
//   - UpdateInstallation compares the Version on the locked row, so of two
//     writers that read the same Version exactly one wins; it never
//     re-creates a deleted tenant or user.
//   - Nonces: exactly one PutNonce of a live nonce and one ConsumeNonce
//     succeed across all replicas (INSERT ... ON CONFLICT, DELETE ...
//     RETURNING). Expiry is checked against the store's clock
//     ([WithClock]), as the caller's expiresAt was computed; expired rows
//     are swept in batches by later puts.
//   - Leases: one holder at a time across replicas; expiry is by the
//     database's clock, so replicas' clock skew does not matter
//     ([WithLeaseClock] substitutes a fake clock, for tests).
//   - Listings use keyset pagination ([WithListPageSize] rows a query):
//     bounded memory and no connection held while fn runs. ListDue reads
//     the partial indexes only: a tick with nothing due is two index probes,
//     however many tenants are stored. It does not lag writes.
//   - A row that does not decode gives [installstore.ErrCorrupt] on fetch,
//     is skipped and named by listings, and is deleted like any other.
//
// # Statements per operation
//
// Each statement is one round trip, once pgx has prepared it on a
// connection (TestStatementsPerOperation pins these):
//
//   - FetchInstallation, with or without a user, through the Grid
//     fallbacks or not: 1.
//   - StoreInstallation (with the Grid supersede and the history entry),
//     UpdateInstallation, DeleteBot, DeleteBotIf, PutNonce, ConsumeNonce,
//     AcquireLease, ReleaseLease, PutHistory: 1. A lost condition costs one more read, to say
//     whether it was a conflict or a missing record.
//   - DeleteInstallation of a tenant: 4 (BEGIN, DELETE, DELETE its history,
//     COMMIT); of a user: 5 (BEGIN, lock the tenant's row, DELETE the user
//     and its entries, UPDATE, COMMIT), two more when the tenant is left
//     with nothing to serve; twice the work for a workspace of an
//     enterprise with a standalone record.
//     DeleteInstallationIf: one more (the locked read of the version).
//   - ListDue: 2 with nothing due, whatever the number of tenants (one probe
//     of each partial index), and one more per page of due records.
//   - ListInstallations: one per page of tenants, one per page of users.
//   - ListHistory: one per page of entries.
//
// # Errors
//
// Operations that failed in a way that certainly changed nothing
// (serialization failure 40001, deadlock 40P01, lock timeout, a connection
// that failed before the request was sent) are retried a few times with a
// short backoff. What still fails transiently wraps
// [installstore.ErrUnavailable]: connection errors, SQLSTATE class 08,
// 40001/40P01 after the retries, 57P01/57P02/57P03 (administrator or crash
// shutdown, server starting), class 53 (insufficient resources), timeouts
// that are not the caller's, a standby during a failover (25006). The
// caller's own cancellation or deadline is returned as such, never as
// ErrUnavailable. Every error names the operation and tenant once, wraps
// the driver's error (errors.As finds the *pgconn.PgError), and carries no
// secret and no statement argument: PostgreSQL's messages that quote a
// value (data exceptions, class 22) are reduced to their SQLSTATE.
//
// One case no client can tell apart: a connection lost after the database
// committed a write but before its answer arrived. The write then happened
// entirely, though the call reports ErrUnavailable. Retrying is safe:
// StoreInstallation stores again, and UpdateInstallation reports
// [installstore.ErrConflict], after which the caller re-reads.
package postgres
