// Package dynamo is the production installstore backend, on Amazon DynamoDB
// (aws-sdk-go-v2). [Store] implements [installstore.FullStore]: several
// replicas of a Slack app share one table safely.
//
// By default the store refuses to write a secret that is not sealed by
// package crypto; wrap it with crypto.NewStore. [WithPlaintextSecrets]
// lifts that, for local experiments only.
//
// # Table schema
//
// One table, created by [CreateTable] or by your own tooling with exactly:
//
//   - partition key PK (String), sort key SK (String), no secondary index;
//   - on-demand capacity (PAY_PER_REQUEST), or provisioned if you size it;
//   - Time to Live enabled on attribute "ttl".
//
// Items (IDs are Slack IDs: letters, digits, '_', '.', '-'; tenant is
// "ENTERPRISE:TEAM" with empty parts left empty, e.g. ":T123", "E1:T2",
// "E1:" for an org-wide install):
//
//	PK                  SK            attributes
//	T#<tenant>          LATEST        v (N)   version of the tenant, grows on every write
//	                                  rec (M) the latest installation (below)
//	                                  bot (M) the tenant's bot, absent when none
//	T#<tenant>          USER#<uid>    rec (M) user uid's installation
//	NONCE#<sha256 hex>  NONCE         exp (N) expiry, Unix ms; ttl (N) expiry, Unix s
//	LEASE#<name>        LEASE         owner (S); exp (N) Unix ms; ttl (N) Unix s
//
// rec holds app, ent, entName, entURL, team, teamName, tokType (S), org
// (BOOL), at (S, RFC 3339 install time), user (M: id, tok, rtok, exp,
// scopes) and hook (M: url, ch, chID, cfg); bot holds id, uid, tok, rtok,
// exp (S) and scopes (L of S). Empty values are omitted. tok, rtok and url
// are the secrets, stored as sealed by package crypto. Nonces are stored as
// their SHA-256, so the table never holds a usable OAuth state.
//
// DynamoDB's TTL sweeper removes expired nonces and leases eventually (DynamoDB
// Local never does); the store enforces the exact expiry "exp" in its
// conditions, so an expired item is refused the moment it expires.
//
// # Requests per operation
//
//   - FetchInstallation: one consistent GetItem of LATEST; with a UserID,
//     one TransactGetItems of LATEST and USER#uid (a snapshot: a user record
//     is never paired with a Version it was not current under, which would
//     let an update based on it overwrite a newer record). A workspace of an
//     enterprise with no installation of its own costs a second read for the
//     org-wide fallback.
//   - StoreInstallation: one UpdateItem of LATEST, or with a User.ID one
//     TransactWriteItems (LATEST + USER#uid). Versions are the writer's clock
//     in microseconds, or the stored version + 1 when that is larger (the
//     condition "v < new" fails, and the write is retried above the stored
//     version): a re-created tenant never reuses a Version.
//   - UpdateInstallation: one write conditioned on v = inst.Version; a USER#
//     item is replaced only if it exists.
//   - DeleteInstallation of a user: one TransactWriteItems. Of a tenant:
//     Query + BatchWriteItem of its USER# items + conditional DeleteItem of
//     LATEST, repeated if a write raced in.
//   - DeleteBot, PutNonce, ConsumeNonce, AcquireLease, ReleaseLease: one
//     conditional write each.
//   - ListInstallations: a Scan for LATEST items, then per tenant a Query
//     and TransactGetItems.
//
// # Errors
//
// Throttling and transient errors are retried by the client's retryer (set
// it with config.WithRetryer: attempts, backoff, retry quota); transaction
// conflicts with other in-flight transactions are retried by the same
// retryer. What still fails wraps [ErrUnavailable] and the SDK's typed error,
// and names the operation and tenant; a failed transaction or conditional
// write wrote nothing. Lost conditions map to [installstore.ErrConflict] or
// [installstore.ErrNotFound]. Items that do not decode give errors wrapping
// [ErrMalformedItem] that name the attribute, never its value.
package dynamo
