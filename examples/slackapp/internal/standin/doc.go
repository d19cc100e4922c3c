// Package standin is an in-process stand-in for slack.com, for the -demo
// mode and the end-to-end test of the example app in examples/slackapp.
//
// It listens on 127.0.0.1 only and serves what a multi-workspace Slack app
// talks to during its life:
//
//   - GET /oauth/v2/authorize: Slack's consent page. It shows the requested
//     bot and user scopes, lets the visitor pick one of the demo workspaces
//     (pre-selecting the one the team parameter names),
//     and redirects to the app's redirect_uri with a single-use code and the
//     state ("Allow"), or with error=access_denied ("Cancel").
//   - POST /api/oauth.v2.access: the code exchange and the refresh_token
//     grant, answering the JSON Slack returns with token rotation on
//     (access_token, refresh_token, expires_in, team, authed_user, ...).
//     Codes are single-use and expire after 10 minutes; a refresh token is
//     single-use too: the refresh issues a new one.
//   - POST /api/auth.test and POST /api/chat.postMessage, which check the
//     token like Slack does: unknown → invalid_auth, expired →
//     token_expired, revoked by an uninstall → token_revoked. Posted
//     messages are recorded per workspace (Server.Messages).
//   - POST /api/users.info (the installing user, with is_admin; needs
//     users:read), POST /api/apps.uninstall and POST /api/auth.revoke, which
//     an app uses to check an installer and to undo an install it rejects.
//   - POST /demo/mention and POST /demo/uninstall, the buttons of the demo
//     pages: they make Slack's side of an @mention or of an uninstall happen,
//     and deliver the app_mention or app_uninstalled event to the app's Events
//     API endpoint, signed with the signing secret exactly as Slack signs:
//     X-Slack-Signature = "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" +
//     body)), X-Slack-Request-Timestamp = ts. GET /demo/channel shows a
//     workspace's #general with the messages the app posted.
//
// slack-go's slacktest server was considered and not used: it has no OAuth
// endpoints, its auth.test and chat.postMessage accept any token (the point
// here is to prove that each tenant's own, current token is used), and it
// keeps package-level state for its RTM hub.
//
// Tokens it issues are random and look like Slack's rotating tokens
// (xoxe.xoxb-1-demo-..., xoxe-1-demo-...); they mean nothing outside this
// process. Nothing it serves or logs contains a token.
package standin
