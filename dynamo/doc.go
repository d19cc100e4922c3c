// Package dynamo is the production installstore backend, on Amazon DynamoDB
// (aws-sdk-go-v2). [Store] implements [installstore.FullStore]: several
// replicas of a Slack app share one table safely. Its guarantees: every
// write to a tenant is one conditional request or transaction, so a failed
// call wrote nothing (or, for a tenant delete, left a tenant that already
// reads as deleted); no read ever pairs records of two tenants or two
// versions; a deleted tenant never comes back with a later install; a
// transient failure says so ([ErrUnavailable]); a malformed item is never
// handed out ([ErrMalformedItem]).
//
// By default the store refuses to write a secret that is not sealed by
// package crypto; wrap it with crypto.NewStore. [WithPlaintextSecrets]
// lifts that, for local experiments only.
//
// # Table schema
//
// One table, created by [CreateTable] or by your own tooling with exactly:
//
//   - partition key PK (String), sort key SK (String);
//   - a global secondary index named "due": partition key dueShard
//     (String), sort key due (Number), projection KEYS_ONLY. A table made
//     before the index existed gets it with [AddDueIndex];
//   - on-demand capacity (PAY_PER_REQUEST), or provisioned if you size it;
//   - Time to Live enabled on attribute "ttl".
//
// Items (IDs are Slack IDs: letters, digits, '_', '.', '-'; tenant is the
// tenant's key "ENTERPRISE:TEAM" ([installstore.Tenant.Key]) with empty parts
// left empty, e.g. ":T123", "E1:T2", "E1:" for an org-wide install):
//
//	PK                  SK            attributes
//	T#<tenant>          LATEST        v (N)   version of the tenant, grows on every write
//	                                  rec (M) the latest installation (below)
//	                                  bot (M) the tenant's bot, absent when none
//	                                  due (N), dueShard (S): see the due index
//	                                  tomb (BOOL) only on a tombstone (below)
//	                                  keepHist (BOOL) only on a Grid migration's tombstone
//	T#<tenant>          USER#<uid>    v (N)   the tenant's version when the item was written
//	                                  rec (M) user uid's installation
//	                                  due (N), dueShard (S)
//	T#<tenant>          H#<at>#<uid>  with WithHistory: one installation as stored (below)
//	                                  v (N)   the Version the store gave it (PutHistory:
//	                                          the entry's, at most the writer's clock)
//	                                  hv (N)  its Version, only when not v (PutHistory)
//	                                  rec (M), bot (M): as on LATEST, bot absent when none
//	NONCE#<sha256 hex>  NONCE         exp (N) expiry, Unix ms; ttl (N) expiry, Unix s
//	LEASE#<name>        LEASE         owner (S); exp (N) Unix ms; ttl (N) Unix s
//
// rec holds app, ent, entName, entURL, team, teamName, tokType (S), org
// (BOOL), at (S, RFC 3339 install time), user (M: id, tok, rtok, exp,
// scopes) and hook (M: url, ch, chID, cfg); bot holds id, uid, tok, rtok,
// exp, at (S) and scopes (L of S). Empty values are omitted. tok, rtok and
// url are the secrets, stored as sealed by package crypto. Nonces are stored
// as their SHA-256, so the table never holds a usable OAuth state.
//
// A tombstone is a LATEST item holding only v and tomb = true (and
// keepHist = true when a Grid migration made it): the tenant
// was deleted and its other items are being removed. It reads as no tenant,
// keeps the tenant's version floor (a re-install writes above it), and is
// removed when the sweep ends; a sweep cut short by a failure is finished by
// the next delete or install of the tenant.
//
// Every format change so far is additive: attributes and items a release
// does not know are ignored by the releases before it (an older release
// lists LATEST items only, and its tenant deletes remove history items with
// the rest of the partition), and a table written by an older release needs
// no migration for this one.
//
// DynamoDB's TTL sweeper removes expired nonces and leases eventually (DynamoDB
// Local never does); the store enforces the exact expiry "exp" in its
// conditions, so an expired item is refused the moment it expires.
//
// # The due index
//
// Every LATEST and USER# item holding a rotating token (a token with a
// refresh token and an expiry) carries, unsealed, due: the Unix ms of
// [installstore.Installation.RefreshAt] of what the item holds (a LATEST
// item: the bot and the latest installer's user tokens; a USER# item: that
// user's tokens), and dueShard: "DUE#00" to "DUE#15", from an FNV-1a hash
// of PK, so that no index partition is hot when many tokens expire at once.
// Items without a rotating token carry neither and are not in the index
// (it is sparse). [Store.ListDue] queries the 16 shards in parallel; a tick
// with nothing due reads no item of the table. The index is eventually consistent, as
// every global secondary index: it lags writes by a moment.
//
// # Installation history
//
// [WithHistory] keeps every installation a store stores
// ([installstore.History]): one item per (tenant, User.ID, InstalledAt),
// in the tenant's own partition, sort key "H#" + the install time (UTC,
// nanoseconds, fixed width, so the sort key orders entries by time) + "#" +
// the user ID (empty for a bot-only install). It holds the record and bot
// exactly as the LATEST item does (sealed values under package crypto), no
// due index attribute, and v = the Version the store gave it. The entry is
// written in the same TransactWriteItems as the records (a store with
// history is always a transaction: one more write of the item's size), so
// a failed store leaves neither and a stored install always has its entry;
// the same key again replaces it. Updates, DeleteBot and DeleteBotIf never
// touch history.
//
// [Store.ListHistory] is one consistent Query of the partition's sort keys
// "H#" to "LATEST", newest first, paged by DynamoDB (bounded memory): the
// LATEST item comes first, so a tenant whose delete is under way (a
// tombstone) already reads as having no history. With a UserID the same
// Query is filtered by the user in each sort key (it reads the whole
// tenant's history). A tenant delete removes the history with the rest of
// the partition: the tombstone first (from then on records and history read
// as deleted), then one conditional DeleteItem per item, page by page,
// whatever the history's length (no transaction, so no 100-item limit; a
// delete cut short is finished by the next delete or install). A user
// delete removes the user's entries after its transaction, each conditioned
// on having been written before it (a re-install landing meanwhile keeps
// its entry); with no record left for the tenant (the standalone history a
// Grid migration kept) in TransactWriteItems of 99 deletes under a
// ConditionCheck that the tenant still has no record. The Grid migration of
// StoreInstallation marks the standalone tombstone keepHist: its sweep
// removes the records and keeps the history, until a delete of the team
// under either form. Replicas sharing a table should agree on WithHistory:
// a store without it writes no entries, and its Grid migrations do not keep
// the standalone history.
//
// # Several apps in one table
//
// [WithClientID] scopes a store to one Slack app: every key it writes is
// prefixed "A#<client ID>#" (records, history, tombstones, nonces, leases:
// "A#<id>#T#<tenant>", "A#<id>#NONCE#...", "A#<id>#LEASE#..."), and its due
// index entries live in the app's own shards "A#<id>#DUE#00" to "...#15".
// An unscoped store's items keep exactly the layout above, so a table used
// by one app gains others without a migration. No key of one scope is a key
// of another (a client ID holds no '#'), every read addresses its own keys,
// and every scan filters on its scope's prefix: no call of one app's store
// reads, lists, lists as due, deletes, consumes or leases another app's
// items, nor an unscoped store's, nor the other way round; corrupt items
// are reported by their own scope's listings only.
//
// What a shared table costs: fetches, writes and ListDue cost what they
// cost alone (the due index is per app through its shard keys: a tick reads
// only its own app's 16 shards). Scans read every item of the table and
// filter after reading, so [Store.ListInstallations] and [AddDueIndex] of
// one app pay (in read units and time) for every app's items, and for
// history items; tables that are listed often are cheaper one per app.
// Provisioned capacity and throttling are shared by all apps of the table.
//
// # Requests per operation, and why the transactions
//
// Capacity units as DynamoDB Local reports them (ReturnConsumedCapacity
// TOTAL) for items with sealed tokens (about 1 KB); run
// go test -run TestConsumedCapacity -v ./dynamo/ for the current figures.
// A transactional read or write costs twice a plain one, so each
// transaction below is there for a stated reason.
//
//   - FetchInstallation: one consistent GetItem of LATEST (1 RCU). With a
//     UserID, one TransactGetItems of LATEST and USER#uid (4 RCU): a
//     snapshot, so that a user record is never paired with a Version it was
//     not current under, which would let an update based on it overwrite a
//     newer record. A workspace of an enterprise with no installation of its
//     own reads the standalone and the org-wide record in parallel (3 RCU
//     without a user).
//   - StoreInstallation: one UpdateItem of LATEST, or with a User.ID one
//     TransactWriteItems (LATEST + USER#uid: the two never disagree; 6 to 10
//     WCU with the index entries). Versions are the writer's clock in
//     microseconds, or the stored version + 1 when that is larger (the
//     condition "v < new" fails, and the write is retried above the stored
//     version): a re-created tenant never reuses a Version. A workspace of
//     an enterprise costs one more GetItem, for the standalone record it
//     supersedes (turned into a tombstone in the same transaction).
//   - UpdateInstallation: one write conditioned on v = inst.Version (6 WCU
//     for a user's record: the transaction keeps LATEST and USER# in step);
//     a USER# item is replaced only if it exists. A second attempt, under
//     the same condition, when the LATEST record is another user's.
//   - DeleteInstallation of a user: one GetItem and one TransactWriteItems
//     (1 RCU, 4 WCU); of a tenant: one UpdateItem to a tombstone, one Query,
//     one conditional DeleteItem per other item, one DeleteItem of the
//     tombstone (1 RCU, 5 WCU for a tenant with one user). The
//     ConditionalDeleter forms are the same requests, conditioned on the
//     version the caller saw.
//   - DeleteBot: one GetItem and one conditional UpdateItem. PutNonce,
//     ConsumeNonce, AcquireLease, ReleaseLease: one conditional write each.
//   - ListDue: 16 Queries of the index, keys only, whatever the table
//     holds: DynamoDB Local reports 0 RCU for a tick with nothing due and 5
//     RCU for 20 due records; DynamoDB bills a query that returns nothing
//     the minimum of an eventually consistent read, half a unit, so a tick
//     with nothing due costs 8 RCU on DynamoDB, at 200 tenants as at
//     100 000.
//   - StoreInstallation with [WithHistory]: always one TransactWriteItems,
//     with the history entry as one more Put. DynamoDB Local reports the
//     same units as without history (10 WCU for a new tenant with a user, 6
//     for a re-install); DynamoDB bills the entry as one more transactional
//     write, 2 WCU per KB (about 2 WCU for an entry with sealed tokens), and
//     a store without a user becomes a transaction (twice its UpdateItem).
//     ListHistory: one Query (1 RCU for 2 entries; more pages for long
//     histories). A user delete with history on adds one Query and one
//     conditional DeleteItem per entry of the user; a tenant delete, one
//     DeleteItem per entry.
//   - ListInstallations: a Scan for LATEST items ([WithScanSegments]
//     parallel segments, [DefaultScanSegments] by default), then per tenant
//     one consistent Query of its LATEST and USER# items; only users whose
//     record an earlier write wrote are read again, by TransactGetItems
//     (the same snapshot as a fetch with a user). 200 tenants with one
//     user each: 303 RCU and 206 requests (the previous release, a Query
//     and a TransactGetItems per tenant: 1 110 RCU, 406 requests).
//
// # Errors
//
// Throttling and transient errors are retried by the client's retryer (set
// it with config.WithRetryer: attempts, backoff, retry quota); transaction
// conflicts with other in-flight transactions are retried by the same
// retryer. What still fails wraps [ErrUnavailable] (and so
// [installstore.ErrUnavailable]) and the SDK's typed error, and names the
// operation and tenant; the caller's own cancellation is not
// ErrUnavailable. Lost conditions map to [installstore.ErrConflict] or
// [installstore.ErrNotFound]. Items that do not decode give errors wrapping
// [ErrMalformedItem] (and so [installstore.ErrCorrupt]) that name the
// attribute, never its value; listings go past them and name them.
package dynamo
