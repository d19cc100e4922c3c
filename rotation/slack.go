package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/installstore"
)

// Slack error codes the refresher acts on.
const (
	codeInvalidRefreshToken = "invalid_refresh_token"
	codeInvalidGrant        = "invalid_grant"
	codeTokenExpired        = "token_expired"
	codeInvalidAuth         = "invalid_auth"
)

// slackCode returns the Slack API error code err carries ("" if none).
func slackCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	var pse *slack.SlackErrorResponse
	if errors.As(err, &pse) && pse != nil {
		return pse.Err
	}
	return ""
}

// callSlack exchanges refreshToken at oauth.v2.access through slack-go. A
// failure is described by known values only (see [slackFailure]): nothing
// Slack or the network sent reaches an error or a log.
func (r *Refresher) callSlack(ctx context.Context, refreshToken installstore.Secret) (token, *slackFailure) {
	ctx, cancel := context.WithTimeout(ctx, r.leaseTTL/2)
	defer cancel()
	var opts []slack.OAuthOption
	if r.apiURL != "" {
		opts = append(opts, slack.OAuthOptionAPIURL(r.apiURL))
	}
	resp, err := slack.RefreshOAuthV2TokenContext(ctx, r.httpClient, r.clientID, r.clientSecret.Reveal(), refreshToken.Reveal(), opts...)
	if err != nil {
		f := classify(err)
		return token{}, &f
	}
	access, refresh, expiresIn := resp.AccessToken, resp.RefreshToken, resp.ExpiresIn
	if access == "" && resp.AuthedUser.AccessToken != "" {
		access, refresh, expiresIn = resp.AuthedUser.AccessToken, resp.AuthedUser.RefreshToken, resp.AuthedUser.ExpiresIn
	}
	if access == "" {
		return token{}, &slackFailure{msg: "Slack answered without an access token"}
	}
	t := token{token: installstore.NewSecret(access), refresh: installstore.NewSecret(refresh)}
	if t.refresh.IsZero() {
		t.refresh = refreshToken // Slack kept the refresh token
	}
	if expiresIn > 0 {
		lifetime := time.Duration(expiresIn) * time.Second
		t.expires = r.now().Add(lifetime)
		if lifetime <= r.refreshBefore && r.shortLifetimeWarned.CompareAndSwap(false, true) {
			r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: Slack issues tokens that expire within the refresh margin: every use would refresh; lower WithRefreshBefore below the lifetime",
				slog.Duration("lifetime", lifetime), slog.Duration("refresh_before", r.refreshBefore))
		}
	}
	return t, nil
}

// clientFor builds a slack-go client with inst's bot token.
func (r *Refresher) clientFor(inst *installstore.Installation) (*slack.Client, error) {
	if inst.Bot == nil || inst.Bot.Token.IsZero() {
		return nil, fmt.Errorf("rotation: client %s: %w", where(inst.Query()), ErrNoBotToken)
	}
	opts := []slack.Option{slack.OptionHTTPClient(r.httpClient)}
	if r.apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(r.apiURL))
	}
	return slack.New(inst.Bot.Token.Reveal(), opts...), nil
}

// Client returns a slack-go client holding the bot token of the
// installation q selects, valid for at least the refresh margin (see
// [Refresher.Authorize]). An installation without a bot gives
// [ErrNoBotToken].
func (r *Refresher) Client(ctx context.Context, q installstore.Query) (*slack.Client, error) {
	inst, err := r.Authorize(ctx, q)
	if err != nil {
		return nil, err
	}
	return r.clientFor(inst)
}

// Do runs fn with a client holding the bot token of the installation q
// selects. If Slack answers token_expired, or invalid_auth for a rotating
// token that was believed valid, Do forces one refresh of that token
// (shared with concurrent callers; skipped if another caller already
// replaced it) and runs fn exactly once more with the new token. fn must
// be safe to run twice. Other errors of fn are returned as they are.
func (r *Refresher) Do(ctx context.Context, q installstore.Query, fn func(ctx context.Context, api *slack.Client) error) error {
	inst, err := r.Authorize(ctx, q)
	if err != nil {
		return err
	}
	api, err := r.clientFor(inst)
	if err != nil {
		return err
	}
	callErr := fn(ctx, api)
	code := slackCode(callErr)
	if code != codeTokenExpired && code != codeInvalidAuth {
		return callErr
	}
	if inst.Bot.RefreshToken.IsZero() || inst.Bot.ExpiresAt.IsZero() {
		return callErr // not a rotating token: nothing to refresh
	}
	if code == codeInvalidAuth && !r.usable(partBot.get(inst), r.now()) {
		return callErr // we did not believe it valid
	}
	again, err := r.ensure(ctx, "do", inst.Clone(), inst.Bot.Token, true)
	if err != nil {
		return fmt.Errorf("%w (after Slack answered %s)", err, code)
	}
	if api, err = r.clientFor(again); err != nil {
		return err
	}
	return fn(ctx, api)
}
