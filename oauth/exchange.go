package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/installstore"
)

// warnSkew is how far the app's clock may be from Slack's before a warning
// is logged: token expiry is computed with the app's clock.
const warnSkew = time.Minute

// exchange trades code for an installation: oauth.v2.access, then auth.test
// with the new bot token for the bot ID (and the organization's URL on an
// org-wide install), as Bolt does. Its errors hold no secret.
//
// InstalledAt (and Bot.InstalledAt) is the Date of Slack's answer, Slack's
// own clock, which the late-event check compares with Slack's event_time;
// without a Date it is now. Token expiries are now plus Slack's expires_in:
// the refresher compares them with the app's clock.
func (h *Handler) exchange(ctx context.Context, code string, now time.Time) (*installstore.Installation, error) {
	dctx, date := recordDate(ctx)
	resp, err := slack.GetOAuthV2ResponseContext(dctx, h.client, h.cfg.ClientID, h.cfg.ClientSecret.Reveal(),
		code, h.cfg.RedirectURL, slack.OAuthOptionAPIURL(h.cfg.SlackAPIURL))
	if err != nil {
		return nil, &scrubbedError{msg: "oauth: oauth.v2.access: " + h.scrub(err, code), err: err}
	}
	inst := buildInstallation(resp, now, h.installTime(ctx, date.get(), now))
	if err := inst.Validate(); err != nil {
		return nil, fmt.Errorf("oauth: oauth.v2.access returned an installation that cannot be stored: %w", err)
	}
	token := ""
	switch {
	case inst.Bot != nil:
		token = inst.Bot.Token.Reveal()
	case inst.IsEnterpriseInstall:
		token = inst.User.Token.Reveal()
	}
	if token == "" {
		return inst, nil
	}
	at, err := h.api(token).AuthTestContext(ctx)
	if err != nil {
		return inst, &exchangeError{scrubbedError{msg: fmt.Sprintf("oauth: auth.test for tenant %s: %s", inst.Tenant(), h.scrub(err, code, token)), err: err}}
	}
	if inst.Bot != nil {
		inst.Bot.ID = at.BotID
	}
	if inst.IsEnterpriseInstall {
		inst.EnterpriseURL = at.URL
	}
	if err := inst.Validate(); err != nil {
		return inst, &exchangeError{scrubbedError{msg: fmt.Sprintf("oauth: auth.test returned a bot ID that cannot be stored: %v", err), err: err}}
	}
	return inst, nil
}

// exchangeError is a failure after Slack issued tokens: the installation
// returned with it must be undone at Slack.
type exchangeError struct{ scrubbedError }

// installTime is Slack's Date when the answer had one, else now (logged
// once: the late-event check then depends on the app's clock).
func (h *Handler) installTime(ctx context.Context, slackDate, now time.Time) time.Time {
	if slackDate.IsZero() {
		h.noDate.Do(func() {
			h.cfg.Logger.WarnContext(ctx, "oauth: Slack's oauth.v2.access answer has no Date header (a proxy dropping it?); "+
				"install times come from this app's clock, so set Config.EventClockSkew to its largest error")
		})
		return now
	}
	if d := slackDate.Sub(now); d > warnSkew || d < -warnSkew {
		h.cfg.Logger.WarnContext(ctx, "oauth: this app's clock differs from Slack's; install times use Slack's, token expiry uses this clock",
			slog.Duration("slack_minus_app", d.Round(time.Second)))
	}
	return slackDate.UTC()
}

// api is a Web API client authenticated with token.
func (h *Handler) api(token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(h.cfg.SlackAPIURL), slack.OptionHTTPClient(h.client))
}

// secret wraps a value Slack issued.
func secret(s string) installstore.Secret { return installstore.NewSecret(s) }

// buildInstallation maps Slack's oauth.v2.access answer to an Installation
// installed at installedAt, with expiries counted from now. The bot is nil
// when no bot token was granted.
func buildInstallation(resp *slack.OAuthV2Response, now, installedAt time.Time) *installstore.Installation {
	inst := &installstore.Installation{
		AppID:               resp.AppID,
		EnterpriseID:        resp.Enterprise.ID,
		EnterpriseName:      resp.Enterprise.Name,
		TeamID:              resp.Team.ID,
		TeamName:            resp.Team.Name,
		IsEnterpriseInstall: resp.IsEnterpriseInstall,
		TokenType:           resp.TokenType,
		InstalledAt:         installedAt,
		User: installstore.User{
			ID:           resp.AuthedUser.ID,
			Token:        secret(resp.AuthedUser.AccessToken),
			RefreshToken: secret(resp.AuthedUser.RefreshToken),
			ExpiresAt:    expiry(now, resp.AuthedUser.ExpiresIn),
			Scopes:       splitScopes(resp.AuthedUser.Scope),
		},
	}
	if resp.AccessToken != "" {
		inst.Bot = &installstore.Bot{
			UserID:       resp.BotUserID,
			Token:        secret(resp.AccessToken),
			RefreshToken: secret(resp.RefreshToken),
			ExpiresAt:    expiry(now, resp.ExpiresIn),
			Scopes:       splitScopes(resp.Scope),
			InstalledAt:  installedAt,
		}
	}
	if w := resp.IncomingWebhook; w.URL != "" {
		inst.IncomingWebhook = &installstore.IncomingWebhook{
			URL:              secret(w.URL),
			Channel:          w.Channel,
			ChannelID:        w.ChannelID,
			ConfigurationURL: w.ConfigurationURL,
		}
	}
	return inst
}

// expiry is now+seconds, or zero (no expiry) when seconds is not positive.
func expiry(now time.Time, seconds int) time.Time {
	if seconds <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(seconds) * time.Second)
}

// splitScopes splits Slack's comma-separated scope list; nil when empty.
func splitScopes(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
