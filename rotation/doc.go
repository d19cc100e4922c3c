// Package rotation keeps Slack's rotating OAuth tokens valid: one refresh per
// installation at a time, in a process and across replicas, and never a
// stale token handed out.
//
// With token rotation on, Slack access tokens expire (after 12 hours) and
// must be refreshed with oauth.v2.access (grant_type=refresh_token). A
// [Refresher] wraps an [installstore.Store] (typically crypto.NewStore over a
// backend, so that it sees plaintext [installstore.Secret] values and never
// touches sealing). Callers ask [Refresher.Authorize] for an installation
// whose tokens are valid for at least the refresh margin, and never see the
// refresh mechanics, like golang.org/x/oauth2's ReuseTokenSource.
//
// # One refresh at a time
//
// A token needs refreshing when it has a refresh token and expires within
// the margin ([WithRefreshBefore], default 2 hours). Each token is a flight,
// keyed by tenant, and by user for user tokens (the bot token is shared by
// every record of a tenant):
//
//   - In process, concurrent callers share one flight
//     (golang.org/x/sync/singleflight). The flight runs detached from any
//     one caller's context, bounded by twice the lease TTL; a caller whose
//     context ends stops waiting, the flight does not.
//   - Across replicas, the flight first takes the store's lease
//     "refresh:ENTERPRISE:TEAM:bot" (or ":user:USER") for a random
//     per-Refresher, per-flight owner, for [WithLeaseTTL] (default 30s),
//     so that it also excludes this process's other flights. A replica that
//     finds the lease held polls the store with bounded, jittered
//     exponential backoff until the token is fresh, and uses what the
//     holder wrote; a holder that crashed is taken over once its lease
//     expires. A store without [installstore.Leaser] gives in-process
//     de-duplication only: replicas may then each call Slack once, and the
//     conditional write still keeps exactly one result.
//   - Whoever holds the lease re-reads the installation before calling
//     Slack, so a refresh someone finished meanwhile is reused, not redone.
//
// # Writing back
//
// New tokens are written with [installstore.Updater.UpdateInstallation] on
// the Version read. If the installation was deleted meanwhile nothing is
// written (no resurrection) and the caller gets [installstore.ErrNotFound].
// On [installstore.ErrConflict] the refresher re-reads: if another writer
// stored fresh tokens it uses them; if only an unrelated field changed it
// re-applies its tokens on the new Version.
//
// # Failing closed
//
// If a refresh fails and the current token has expired or expires within
// the safety margin ([WithSafetyMargin], default 1 minute), the call fails
// with an error matching [ErrRefreshFailed]: the expired token is never
// returned. If the current token is still valid, the installation is
// returned and the failure is logged and counted ([Refresher.Stats],
// [WithMeterProvider]). Either way that token is not sent to Slack again for
// [WithFailureBackoff] (default 5s, longer if Slack's Retry-After says so):
// calls meanwhile get the same outcome without an oauth.v2.access call, so
// an outage of Slack is not answered with a storm of refresh calls.
//
// When Slack answers invalid_refresh_token or invalid_grant, the error also
// matches [ErrReinstallRequired] and the refresh token is remembered as dead
// in this process, so no further Slack call is made with it: the mark lasts
// until the stored refresh token changes (a re-install). Marks are kept by
// refresh-token fingerprint rather than by Version, so that unrelated writes
// to the tenant do not lift them; each replica learns the mark with at most
// one Slack call of its own.
//
// # Using tokens
//
// [Refresher.Client] returns a slack-go client with the bot token;
// [Refresher.Do] runs a Slack call and, if Slack answers token_expired (or
// invalid_auth for a token believed valid), forces one refresh and retries
// exactly once. [Refresher.Run] refreshes installations entering the margin
// in the background, so that an app posting on its own never holds expired
// tokens; it uses the same flights and leases as request-driven refreshes.
//
// Errors name the operation and the tenant, never a token. Logs go to the
// [WithLogger] logger (discarded by default) and carry no secret.
package rotation
