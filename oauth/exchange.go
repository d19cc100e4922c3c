package oauth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/installstore"
)

// exchange trades code for an installation: oauth.v2.access, then auth.test
// with the new bot token for the bot ID (and the organization's URL on an
// org-wide install), as Bolt does. Its errors hold no secret.
func (h *Handler) exchange(ctx context.Context, code string, now time.Time) (*installstore.Installation, error) {
	resp, err := slack.GetOAuthV2ResponseContext(ctx, h.cfg.HTTPClient, h.cfg.ClientID, h.cfg.ClientSecret.Reveal(),
		code, h.cfg.RedirectURL, slack.OAuthOptionAPIURL(h.cfg.SlackAPIURL))
	if err != nil {
		return nil, &scrubbedError{msg: "oauth: oauth.v2.access: " + h.scrub(err, code), err: err}
	}
	inst := buildInstallation(resp, now)
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
	api := slack.New(token, slack.OptionAPIURL(h.cfg.SlackAPIURL), slack.OptionHTTPClient(h.cfg.HTTPClient))
	at, err := api.AuthTestContext(ctx)
	if err != nil {
		return nil, &scrubbedError{msg: fmt.Sprintf("oauth: auth.test for tenant %s: %s", inst.Tenant(), h.scrub(err, code, token)), err: err}
	}
	if inst.Bot != nil {
		inst.Bot.ID = at.BotID
	}
	if inst.IsEnterpriseInstall {
		inst.EnterpriseURL = at.URL
	}
	if err := inst.Validate(); err != nil {
		return nil, fmt.Errorf("oauth: auth.test returned a bot ID that cannot be stored: %w", err)
	}
	return inst, nil
}

// buildInstallation maps Slack's oauth.v2.access answer to an Installation
// installed at now. The bot is nil when no bot token was granted.
func buildInstallation(resp *slack.OAuthV2Response, now time.Time) *installstore.Installation {
	inst := &installstore.Installation{
		AppID:               resp.AppID,
		EnterpriseID:        resp.Enterprise.ID,
		EnterpriseName:      resp.Enterprise.Name,
		TeamID:              resp.Team.ID,
		TeamName:            resp.Team.Name,
		IsEnterpriseInstall: resp.IsEnterpriseInstall,
		TokenType:           resp.TokenType,
		InstalledAt:         now,
		User: installstore.User{
			ID:           resp.AuthedUser.ID,
			Token:        installstore.Secret(resp.AuthedUser.AccessToken),
			RefreshToken: installstore.Secret(resp.AuthedUser.RefreshToken),
			ExpiresAt:    expiry(now, resp.AuthedUser.ExpiresIn),
			Scopes:       splitScopes(resp.AuthedUser.Scope),
		},
	}
	if resp.AccessToken != "" {
		inst.Bot = &installstore.Bot{
			UserID:       resp.BotUserID,
			Token:        installstore.Secret(resp.AccessToken),
			RefreshToken: installstore.Secret(resp.RefreshToken),
			ExpiresAt:    expiry(now, resp.ExpiresIn),
			Scopes:       splitScopes(resp.Scope),
		}
	}
	if w := resp.IncomingWebhook; w.URL != "" {
		inst.IncomingWebhook = &installstore.IncomingWebhook{
			URL:              installstore.Secret(w.URL),
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
