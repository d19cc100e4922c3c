// Package oauth gives a multi-workspace Slack app its whole installation
// lifecycle as net/http handlers, built on slack-go/slack:
//
//   - the install page ("Add to Slack", or a direct redirect) at
//     /slack/install, which starts Slack's OAuth v2 flow with a signed,
//     single-use state bound to the browser by a cookie;
//   - the OAuth redirect at /slack/oauth_redirect, which checks the state,
//     exchanges the code with oauth.v2.access and stores the resulting
//     [installstore.Installation];
//   - the Events API endpoint at /slack/events, which verifies Slack's
//     request signature and purges tokens on app_uninstalled and
//     tokens_revoked.
//
// # State
//
// The state is base64url(version | issued-at | random nonce | HMAC-SHA256),
// signed with Config.StateSecret. The nonce is put in a
// [installstore.NonceStore] when the install starts and consumed atomically
// at the callback, so a state works once, on any replica sharing the store,
// and only within Config.StateTTL. The same state is set in a Secure,
// HttpOnly, SameSite=Lax cookie and must come back with the callback: a
// state lifted from one browser does not work in another. A tampered,
// expired, replayed, missing or mismatched state gives a 4xx failure page;
// Slack is not called and nothing is stored.
//
// # Events
//
// The tenant an event purges always comes from the signed envelope
// (authorizations[0] when present, as Bolt does, else the envelope's
// enterprise_id, team_id and is_enterprise_install). Events are idempotent,
// and late ones never delete a newer install: an event whose event_time is
// not after the stored installation's InstalledAt (the user's, for a user
// token) is acknowledged and ignored.
//
// Nothing secret (tokens, refresh tokens, the code, the client, signing or
// state secret) is ever logged, rendered or put in an error.
package oauth
