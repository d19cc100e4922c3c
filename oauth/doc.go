// Package oauth gives a multi-workspace Slack app its whole installation
// lifecycle as net/http handlers, built on slack-go/slack:
//
//   - the install page ("Add to Slack", or a direct redirect) at
//     /slack/install, which starts Slack's OAuth v2 flow with a signed,
//     self-contained state bound to the browser by a cookie;
//   - the OAuth redirect at /slack/oauth_redirect, which checks the state,
//     exchanges the code with oauth.v2.access and stores the resulting
//     [installstore.Installation];
//   - the Events API endpoint at /slack/events, which verifies Slack's
//     request signature, purges tokens on app_uninstalled and
//     tokens_revoked, and hands every other event to the app's code once,
//     typed, with its verified tenant ([EventFrom]).
//
// Everything it keeps lives in one [installstore.FullStore] shared by the
// replicas: installations, state nonces, event markers and leases.
//
// # State
//
// The state is base64url(version | issued-at | expires-at | random nonce |
// install options | HMAC-SHA256), signed with Config.StateSecret. Issuing
// one writes nothing, so anonymous visitors of the install page cost no
// store item. The callback makes it single use by putting the hash of its
// nonce in the store until the state's own expiry ([installstore.NonceStore]'s
// PutNonce is atomic across replicas); a second use finds it. The same
// state is set in a Secure, HttpOnly, SameSite=Lax cookie and must come back
// with the callback: a state slipped into another browser (a login CSRF)
// does not work there. A tampered, expired, replayed, missing or mismatched state gives
// a 4xx failure page; Slack is not called and nothing is stored. After a
// success the cookie says "completed", so reloading the callback shows
// "already installed" (200), not an error.
//
// # Installs
//
// InstalledAt of a new installation is the Date of Slack's oauth.v2.access
// answer (Slack's clock, the one event_time uses), or the app's clock when
// the answer has none (see Config.EventClockSkew). Config.BeforeInstall,
// Config.BeforeRedirect, Config.AuthorizeInstaller and Config.AfterInstall
// are the hooks of the flow; [InstallOptions] chosen before the install
// page (per-request scopes, a team to pre-select, metadata) travel in the
// signed state to the hooks after Slack's answer. Config.SensitiveScopes
// turns on a built-in guard: only a workspace or organization admin or
// owner may grant those scopes (users.info, failing closed). A rejected
// install, or one the store cannot save, is undone at Slack, never at the
// expense of an installation the app already has in that workspace (see
// [Handler.ServeCallback]).
//
// # Events
//
// The tenant an event purges always comes from the signed envelope
// (authorizations[0] when present, as Bolt does, else the envelope's
// enterprise_id, team_id and is_enterprise_install), and so does the tenant
// handed to the app. Purges are idempotent, and late ones never delete a
// newer install: the check (event_time against the stored InstalledAt, the
// bot's own for a bot revocation) and the delete are one conditional store
// operation on the Version the check saw. A record that can never be
// opened (crypto.ErrDecrypt, [installstore.ErrCorrupt]) is purged without
// the check; a store or KMS that does not answer ([installstore.ErrUnavailable])
// deletes nothing and gets Slack to retry. Every event but
// url_verification then reaches Config.Next once per event_id across
// replicas (see [Handler.ServeEvents]), app_uninstalled and tokens_revoked
// after their purge, with [Event.Kept] naming what a newer install kept.
//
// Nothing secret (tokens, refresh tokens, the code, the client, signing or
// state secret) is ever logged, rendered or put in an error. Pages speak to
// the person installing; what a developer needs to fix goes to the log.
package oauth
