package oauth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/oauth"
)

func validConfig() oauth.Config {
	return oauth.Config{
		ClientID:      testClientID,
		ClientSecret:  installstore.NewSecret(testClientSecret),
		SigningSecret: installstore.NewSecret(testSigningSecret),
		StateSecret:   installstore.NewSecret(testStateSecret),
		Scopes:        []string{"chat:write"},
		RedirectURL:   "https://app.example.com/slack/oauth_redirect",
		Store:         memory.New(),
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := oauth.New(validConfig())
	require.NoError(t, err)

	cases := []struct {
		name   string
		mutate func(*oauth.Config)
		want   string
	}{
		{"NoClientID", func(c *oauth.Config) { c.ClientID = "" }, "ClientID is empty"},
		{"NoClientSecret", func(c *oauth.Config) { c.ClientSecret = installstore.Secret{} }, "ClientSecret is empty"},
		{"NoSigningSecret", func(c *oauth.Config) { c.SigningSecret = installstore.Secret{} }, "SigningSecret is empty"},
		{"ShortStateSecret", func(c *oauth.Config) { c.StateSecret = installstore.NewSecret("short") }, "StateSecret has 5 bytes"},
		{"ReusedStateSecret", func(c *oauth.Config) {
			c.ClientSecret = installstore.NewSecret(testStateSecret)
		}, "must not reuse"},
		{"NoScopes", func(c *oauth.Config) { c.Scopes = nil }, "no Scopes and no UserScopes"},
		{"BadScope", func(c *oauth.Config) { c.Scopes = []string{"chat:write,admin"} }, "has a separator"},
		{"NoStore", func(c *oauth.Config) { c.Store = nil }, "Store is nil"},
		{"AnotherAppsStore", func(c *oauth.Config) { c.Store = memory.New(memory.WithClientID("9999999999.8888888888")) }, "scoped to the Slack app with client ID 9999999999.8888888888"},
		{"SensitiveWithoutUsersRead", func(c *oauth.Config) { c.SensitiveScopes = []string{"admin"} }, "users:read"},
		{"BadSensitiveScope", func(c *oauth.Config) {
			c.Scopes = append(c.Scopes, "users:read")
			c.SensitiveScopes = []string{"a b"}
		}, "has a separator"},
		{"NegativeSkew", func(c *oauth.Config) { c.EventClockSkew = -time.Second }, "EventClockSkew"},
		{"LongSkew", func(c *oauth.Config) { c.EventClockSkew = time.Hour }, "EventClockSkew"},
		{"RedirectPathMismatch", func(c *oauth.Config) { c.RedirectURL = "https://app.example.com/slack/callback" }, "does not end in RedirectPath"},
		{"NegativeTTL", func(c *oauth.Config) { c.StateTTL = -1 }, "StateTTL"},
		{"LongTTL", func(c *oauth.Config) { c.StateTTL = 2 * oauth.MaxStateTTL }, "StateTTL"},
		{"NoRedirect", func(c *oauth.Config) { c.RedirectURL = "" }, "RedirectURL is empty"},
		{"HTTPRedirect", func(c *oauth.Config) { c.RedirectURL = "http://app.example.com/cb" }, "must use https"},
		{"RelativeRedirect", func(c *oauth.Config) { c.RedirectURL = "/slack/oauth_redirect" }, "absolute URL"},
		{"BadAPIURL", func(c *oauth.Config) { c.SlackAPIURL = "https://slack.test/api" }, "must end in"},
		{"HTTPAPIURL", func(c *oauth.Config) { c.SlackAPIURL = "http://slack.test/api/" }, "must use https"},
		{"BadAuthorizeURL", func(c *oauth.Config) { c.AuthorizeURL = "::" }, "AuthorizeURL"},
		{"SamePaths", func(c *oauth.Config) { c.EventsPath = oauth.DefaultInstallPath }, "are both"},
		{"RelativePath", func(c *oauth.Config) { c.RedirectPath = "slack/cb" }, "must start with"},
		{"BadCookieName", func(c *oauth.Config) { c.CookieName = "bad name" }, "state cookie"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.mutate(&cfg)
			h, err := oauth.New(cfg)
			require.Nil(t, h)
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, err, "oauth: invalid config")
			require.ErrorIs(t, err, installstore.ErrInvalid)
			for _, s := range []string{testClientSecret, testSigningSecret, testStateSecret} {
				require.NotContains(t, err.Error(), s)
			}
		})
	}
}

func TestNewAcceptsLoopbackHTTPAndUserScopesOnly(t *testing.T) {
	cfg := validConfig()
	cfg.RedirectURL = "http://127.0.0.1:3000/slack/oauth_redirect"
	cfg.SlackAPIURL = "http://localhost:8080/api/"
	cfg.Scopes, cfg.UserScopes = nil, []string{"search:read"}
	_, err := oauth.New(cfg)
	require.NoError(t, err)

	// Mounted under a prefix the app strips.
	cfg.RedirectURL = "https://app.example.com/app/slack/oauth_redirect"
	_, err = oauth.New(cfg)
	require.NoError(t, err)
}

func TestHandlerPrintsNoSecret(t *testing.T) {
	h, err := oauth.New(validConfig())
	require.NoError(t, err)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for _, v := range []any{h, *h} {
			out := fmt.Sprintf(verb, v)
			require.Contains(t, out, "oauth.Handler")
			for _, s := range []string{testClientSecret, testSigningSecret, testStateSecret} {
				require.NotContains(t, out, s, verb)
			}
		}
	}
}
