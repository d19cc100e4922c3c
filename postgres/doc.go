// Package postgres is an installstore backend on PostgreSQL, through
// github.com/jackc/pgx/v5's pgxpool. [Store] implements
// [installstore.FullStore]: any number of replicas of a Slack app share one
// database safely, and every operation of the contract is one statement or
// one short transaction.
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
// # Schema (version 1)
//
// Tenants are "ENTERPRISE:TEAM" with empty parts left empty (":T123",
// "E1:T2", "E1:" for an org-wide install); IDs are Slack IDs (letters,
// digits, '_', '.', '-'), checked by the table too.
//
//	installvault_tenants       one row per tenant
//	  tenant text PK             "ENTERPRISE:TEAM"
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
//	  record jsonb; user_token, user_refresh_token, webhook_url text; due bigint (that user's tokens only)
//	installvault_nonces        hash bytea PK (SHA-256 of the nonce), expires_at timestamptz
//	installvault_leases        name text PK, owner text, expires_at timestamptz
//	installvault_schema_migrations   version integer PK, applied_at timestamptz
//
// Indexes: the primary keys; installvault_tenants_due (due, tenant) and
// installvault_users_due (due, tenant, user_id), both partial (WHERE due IS
// NOT NULL), so that a record holding no rotating token costs the due index
// nothing; installvault_nonces_expires (expires_at) for the sweep.
//
// Secrets have columns of their own, apart from the jsonb metadata: a
// role can be granted the metadata columns only (column privileges), and no
// JSON tool or log of a record ever sees a secret. Nonces are stored as
// their SHA-256, so the table never holds a usable OAuth state.
//
// # Guarantees
//
//   - Each write is atomic: StoreInstallation and UpdateInstallation are one
//     statement (the tenant's row, the user's row, and for a Grid migration
//     the deletion of the standalone row); deletes are one transaction.
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
//   - StoreInstallation (with the Grid supersede), UpdateInstallation,
//     DeleteBot, DeleteBotIf, PutNonce, ConsumeNonce, AcquireLease,
//     ReleaseLease: 1. A lost condition costs one more read, to say
//     whether it was a conflict or a missing record.
//   - DeleteInstallation of a tenant: 3 (BEGIN, DELETE, COMMIT); of a user:
//     5 (BEGIN, lock the tenant's row, DELETE, UPDATE, COMMIT), one more when
//     the tenant is left with nothing to serve; twice the work for a
//     workspace of an enterprise with a standalone record.
//     DeleteInstallationIf: one more (the locked read of the version).
//   - ListDue: 2 with nothing due, whatever the number of tenants (one probe
//     of each partial index), and one more per page of due records.
//   - ListInstallations: one per page of tenants, one per page of users.
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
