// Package rotation keeps Slack's rotating OAuth tokens valid: one refresh per
// token at a time, in a process and across replicas; never a stale token
// handed out; never a caller holding a valid token kept waiting; and never
// a token Slack rotated dropped while the process that received it runs.
//
// With token rotation on, Slack access tokens expire (after 12 hours) and
// must be refreshed with oauth.v2.access (grant_type=refresh_token); every
// refresh also rotates the refresh token, so the old one stops working. A
// [Refresher] wraps an [installstore.FullStore] (typically crypto.NewStore
// over a backend, so that it sees plaintext [installstore.Secret] values and
// never touches sealing). Callers ask [Refresher.Authorize] for an
// installation whose tokens are valid, and never see the refresh mechanics,
// like golang.org/x/oauth2's ReuseTokenSource.
//
// # When callers wait
//
// A token is due when it has a refresh token and expires within the
// refresh margin ([WithRefreshBefore], default 2 hours):
//
//   - Due but still valid beyond the safety margin ([WithSafetyMargin],
//     default 1 minute): Authorize returns it at once and its refresh runs in
//     the background (outcome "served_while_refreshing"). A slow Slack, or a
//     lease held by a replica that died, never delays such a caller.
//   - Within the safety margin, or expired: the caller waits for the
//     refresh, as long as its context allows (a caller whose context ends
//     gets the context's error; the refresh goes on).
//
// # One refresh at a time
//
// Each token is a flight, keyed by tenant, and by user for user tokens (the
// bot token is shared by every record of a tenant):
//
//   - In process, concurrent callers share one flight. The flight runs
//     detached from any one caller's context, bounded by twice the lease TTL.
//   - Across replicas, the flight first takes the store's lease
//     "refresh:ENTERPRISE:TEAM:bot" (or ":user:USER") for a random
//     per-flight owner, for [WithLeaseTTL] (default 30s). A replica that
//     finds the lease held polls the store with bounded, jittered
//     exponential backoff until the token is fresh, and uses what the
//     holder wrote; a holder that died is taken over once its lease
//     expires.
//   - Whoever holds the lease re-reads the installation before calling
//     Slack, so a refresh someone finished meanwhile is reused, not redone.
//     Every read of a flight bypasses an encryption layer's record cache
//     (crypto.WithFreshRead): a cached record could hold a refresh token
//     another replica already rotated.
//
// # Writing back: no rotated token dropped
//
// Before calling Slack, the lease holder records the refresh's intent in
// the store (a nonce named after the lease and a fingerprint of the refresh
// token keyed with the client secret: no secret). Slack's answer is then
// written with [installstore.Updater.UpdateInstallation] on the Version read
// (an unrelated concurrent write is re-read and the tokens re-applied), and
// the intent removed. If the installation was deleted meanwhile nothing is
// written (no resurrection) and the caller gets [installstore.ErrNotFound].
//
// If the write cannot be made (the store or KMS unavailable, a write that
// failed after landing, conflicts in a row), the new tokens are kept in
// this process and the write is retried in the background, detached from
// every caller, with jittered exponential backoff (50ms doubling to 5s
// between attempts; to 5 minutes while the store refuses the write for a
// reason other than being unavailable or conflicting, such as a disabled KMS
// key or a corrupt record, since every attempt may call KMS) until it is
// stored, the installation or token is gone, or another writer replaced the
// token (a re-install). A write the store rejects as invalid
// ([installstore.ErrInvalid]) can never be made: it is given up at once and
// logged as an error ("write-back refused by the store as invalid"); the
// token's next refresh, which Slack rejects, reports the write-back lost and
// requires a re-install. Meanwhile callers in
// this process get the new tokens, not the dead ones, and the retrier keeps
// extending the lease, so that other replicas wait for the write instead
// of sending Slack the refresh token it already rotated (outcome
// "write_back_retried"; log "write-back failed; retrying in the
// background"). Call [Refresher.Wait] at shutdown so that a clean stop
// finishes these writes.
//
// # The remaining window
//
// One window cannot be closed from this side: from the moment Slack rotates
// the refresh token until its answer is stored, the new refresh token
// exists only in this process's memory (or on the wire). If the process
// dies in that window (SIGKILL, out of memory, host loss; normally the
// time of one store write, longer while the store is unavailable), or the
// answer never arrives (the connection drops after Slack processed the
// request), that token's tenant (or user, for a user token) must re-install
// the app: the stored refresh token no longer works. The next lease holder
// finds the intent still recorded, calls Slack once, is rejected, and
// names the loss: outcome "write_back_lost" ([Stats.WriteBackLost], also
// counted as reinstall_required), an error-level log line "rotation:
// write-back lost: ...", and an error matching [ErrReinstallRequired]
// whose text says "write-back lost". A store outage longer than the lease
// TTL can also let another replica find the intent while the first one's
// write is still being retried: it then reports a loss, and fails its
// callers, only until that write lands (the new stored refresh token lifts
// its mark).
//
// # Failing closed
//
// If a refresh fails and the current token expired or is within the safety
// margin, the call fails with an error matching [ErrRefreshFailed]: the
// expired token is never returned. The error keeps its class: it also
// matches [installstore.ErrUnavailable] when the store, KMS or Slack failed
// transiently (throttling, timeouts, 5xx, Slack's ratelimited,
// service_unavailable, ...), so a handler can answer "try again"; it
// matches [ErrReinstallRequired] only when Slack rejected the refresh token
// (invalid_refresh_token, invalid_grant) and the store confirmed, on a
// re-read, that nobody refreshed it meanwhile. A failure of Authorize's
// first read is returned as the store gave it, with its class.
//
// A store or KMS failure is never remembered: the first call after the
// outage refreshes. A failure of Slack or the network is remembered for
// [WithFailureBackoff] (default 5s, Slack's Retry-After when longer, at most
// 15 minutes): calls meanwhile get the same outcome without an
// oauth.v2.access call, so an outage of Slack is not answered with a storm.
// A refresh token Slack rejected is remembered as dead in this process, by
// fingerprint, so no further Slack call is made with it until the stored
// refresh token changes (a re-install) or 24 hours pass; unrelated writes to
// the tenant do not lift the mark.
//
// # Using tokens
//
// [Refresher.Client] returns a slack-go client with the bot token;
// [Refresher.Do] runs a Slack call and, if Slack answers token_expired (or
// invalid_auth for a token believed valid), forces one refresh and retries
// exactly once. [Refresher.Run] refreshes due tokens in the background from
// the store's due index ([installstore.DueLister]): a tick with nothing due
// reads no record and makes no KMS call; with D due records it reads each at
// most twice (once to see what is due, once under the lease) and makes one
// refresh per due token, each token of a record on its own. A record whose
// tokens all need a re-install is not read again while the index lists it
// with the same refresh time (nothing rewrote it), for up to 24 hours. It
// uses the same flights and leases as requests.
//
// # Bounded memory
//
// Per-token state is bounded: flights and pending write-backs live while
// they run; dead-token marks, records Run skips and failure backoffs expire
// and are swept as they grow, and each map holds at most 100 000 entries
// (forgetting one early costs one read or one oauth.v2.access call).
//
// # No secret printed
//
// Errors name the operation and the tenant, never a token. Nothing Slack
// sends reaches an error or a log: a Slack error code is kept only if it is
// one of a fixed list of known codes ("unrecognized error" otherwise), an
// HTTP failure by its status code, a network failure by its kind. Logs go
// to the [WithLogger] logger (discarded by default) and carry no secret.
package rotation
