// Package redisstore is the installstore backend on Redis (go-redis v9), on
// a standalone server, a Sentinel-managed failover pair, or Redis Cluster.
// [Store] implements [installstore.FullStore]: several replicas of a Slack
// app share one Redis safely, and every write is atomic.
//
// By default the store refuses to write a secret that is not sealed by
// package crypto; wrap it with crypto.NewStore. [WithPlaintextSecrets]
// lifts that, for local experiments only. [WithKeyPrefix] namespaces every
// key, so several test suites (or deployments) share one Redis;
// [WithClientID] scopes a store to one Slack app among several sharing one
// prefix ([installstore.AppScoped]). [WithHistory] keeps every installation
// ever stored ([installstore.History]).
//
// # Guarantees
//
//   - Every write to a tenant (store, conditional update, deletes) is one Lua
//     script (EVALSHA, falling back to EVAL), which Redis runs alone: readers
//     never see half a write, and a conditional update or delete compares and
//     writes in one step.
//   - All keys of a tenant (its history included), of its standalone twin (the same team before it
//     joined an Enterprise Grid organization), and the version counter and
//     due index they use, belong to one of 1 024 key groups, chosen by the
//     team ID, with its own hash tag: on Cluster a script only ever touches
//     one slot, so the Grid migration (storing (E, T) removes (no
//     enterprise, T)) and the due index are updated in the same script as
//     the tenant — there is no window in which they disagree.
//   - Versions come from the group's counter, at least the server's clock
//     in microseconds and above the tenant's stored Version: never reused for
//     a tenant, even after a delete and re-install.
//   - A slot migration (resharding) moves a group's keys together; while
//     they are split between two masters, go-redis follows ASK and MOVED and
//     retries TRYAGAIN (the test suite moves a group's slot four times under
//     a storm: about 450 such replies, no call failed, nothing was lost).
//   - The due index is exact (no lag): one sorted set per group scored by
//     [installstore.Installation.RefreshAt] in Unix milliseconds.
//   - Nonces are stored as their SHA-256 with SET NX PX; consumption deletes
//     the key in a script, so exactly one caller consumes a nonce.
//   - Leases are SET PX of the owner, granted, extended and released by
//     scripts that check the owner.
//   - Writes carry a token naming them, so a write that go-redis retried
//     after a lost reply (it retries on EOF and dial errors) recognizes its
//     own effect instead of reporting a conflict or a consumed nonce.
//   - Records that do not decode (or name another tenant or user than their
//     key) give [installstore.ErrCorrupt] on fetch, are skipped and named by
//     listings (each as its own error, which installstore.CountSkipped
//     counts), and are deleted like any other: the scripts never parse a
//     record.
//
// # Installation history
//
// With [WithHistory], the store script that writes an installation also
// writes it, as stored (its Version, InstalledAt and the bot it carried,
// secrets as sealed), as the history entry of (tenant, user, InstalledAt)
// in the tenant's key group: a stored installation always has its entry,
// a failed store leaves none, and storing the same installation again
// replaces it. Updates and bot revocations never touch history. A tenant
// delete (plain or conditional, and the user delete that leaves the tenant
// without a token) deletes the tenant's history, and for a workspace of an
// enterprise that of its standalone twin; a user delete deletes that
// user's entries. The Grid migration removes the twin's record but keeps
// its history. Deletes remove history whether history is on or off, so
// turning it off never strands tokens. ListHistory reads the tenant's
// index newest first, 100 entries a page (a ZRANGE and an HMGET), and
// with a UserID reads the same pages for that user's entries: history is
// sized for a tenant's installs, not for millions of entries per tenant.
// Without WithHistory, ListHistory and PutHistory give
// [installstore.ErrHistoryOff] and nothing more is written than before.
// Turn history on once every replica runs a release that has it: an
// earlier release's uninstall does not know the history keys and would
// leave them behind.
//
// Cost: a store stays one script and one round trip; an entry adds about
// 1.1 kB of Redis memory (1.6 kB sealed by package crypto) for the suite's
// fixture. The store script refuses (WRONGTYPE, [installstore.ErrCorrupt],
// nothing written) a tenant whose history keys hold another type; deleting
// the tenant clears them.
//
// # Several apps in one Redis
//
// [WithClientID] puts every key of the store under the hash tag
// "{p@clientID:...}" instead of "{p:...}": records, history, due index,
// version counters, nonces and leases. A key prefix cannot hold '@' and a
// client ID cannot hold ':', so an app's keys are never an unscoped
// store's, another app's, or another prefix's; listings and the due index
// walk the store's own keys only. An unscoped store (no WithClientID) keeps
// exactly the layout of earlier releases, so existing data stays where it
// is.
//
// # Data layout
//
// p is the key prefix (p@clientID for a store with [WithClientID]), g the
// group (3 hex digits: CRC-32 of the team ID, the enterprise ID for an
// org-wide install, modulo 1 024), t a tenant's key "ENTERPRISE:TEAM"
// ([installstore.Tenant.Key]: empty parts left empty, e.g. ":T1", "E1:T2",
// "E1:"):
//
//	{p:g}:t:<t>        hash: the tenant (fields below)
//	{p:g}:seq          string: the group's version counter
//	{p:g}:due          sorted set: "<t>" (latest record) and "<t>#<uid>"
//	                   (user records) scored by refresh time, Unix ms
//	{p:g}:tenants      sorted set: "<t>" of every tenant, score 0
//	{p:g}:h:<t>        hash: the tenant's history entries (WithHistory):
//	                   field "<when>:<uid>", value the entry (JSON)
//	{p:g}:hi:<t>       sorted set: the same "<when>:<uid>", score 0, in
//	                   install time order (<when>: 16 hex digits of the
//	                   Unix seconds + 2^63, 8 of the nanoseconds)
//	{p:n:<sha256 hex>} string: a nonce; {p:n:<sha256 hex>}:c:<token> for a
//	                   minute after its consumption
//	{p:l:<hex>}        string: a lease's owner, expiring with the lease
//	                   (hex: the first 16 bytes of the SHA-256 of its name)
//
// Every key starts with "{p:" (or "{p@clientID:") and a fixed shape after
// it, so the keys of a prefix that extends another ("app" and "app:n")
// never meet.
//
// A tenant hash holds v (Version), w (the token of the write that set it),
// lrec (the latest installation without bot and user, JSON), luser and lu
// (the latest installer and their ID), lk and ld (whether the latest
// installer holds a user token, and its due time), bot and bd (the bot,
// JSON, and its due time), and for every other user uid: r:<uid> and
// p:<uid> (that user's installation and user, JSON) and k:<uid> (whether
// it holds a user token). The latest installer's installation is stored
// once, as lrec and luser. The secrets inside (tok, rtok, url) are stored
// as sealed by package crypto.
//
// A history entry is {"f":1,"ver":Version,"rec":...,"user":...,"bot":...}:
// f is its format (an entry of a format this release does not know is
// skipped and reported, never misread), rec, user and bot are encoded as
// in the tenant hash.
//
// Memory: 1 562 B per installation (one tenant, one user, every field of
// the conformance suite's fixture, indexes included; MEMORY USAGE), 2 266 B
// sealed by package crypto. With hash-max-listpack-value 2048 (default 64)
// Redis keeps such a tenant hash as a compact listpack: 978 B and 1 746 B
// (field access becomes O(fields), which is what a listpack of at most
// hash-max-listpack-entries fields costs). With [WithHistory], one entry
// each: 2 671 B and 3 786 B.
//
// # Commands per operation
//
//   - FetchInstallation: one HMGET (with a UserID it reads the latest
//     installation too, which is that user's when they installed last). A
//     workspace of an enterprise with no
//     record of its own costs one more for its standalone record and one
//     more for the org-wide installation.
//   - StoreInstallation, UpdateInstallation, DeleteInstallation(If),
//     DeleteBot(If), PutHistory: one script each.
//   - ListHistory: one ZRANGE BYLEX REV ... LIMIT 0 100 and one HMGET per
//     100 entries of the tenant.
//   - PutNonce, ConsumeNonce, AcquireLease, ReleaseLease: one script each.
//   - ListDue: 8 pipelines of 128 ZRANGE BYSCORE ... LIMIT 0 100, plus one
//     call per further page of a group with more than 100 records due.
//   - ListInstallations: 8 pipelines of 128 ZRANGE BYLEX for the tenants,
//     then per tenant one HMGET (the latest installation and its installer's)
//     and one HSCAN + HMGET per 100 other users.
//
// # Errors
//
// A lost or refused connection, a timeout, an exhausted pool, and the
// replies LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY, BUSY,
// NOREPLICAS, OOM (maxmemory reached under noeviction) and "max number of
// clients" wrap [installstore.ErrUnavailable] (go-redis has already retried
// them MaxRetries times); a script refused with one of these replies wrote
// nothing. A cancelled context is the caller's and is returned as such.
// redis.Nil is never an error. WRONGTYPE (a key holding another type than the store writes)
// wraps [installstore.ErrCorrupt]. Errors name the operation and tenant
// once, never a value.
//
// As with any networked store, a timeout or lost connection after a
// script was sent leaves unknown whether Redis ran it: the call reports
// ErrUnavailable, and the script either ran whole or not at all. Retrying
// is safe: a store writes the same content again under a new Version, a
// conditional update that did land makes its retry fail with ErrConflict
// (fetch again and compare), a delete is idempotent.
//
// # Durability: what an acknowledged write survives
//
// A write is acknowledged once the master applied it in memory. What a
// crash then loses depends on the server's persistence, not on this
// package:
//
//   - RDB snapshots only (save, the Redis default without appendonly):
//     everything written since the last snapshot — minutes of installs,
//     refreshed tokens (whose predecessors Slack has already invalidated:
//     a lost refresh means a re-install) and consumed nonces (which become
//     usable again).
//   - appendonly yes with appendfsync everysec (the Redis default once AOF
//     is on): up to about one second of acknowledged writes on a power loss
//     or kernel crash. A killed redis-server process usually loses nothing:
//     Redis writes the AOF to the kernel before it replies, unless a slow
//     disk made it postpone that write (by up to two seconds).
//   - appendonly yes with appendfsync always: nothing acknowledged, at the
//     cost of one fsync per write (the test suite kills redis-server with
//     SIGKILL mid-storm under this setting and finds every acknowledged
//     write).
//   - Replication is asynchronous: a failover (Sentinel or Cluster) to a
//     replica that lagged loses what the replica had not received, whatever
//     the master's fsync policy. WAIT numreplicas timeout after a write
//     narrows that window (it does not make Redis strongly consistent);
//     min-replicas-to-write refuses writes when too few replicas are
//     connected.
//
// A production deployment needs: appendonly yes with appendfsync everysec
// (or always, for no loss of acknowledged writes on one machine),
// maxmemory-policy noeviction (under any eviction policy Redis silently
// drops keys when memory is full: tokens, version counters and index
// entries would vanish without an error; under noeviction writes fail with
// OOM, which the store reports as ErrUnavailable), a persistence dir on
// durable storage, and no client reading from replicas (New refuses a
// ClusterClient with ReadOnly, RouteByLatency or RouteRandomly; it cannot
// see a Sentinel client made with ReplicaOnly, which must not be used
// either).
package redisstore
