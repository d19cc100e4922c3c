package fakeslack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
)

const (
	clientID      = "1000000000001.2000000000002"
	clientSecret  = "client-secret-test-5a0c2e"
	signingSecret = "signing-secret-test-9b7d41"
	redirectURL   = "http://127.0.0.1:9/slack/oauth_redirect"
)

// received records the events the app endpoint got, after checking their
// signature with slack-go's verifier.
type received struct {
	mu     sync.Mutex
	events []map[string]any
}

func start(t *testing.T) (*fakeslack.Server, *received) {
	t.Helper()
	got := &received{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := slack.NewSecretsVerifier(r.Header, signingSecret)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(io.TeeReader(r.Body, &v))
		if err := v.Ensure(); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.mu.Lock()
		got.events = append(got.events, ev)
		got.mu.Unlock()
	}))
	t.Cleanup(app.Close)
	cfg := fakeslack.Config{ClientID: clientID, ClientSecret: installstore.NewSecret(clientSecret), SigningSecret: installstore.NewSecret(signingSecret),
		RedirectURL: redirectURL, EventsURL: app.URL + "/slack/events", Tokens: fakeslack.Rotating}
	s, err := fakeslack.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, got
}

// clientOf reaches s: over its socket when it was started (Start), in
// memory when it was made with New (for a testing/synctest bubble).
func clientOf(s *fakeslack.Server) *http.Client {
	if s.URL() == "http://slack.fake" {
		return s.Client()
	}
	return http.DefaultClient
}

// noRedirect is clientOf(s) not following redirects.
func noRedirect(s *fakeslack.Server) *http.Client {
	c := *clientOf(s)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// consent posts the consent form and returns the redirect's query.
func consent(t *testing.T, s *fakeslack.Server, decision, team, scope, userScope string) url.Values {
	t.Helper()
	resp, err := noRedirect(s).PostForm(s.AuthorizeURL(), url.Values{"client_id": {clientID}, "scope": {scope},
		"user_scope": {userScope}, "redirect_uri": {redirectURL}, "state": {"st"}, "team": {team}, "decision": {decision}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	u, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u.String(), redirectURL+"?"))
	require.Equal(t, "st", u.Query().Get("state"))
	return u.Query()
}

func exchange(s *fakeslack.Server, code, secret string) (*slack.OAuthV2Response, error) {
	return slack.GetOAuthV2ResponseContext(context.Background(), clientOf(s), clientID, secret, code, redirectURL,
		slack.OAuthOptionAPIURL(s.APIURL()))
}

func TestInstallExchangeRefresh(t *testing.T) {
	s, _ := start(t)
	code := consent(t, s, "allow", "T0DEMO00002", "app_mentions:read,chat:write", "search:read").Get("code")
	require.NotEmpty(t, code)

	resp, err := exchange(s, code, clientSecret)
	require.NoError(t, err)
	require.Equal(t, "T0DEMO00002", resp.Team.ID)
	require.Equal(t, "Globex Demo", resp.Team.Name)
	require.Equal(t, "A0DEMOAPP01", resp.AppID)
	require.Equal(t, "bot", resp.TokenType)
	require.Equal(t, "U0DEMOBOT02", resp.BotUserID)
	require.Equal(t, "app_mentions:read,chat:write", resp.Scope)
	require.True(t, strings.HasPrefix(resp.AccessToken, "xoxe.xoxb-1-"))
	require.True(t, strings.HasPrefix(resp.RefreshToken, "xoxe-1-"))
	require.Equal(t, 43200, resp.ExpiresIn)
	require.Equal(t, "U0DEMO00002", resp.AuthedUser.ID)
	require.Equal(t, "search:read", resp.AuthedUser.Scope)
	require.True(t, strings.HasPrefix(resp.AuthedUser.AccessToken, "xoxe.xoxp-1-"))
	require.True(t, s.Installed("T0DEMO00002"))
	require.False(t, s.Installed("T0DEMO00001"))

	_, err = exchange(s, code, clientSecret)
	require.ErrorContains(t, err, "invalid_code", "codes are single-use")

	at, err := slack.New(resp.AccessToken, slack.OptionAPIURL(s.APIURL())).AuthTest()
	require.NoError(t, err)
	require.Equal(t, "B0DEMOBOT02", at.BotID)
	require.Equal(t, "U0DEMOBOT02", at.UserID)
	require.Equal(t, "T0DEMO00002", at.TeamID)

	r, err := slack.RefreshOAuthV2TokenContext(context.Background(), http.DefaultClient, clientID, clientSecret,
		resp.RefreshToken, slack.OAuthOptionAPIURL(s.APIURL()))
	require.NoError(t, err)
	require.NotEqual(t, resp.AccessToken, r.AccessToken)
	require.NotEqual(t, resp.RefreshToken, r.RefreshToken)
	require.Equal(t, "bot", r.TokenType)
	require.Equal(t, 43200, r.ExpiresIn)
	_, err = slack.RefreshOAuthV2TokenContext(context.Background(), http.DefaultClient, clientID, clientSecret,
		resp.RefreshToken, slack.OAuthOptionAPIURL(s.APIURL()))
	require.ErrorContains(t, err, "invalid_refresh_token", "refresh tokens are single-use")

	st := s.Stats()
	require.Equal(t, 1, st.Exchanges)
	require.Equal(t, 1, st.Refreshes)
	require.Equal(t, 2, st.Rejected)
	for _, sec := range []string{code, resp.AccessToken, resp.RefreshToken, resp.AuthedUser.AccessToken, r.AccessToken, r.RefreshToken} {
		require.Contains(t, s.IssuedSecrets(), installstore.NewSecret(sec))
	}
}

func TestExchangeRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFake(t)
		code := consent(t, s, "allow", "T0DEMO00001", "chat:write", "").Get("code")
		_, err := exchange(s, code, "wrong-secret")
		require.ErrorContains(t, err, "bad_client_secret")
		_, err = exchange(s, code, clientSecret)
		require.NoError(t, err, "a refused client does not use the code up")

		code = consent(t, s, "allow", "T0DEMO00001", "chat:write", "").Get("code")
		_, err = slack.GetOAuthV2ResponseContext(context.Background(), s.Client(), clientID, clientSecret, code,
			"http://127.0.0.1:9/elsewhere", slack.OAuthOptionAPIURL(s.APIURL()))
		require.ErrorContains(t, err, "bad_redirect_uri")

		code = consent(t, s, "allow", "T0DEMO00001", "chat:write", "").Get("code")
		time.Sleep(10 * time.Minute)
		_, err = exchange(s, code, clientSecret)
		require.ErrorContains(t, err, "invalid_code", "codes expire after 10 minutes")

		_, err = slack.GetOAuthV2ResponseContext(context.Background(), s.Client(), "other.client", clientSecret, "x",
			redirectURL, slack.OAuthOptionAPIURL(s.APIURL()))
		require.ErrorContains(t, err, "invalid_client_id")
	})
}

func TestTokensExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFake(t)
		resp, err := exchange(s, consent(t, s, "allow", "T0DEMO00001", "chat:write", "").Get("code"), clientSecret)
		require.NoError(t, err)
		api := slack.New(resp.AccessToken, slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(s.Client()))
		_, _, err = api.PostMessage("C1", slack.MsgOptionText("hi", false))
		require.NoError(t, err)
		require.Equal(t, installstore.NewSecret(resp.AccessToken), s.Messages("T0DEMO00001")[0].Token)

		_, err = slack.New("xoxb-test-unknown", slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(s.Client())).AuthTest()
		require.ErrorContains(t, err, "invalid_auth")

		time.Sleep(12*time.Hour - time.Second)
		_, err = api.AuthTest()
		require.NoError(t, err)
		time.Sleep(time.Second)
		_, _, err = api.PostMessage("C1", slack.MsgOptionText("late", false))
		require.ErrorContains(t, err, "token_expired")
		r, err := slack.RefreshOAuthV2TokenContext(context.Background(), s.Client(), clientID, clientSecret,
			resp.RefreshToken, slack.OAuthOptionAPIURL(s.APIURL()))
		require.NoError(t, err)
		_, _, err = slack.New(r.AccessToken, slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(s.Client())).PostMessage("C1", slack.MsgOptionText("again", false))
		require.NoError(t, err)
		require.Len(t, s.Messages("T0DEMO00001"), 2)
	})
}

func TestUninstallRevokesAndNotifies(t *testing.T) {
	s, got := start(t)
	resp, err := exchange(s, consent(t, s, "allow", "T0DEMO00001", "chat:write", "").Get("code"), clientSecret)
	require.NoError(t, err)
	require.NoError(t, s.Uninstall(context.Background(), "T0DEMO00001"))
	_, err = slack.New(resp.AccessToken, slack.OptionAPIURL(s.APIURL())).AuthTest()
	require.ErrorContains(t, err, "token_revoked")
	_, err = slack.RefreshOAuthV2TokenContext(context.Background(), http.DefaultClient, clientID, clientSecret,
		resp.RefreshToken, slack.OAuthOptionAPIURL(s.APIURL()))
	require.ErrorContains(t, err, "invalid_refresh_token")
	require.ErrorIs(t, s.Uninstall(context.Background(), "T0DEMO00001"), fakeslack.ErrNotInstalled)
	require.ErrorIs(t, s.Mention(context.Background(), "T0DEMO00001", "hi"), fakeslack.ErrNotInstalled)
	require.False(t, s.Installed("T0DEMO00001"))

	got.mu.Lock()
	defer got.mu.Unlock()
	require.Len(t, got.events, 1, "one signed app_uninstalled, accepted by slack-go's verifier")
	ev := got.events[0]
	require.Equal(t, "event_callback", ev["type"])
	require.Equal(t, "T0DEMO00001", ev["team_id"])
	require.Equal(t, "app_uninstalled", ev["event"].(map[string]any)["type"])
}

// Events are stamped after the second in which tokens were issued, so an
// app comparing event_time with its install time sees them as newer.
func TestEventsStampedAfterTheInstall(t *testing.T) {
	s, got := start(t)
	_, err := exchange(s, consent(t, s, "allow", "T0DEMO00001", "chat:write", "").Get("code"), clientSecret)
	require.NoError(t, err)
	issued := time.Now().Unix()
	require.NoError(t, s.Mention(context.Background(), "T0DEMO00001", "hi"))
	got.mu.Lock()
	defer got.mu.Unlock()
	require.Len(t, got.events, 1)
	require.Greater(t, int64(got.events[0]["event_time"].(float64)), issued-1)
	ev := got.events[0]["event"].(map[string]any)
	require.Equal(t, "app_mention", ev["type"])
	require.Equal(t, "<@U0DEMOBOT01> hi", ev["text"])
	require.Equal(t, fakeslack.DemoChannel, ev["channel"])
}

func TestAuthorizePage(t *testing.T) {
	s, _ := start(t)
	get := func(q url.Values) (int, string) {
		resp, err := http.Get(s.AuthorizeURL() + "?" + q.Encode())
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ok := url.Values{"client_id": {clientID}, "scope": {"app_mentions:read,chat:write"}, "redirect_uri": {redirectURL}, "state": {"st"}}
	status, page := get(ok)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "app_mentions:read")
	require.Contains(t, page, "Send messages as")
	require.Contains(t, page, `id="allow"`)

	for name, change := range map[string]func(url.Values){
		"client":   func(q url.Values) { q.Set("client_id", "other") },
		"redirect": func(q url.Values) { q.Set("redirect_uri", "https://evil.example.com/cb") },
		"scopes":   func(q url.Values) { q.Del("scope") },
	} {
		q := url.Values{}
		for k, v := range ok {
			q[k] = v
		}
		change(q)
		status, _ := get(q)
		require.Equal(t, http.StatusBadRequest, status, name)
	}

	q := consent(t, s, "cancel", "T0DEMO00001", "chat:write", "")
	require.Equal(t, "access_denied", q.Get("error"))
	require.Empty(t, q.Get("code"))
	require.False(t, s.Installed("T0DEMO00001"))
}

func TestStartRejectsConfig(t *testing.T) {
	_, err := fakeslack.Start(fakeslack.Config{})
	for _, f := range []string{"ClientID", "ClientSecret"} {
		require.ErrorContains(t, err, f)
	}
	for name, cfg := range map[string]fakeslack.Config{
		"TokenLifetime": {TokenLifetime: -time.Second},
		"RedirectURL":   {RedirectURL: "/slack/oauth_redirect"},
		"EventsURL":     {EventsURL: "ftp://127.0.0.1/events"},
		"Tokens":        {Tokens: fakeslack.TokenStyle(7)},
		"workspace":     {Workspaces: []fakeslack.Workspace{{Name: "no IDs"}}},
	} {
		cfg.ClientID, cfg.ClientSecret = "x", installstore.NewSecret("y")
		_, err = fakeslack.New(cfg)
		require.ErrorContains(t, err, name)
	}
}

// users.info, apps.uninstall and auth.revoke: what an app uses to check an
// installer and to undo an install it rejects.
func TestInstallerChecksAndUndo(t *testing.T) {
	s, _ := start(t)
	withRead := consent(t, s, "allow", "T0DEMO00002", "chat:write,users:read", "").Get("code")
	resp, err := exchange(s, withRead, clientSecret)
	require.NoError(t, err)
	api := slack.New(resp.AccessToken, slack.OptionAPIURL(s.APIURL()))
	u, err := api.GetUserInfo("U0DEMO00002")
	require.NoError(t, err)
	require.False(t, u.IsAdmin, "Globex's installer is no admin")
	_, err = api.GetUserInfo("U0NOBODY")
	require.ErrorContains(t, err, "user_not_found")

	withoutRead := consent(t, s, "allow", "T0DEMO00001", "chat:write", "").Get("code")
	acme, err := exchange(s, withoutRead, clientSecret)
	require.NoError(t, err)
	_, err = slack.New(acme.AccessToken, slack.OptionAPIURL(s.APIURL())).GetUserInfo("U0DEMO00001")
	require.ErrorContains(t, err, "missing_scope")

	// apps.uninstall needs the app's credentials, then removes the app.
	require.ErrorContains(t, api.UninstallApp(clientID, "wrong-secret"), "invalid_client_id")
	require.True(t, s.Installed("T0DEMO00002"))
	require.NoError(t, api.UninstallApp(clientID, clientSecret))
	require.False(t, s.Installed("T0DEMO00002"))
	_, err = api.AuthTest()
	require.ErrorContains(t, err, "token_revoked")
	require.Equal(t, 1, s.Stats().AppUninstalls)

	// auth.revoke revokes the calling token only.
	acmeAPI := slack.New(acme.AccessToken, slack.OptionAPIURL(s.APIURL()))
	_, err = acmeAPI.SendAuthRevoke("")
	require.NoError(t, err)
	_, err = acmeAPI.AuthTest()
	require.ErrorContains(t, err, "token_revoked")
	require.True(t, s.Installed("T0DEMO00001"))
	require.Equal(t, 1, s.Stats().Revokes)
}
