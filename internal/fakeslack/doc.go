// Package fakeslack is the one fake slack.com of this module: every
// package's tests, the quickstart and the example app's -demo mode talk to
// it instead of Slack. It is internal: not part of installvault's API.
//
// A [Server] models what a multi-workspace Slack app talks to during its
// life, and behaves like Slack where it matters to installvault:
//
//   - GET /oauth/v2/authorize: Slack's consent page. It shows the requested
//     bot and user scopes, lets the visitor pick one of the workspaces
//     (pre-selecting the one the team parameter names), and redirects to
//     the app's redirect_uri with a single-use code and the state ("Allow"),
//     or with error=access_denied ("Cancel"). With Config.AutoApprove it
//     approves at once, for tests driving an install with an HTTP client.
//   - POST /api/oauth.v2.access: the code exchange and the refresh_token
//     grant, answering the JSON Slack returns with token rotation on
//     (access_token, refresh_token, expires_in, team, authed_user, ...).
//     Codes are single-use and expire after 10 minutes; a refresh token is
//     single-use too: the refresh issues a new one. Only the app's client
//     ID and secret are accepted.
//   - POST /api/auth.test and POST /api/chat.postMessage, which check the
//     token like Slack does: unknown → invalid_auth, expired →
//     token_expired, revoked by an uninstall → token_revoked. Posted
//     messages are recorded per workspace (Server.Messages).
//   - POST /api/users.info (with is_admin; needs users:read), POST
//     /api/apps.uninstall and POST /api/auth.revoke, which an app uses to
//     check an installer and to undo an install it rejects.
//   - POST /demo/mention and POST /demo/uninstall, the buttons of the demo
//     pages: they make Slack's side of an @mention or of an uninstall
//     happen, and deliver the app_mention or app_uninstalled event to the
//     app's Events API endpoint, signed with the signing secret exactly as
//     Slack signs: X-Slack-Signature = "v0=" + hex(HMAC-SHA256(secret,
//     "v0:" + ts + ":" + body)), X-Slack-Request-Timestamp = ts. GET
//     /demo/channel shows a workspace's #general with the messages the app
//     posted.
//
// Every answer carries a Date header from Slack's clock (Config.Now, moved
// by SkewClock). A fake is an [http.Handler]: mount it in an
// httptest.Server, reach it in memory with [Server.Client] (no socket, so
// it works inside a testing/synctest bubble), or run it on 127.0.0.1 with
// [Start].
//
// Tests that need more than the model:
//
//   - AddToken makes tokens of an installation the test stored directly
//     known; Expire, RevokeRefreshToken, RevokeTokens and Uninstall take
//     them away as Slack would.
//   - GrantCode and AnswerAuthTest make a method answer exact JSON; AddUser
//     adds users to users.info.
//   - Fault injection: Fail (an HTTP status, Retry-After, a Slack error
//     code, a delay), Handle (any answer, for hostile bodies), OnCall (a
//     hook that may hold a call back); Calls and Tokens count and record
//     every call, Stats what took effect, IssuedSecrets every code and
//     token handed out, for leak checks.
//
// slack-go's slacktest server was considered and not used: it has no OAuth
// endpoints, its auth.test and chat.postMessage accept any token (the point
// here is to prove that each tenant's own, current token is used), and it
// keeps package-level state for its RTM hub.
//
// Tokens are obviously fake (see [TokenStyle]) and mean nothing outside
// the process. Nothing the fake logs contains a token.
package fakeslack
