// Command installvault administers an installvault store — a DynamoDB
// table, a PostgreSQL schema, a SQLite file or a Redis keyspace: it lets
// operators see and manage the installations of a Slack app without ever
// seeing a token. No command prints, logs or writes a plaintext secret.
//
// Usage:
//
//	installvault <command> [flags]
//
// Every command has -h. Exit status: 0 success; 1 failure, or problems found
// (verify, rewrap); 2 usage error (bad flags, missing configuration).
//
// # Configuration
//
// Flags win over the environment:
//
//	-store          INSTALLVAULT_STORE              the store's URL (this or a table is required)
//	-table          INSTALLVAULT_DYNAMODB_TABLE     DynamoDB table name: the same as -store dynamodb:NAME
//	-endpoint       INSTALLVAULT_DYNAMODB_ENDPOINT  endpoint URL, for DynamoDB Local
//	-region         AWS_REGION, the profile         AWS region
//	-kms-key        INSTALLVAULT_KMS_KEY_ID         AWS KMS key (ID, ARN, alias) for new data keys
//	-kms-endpoint   INSTALLVAULT_KMS_ENDPOINT       KMS endpoint URL, for a local KMS
//	-kms-tenant-keys INSTALLVAULT_KMS_TENANT_KEYS   JSON file {"E1:T2": "arn:..."}: per-tenant keys
//	                INSTALLVAULT_LOCAL_KEYS         development keyring: one bare key, or name=key,name2=key
//	                                                (32 bytes, base64 or hex: openssl rand -base64 32)
//	-local-primary  INSTALLVAULT_LOCAL_PRIMARY      keyring key that seals new data keys
//
// The store URL is the one examples/slackapp reads from INSTALLVAULT_STORE
// too (one parser, internal/storeurl):
//
//	dynamodb:TABLE                                   package dynamo (-endpoint, -region, AWS credentials as below)
//	postgres://USER:PASSWORD@HOST:5432/DB[?search_path=SCHEMA&sslmode=...]   package postgres (postgresql:// too)
//	sqlite:PATH                                      package sqlite (sqlite:///abs/path too)
//	redis://[:PASSWORD@]HOST:6379[/DB][?prefix=P]    package redisstore on one server (rediss:// for TLS)
//	redis-cluster://[:PASSWORD@]H1:P1,H2:P2[?prefix=P]  package redisstore on Redis Cluster
//
// No output ever holds the URL's password: messages name the store with it
// replaced by xxxxx. Prefer the environment to -store for a URL with a
// password (a command line is visible to other users of the machine). -store
// and -table together, or INSTALLVAULT_STORE and INSTALLVAULT_DYNAMODB_TABLE
// naming different stores, are refused rather than guessed between. Only
// create-table creates a PostgreSQL schema or a SQLite file: every other
// command fails on a store that does not exist yet, so a mistyped URL never
// makes an empty store. Each command closes its store (pool, file, client)
// when it ends. Where several Slack apps share one store (each app's
// WithClientID), -client-id ID (default $INSTALLVAULT_CLIENT_ID) scopes
// every command to that app's records; without it a command sees only the
// unscoped records. -history opens the store with installation history on,
// on every backend.
//
// AWS credentials come from the SDK's default chain (environment, shared
// files, SSO, instance and container roles). For a local endpoint
// (DynamoDB Local) any credentials do: a failure to find them says to set
// AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x, and the region defaults to
// us-east-1. The SDK's own log output is dropped. Keys are needed only by verify
// and rewrap: exactly one of a KMS key and a local keyring. The keyring is
// read from the environment only, so keys never appear on a command line,
// in the format the example app reads too (crypto.ParseLocalKeys); no
// output ever quotes it, whatever it holds.
//
// # Nothing lost, nothing hidden
//
// Every command that goes through the store (list, verify, rewrap, export,
// scope-drift) processes every record it can read. A record the store
// holds but that does not decode (corrupt) or, for verify and rewrap, does
// not open is never shown or exported: it is named (tenant and user, never
// a value) and counted, the command goes on, and it exits 1 at the end.
// import reads its whole input before writing anything.
//
// Apps that give tenants their own KMS keys (crypto.WithTenantKey) must pass
// the same mapping to rewrap with -kms-tenant-keys: a JSON object from tenant
// (":T1", "E1:T2", "E1:" for an org-wide install) to key ID, ARN or alias.
// Without it, rewrap would re-seal every tenant under the default key.
//
// # Commands
//
// create-table creates the store. For dynamodb: it creates the table with
// the schema package dynamo documents (dynamo.CreateTable), due index
// included, waits until it is active, and fails if the table exists. For
// postgres:// it runs postgres.Migrate (creates or upgrades the schema in the
// URL's search_path; idempotent, safe beside running replicas); for sqlite:
// it creates the file (mode 0600) or upgrades its schema. A Redis store needs
// nothing: create-table checks that the server answers.
//
// add-due-index adds the due index (the global secondary index the
// background refresh reads, see package dynamo) to a table made before it,
// online, waits until it is built, and fills it in from unsealed attributes
// (dynamo.AddDueIndex). It is idempotent. It needs a dynamodb: store: the
// other stores have their due index from the start (create-table upgrades an
// older PostgreSQL schema).
//
// list prints every record — each tenant's latest installation and each
// user's installation — with its tenant, user, installer, version, install
// time, bot and user scopes, token expiry and KEYS: the provider and master
// key ID of its sealed values (crypto.SealedKey reads them without opening
// anything; UNSEALED and MALFORMED flag bad values without printing them).
// -json prints JSON lines instead of a table.
//
// verify streams the store's listing into -concurrency fetches through the
// encryption layer with the configured keys and prints every record that
// cannot be opened (FAIL), could not be checked because KMS or DynamoDB did
// not answer (UNAVAILABLE), or does not decode (CORRUPT): tenant, user, and
// an error naming the field, never a value. It exits 1 if any record is
// one of those. With -history it also opens every tenant's installation
// history entries through the encryption layer and counts them. Memory does
// not grow with the store.
//
// The long commands (verify, rewrap, export, import) print progress to
// stderr every -progress records and at least every -progress-interval
// (default 10s), with the rate and the time elapsed; when one fails or is
// interrupted, it says how far it got and how to resume: run verify and
// export again (they start over), import again (it leaves the same contents),
// rewrap again (records already under the current key are skipped).
//
// rewrap runs crypto.Rewrap: it re-seals every record under the current key
// (a new KMS key, or a new keyring primary with the old key still in the
// keyring), online, with conditional updates. It prints progress to stderr
// every -progress records and the counts (seen, rewrapped, already current,
// gone, failed, corrupt), and exits 1 if any record failed or is corrupt. A
// record is already current only once it opened under the current key. It is
// resumable: records already under the current key are not written again, so
// run it again after an interruption or failure until it exits 0, then retire
// the old key and run verify. With -history it rewraps every tenant's
// history entries too, and counts them on a line of their own.
//
// export writes every record, still sealed, as JSON lines (package backup) to
// a file (-o, mode 0600, renamed into place when complete) or stdout; it needs
// no key, and streams. With -history (the app keeps installation history) the
// tenants' history entries are in it too. import restores such a file (-i) or
// stdin into an
// existing store, of any kind (export from dynamodb:, import into
// postgres://, to move), idempotently (an interrupted import is run again), with
// -concurrency writes in flight; it validates the whole input before the
// first write, and refuses an empty one. A backup with history entries needs
// -history (restored after the records), or -skip-history to drop them.
// Restored records open with the keys that sealed them. Both print the
// records and history entries they wrote.
//
// purge deletes one tenant — -team T [-enterprise E], or -enterprise E -org
// for an org-wide install — and prints what it deleted. It asks nothing, and
// never touches another tenant. On DynamoDB it finds the tenant's items with
// one query of its partition; on the other stores, by listing the store.
//
// scope-drift lists the installations whose granted scopes differ from the
// ones given with -bot-scopes and -user-scopes (metrics.ScopeDrift).
//
// # Key rotation, step by step
//
//	export INSTALLVAULT_KMS_KEY_ID=arn:aws:kms:...:key/NEW   # the new key
//	installvault rewrap          # repeat until "0 failed"
//	# disable the old key in KMS
//	installvault verify          # every record opens under the new key
package main
