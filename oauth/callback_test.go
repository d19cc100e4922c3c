package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/oauth"
)

// installCase is one oauth.v2.access answer and the record it must give.
type installCase struct {
	name     string
	code     string
	access   string            // oauth.v2.access JSON
	authTest map[string]string // token → auth.test JSON
	secrets  []string          // tokens in the answer
	query    installstore.Query
	want     func(now time.Time) *installstore.Installation
}

var installCases = []installCase{
	{
		name: "SingleWorkspace",
		code: "code-test-ws",
		access: `{"ok":true,"access_token":"xoxb-test-T0WS-bot","token_type":"bot",
			"scope":"chat:write,commands,incoming-webhook","bot_user_id":"U0BOTWS","app_id":"A0APP",
			"team":{"name":"Workspace One","id":"T0WS"},"enterprise":null,
			"authed_user":{"id":"U0INSTALLER"},
			"incoming_webhook":{"channel":"#general","channel_id":"C0GEN",
				"configuration_url":"https://teamws.slack.invalid/services/B0HOOK",
				"url":"https://hooks.slack.invalid/services/T0WS/B0HOOK/test-hook-secret"},
			"is_enterprise_install":false}`,
		authTest: map[string]string{"xoxb-test-T0WS-bot": `{"ok":true,"url":"https://ws.slack.invalid/","team":"Workspace One",
			"user":"bot","team_id":"T0WS","user_id":"U0BOTWS","bot_id":"B0WS","is_enterprise_install":false}`},
		secrets: []string{"xoxb-test-T0WS-bot", "test-hook-secret"},
		query:   installstore.Query{TeamID: "T0WS", UserID: "U0INSTALLER"},
		want: func(now time.Time) *installstore.Installation {
			return &installstore.Installation{
				AppID: "A0APP", TeamID: "T0WS", TeamName: "Workspace One",
				Bot: &installstore.Bot{ID: "B0WS", UserID: "U0BOTWS", Token: installstore.NewSecret("xoxb-test-T0WS-bot"),
					Scopes: []string{"chat:write", "commands", "incoming-webhook"}, InstalledAt: now},
				User: installstore.User{ID: "U0INSTALLER"},
				IncomingWebhook: &installstore.IncomingWebhook{
					URL:     installstore.NewSecret("https://hooks.slack.invalid/services/T0WS/B0HOOK/test-hook-secret"),
					Channel: "#general", ChannelID: "C0GEN", ConfigurationURL: "https://teamws.slack.invalid/services/B0HOOK",
				},
				TokenType: "bot", InstalledAt: now,
			}
		},
	},
	{
		name: "EnterpriseGridOrgWide",
		code: "code-test-org",
		access: `{"ok":true,"access_token":"xoxb-test-E0ORG-bot","token_type":"bot","scope":"chat:write",
			"bot_user_id":"U0BOTORG","app_id":"A0APP","team":null,
			"enterprise":{"name":"Org Inc","id":"E0ORG"},"is_enterprise_install":true,
			"authed_user":{"id":"W0ADMIN","scope":"search:read","access_token":"xoxp-test-E0ORG-admin","token_type":"user"}}`,
		authTest: map[string]string{"xoxb-test-E0ORG-bot": `{"ok":true,"url":"https://org.enterprise.slack.invalid/",
			"team":"Org Inc","user":"bot","team_id":"E0ORG","user_id":"U0BOTORG","bot_id":"B0ORG",
			"enterprise_id":"E0ORG","is_enterprise_install":true}`},
		secrets: []string{"xoxb-test-E0ORG-bot", "xoxp-test-E0ORG-admin"},
		query:   installstore.Query{EnterpriseID: "E0ORG", IsEnterpriseInstall: true, UserID: "W0ADMIN"},
		want: func(now time.Time) *installstore.Installation {
			return &installstore.Installation{
				AppID: "A0APP", EnterpriseID: "E0ORG", EnterpriseName: "Org Inc",
				EnterpriseURL: "https://org.enterprise.slack.invalid/", IsEnterpriseInstall: true,
				Bot:       &installstore.Bot{ID: "B0ORG", UserID: "U0BOTORG", Token: installstore.NewSecret("xoxb-test-E0ORG-bot"), Scopes: []string{"chat:write"}, InstalledAt: now},
				User:      installstore.User{ID: "W0ADMIN", Token: installstore.NewSecret("xoxp-test-E0ORG-admin"), Scopes: []string{"search:read"}},
				TokenType: "bot", InstalledAt: now,
			}
		},
	},
	{
		name: "GridWorkspaceWithRotation",
		code: "code-test-rot",
		access: `{"ok":true,"access_token":"xoxe.xoxb-test-T0ROT-bot","token_type":"bot","scope":"chat:write",
			"bot_user_id":"U0BOTROT","app_id":"A0APP","team":{"name":"Rotating","id":"T0ROT"},
			"enterprise":{"name":"Grid","id":"E0GRID"},"is_enterprise_install":false,
			"refresh_token":"xoxe-1-test-T0ROT-bot-refresh","expires_in":43200,
			"authed_user":{"id":"U0ROT","scope":"search:read","access_token":"xoxe.xoxp-test-T0ROT-user",
				"token_type":"user","refresh_token":"xoxe-1-test-T0ROT-user-refresh","expires_in":43200}}`,
		authTest: map[string]string{"xoxe.xoxb-test-T0ROT-bot": `{"ok":true,"url":"https://rot.slack.invalid/",
			"team":"Rotating","user":"bot","team_id":"T0ROT","user_id":"U0BOTROT","bot_id":"B0ROT","enterprise_id":"E0GRID"}`},
		secrets: []string{"xoxe.xoxb-test-T0ROT-bot", "xoxe-1-test-T0ROT-bot-refresh", "xoxe.xoxp-test-T0ROT-user", "xoxe-1-test-T0ROT-user-refresh"},
		query:   installstore.Query{EnterpriseID: "E0GRID", TeamID: "T0ROT", UserID: "U0ROT"},
		want: func(now time.Time) *installstore.Installation {
			return &installstore.Installation{
				AppID: "A0APP", EnterpriseID: "E0GRID", EnterpriseName: "Grid", TeamID: "T0ROT", TeamName: "Rotating",
				Bot: &installstore.Bot{ID: "B0ROT", UserID: "U0BOTROT", Token: installstore.NewSecret("xoxe.xoxb-test-T0ROT-bot"),
					RefreshToken: installstore.NewSecret("xoxe-1-test-T0ROT-bot-refresh"), ExpiresAt: now.Add(12 * time.Hour), Scopes: []string{"chat:write"}, InstalledAt: now},
				User: installstore.User{ID: "U0ROT", Token: installstore.NewSecret("xoxe.xoxp-test-T0ROT-user"), RefreshToken: installstore.NewSecret("xoxe-1-test-T0ROT-user-refresh"),
					ExpiresAt: now.Add(12 * time.Hour), Scopes: []string{"search:read"}},
				TokenType: "bot", InstalledAt: now,
			}
		},
	},
	{
		name: "UserScopesOnly",
		code: "code-test-usr",
		access: `{"ok":true,"app_id":"A0APP","team":{"id":"T0USR","name":"Users Only"},"enterprise":null,
			"is_enterprise_install":false,
			"authed_user":{"id":"U0USR","scope":"search:read,users:read","access_token":"xoxp-test-T0USR-user","token_type":"user"}}`,
		secrets: []string{"xoxp-test-T0USR-user"},
		query:   installstore.Query{TeamID: "T0USR", UserID: "U0USR"},
		want: func(now time.Time) *installstore.Installation {
			return &installstore.Installation{
				AppID: "A0APP", TeamID: "T0USR", TeamName: "Users Only",
				User:        installstore.User{ID: "U0USR", Token: installstore.NewSecret("xoxp-test-T0USR-user"), Scopes: []string{"search:read", "users:read"}},
				InstalledAt: now,
			}
		},
	},
}

// TestInstallRoundTrip drives a browser from the install page through
// Slack's authorize page back to the callback, and checks the stored record.
func TestInstallRoundTrip(t *testing.T) {
	for _, tc := range installCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
			req := newReq(t, http.MethodGet, e.app.URL+oauth.DefaultInstallPath, nil)
			resp, body := e.do(e.browser(), req)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Contains(t, body, "Installed")

			// Slack was asked for the configured scopes and redirect.
			auth := e.slack.LastAuthorize()
			require.Equal(t, "chat:write,commands", auth.Get("scope"))
			require.Equal(t, "search:read", auth.Get("user_scope"))
			require.Equal(t, e.app.URL+oauth.DefaultRedirectPath, auth.Get("redirect_uri"))

			require.EqualValues(t, 1, e.slack.Calls("oauth.v2.access"))
			require.EqualValues(t, 1, e.store.stores.Load())
			got := fetch(t, e.store, tc.query)
			storetest.Equal(t, tc.want(t0), got)
			latest := tc.query
			latest.UserID = ""
			storetest.Equal(t, tc.want(t0), fetch(t, e.store, latest))
			e.requireNoSecrets()
		})
	}
}

// TestBadState covers every way a callback's state can be wrong: each gives
// a 4xx failure page naming the reason, calls Slack never and stores nothing.
// TestBadState: see TestStateExpiresAtItsTTL for an expired state.
func TestBadState(t *testing.T) {
	tc := installCases[0]
	tamper := func(s string) string {
		b := []byte(s)
		if b[10] == 'A' {
			b[10] = 'B'
		} else {
			b[10] = 'A'
		}
		return string(b)
	}
	cases := []struct {
		name   string
		status int
		reason oauth.Reason
		run    func(e *env) (*http.Response, string)
	}{
		{"Missing", http.StatusBadRequest, oauth.ReasonStateMissing, func(e *env) (*http.Response, string) {
			_, cookie := e.startInstall()
			return e.callback(url.Values{"code": {tc.code}}, cookie)
		}},
		{"CookieMissing", http.StatusBadRequest, oauth.ReasonCookieMissing, func(e *env) (*http.Response, string) {
			state, _ := e.startInstall()
			return e.callback(url.Values{"code": {tc.code}, "state": {state}}, nil)
		}},
		{"Tampered", http.StatusBadRequest, oauth.ReasonStateInvalid, func(e *env) (*http.Response, string) {
			state, cookie := e.startInstall()
			bad := tamper(state)
			cookie.Value = bad // the attacker controls their own browser's cookie too
			return e.callback(url.Values{"code": {tc.code}, "state": {bad}}, cookie)
		}},
		{"Garbage", http.StatusBadRequest, oauth.ReasonStateInvalid, func(e *env) (*http.Response, string) {
			_, cookie := e.startInstall()
			cookie.Value = "not-a-state"
			return e.callback(url.Values{"code": {tc.code}, "state": {"not-a-state"}}, cookie)
		}},
		{"SignedWithAnotherSecret", http.StatusBadRequest, oauth.ReasonStateInvalid, func(e *env) (*http.Response, string) {
			other := newEnv(e.t, func(c *oauth.Config) {
				c.StateSecret = installstore.NewSecret("another-state-secret-0123456789abcdef01")
			})
			state, cookie := other.startInstall()
			return e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
		}},
		{"CookieMismatch", http.StatusBadRequest, oauth.ReasonStateMismatch, func(e *env) (*http.Response, string) {
			_, mine := e.startInstall()
			theirs, _ := e.startInstall() // a state lifted from another browser
			return e.callback(url.Values{"code": {tc.code}, "state": {theirs}}, mine)
		}},
		{"CodeMissing", http.StatusBadRequest, oauth.ReasonCodeMissing, func(e *env) (*http.Response, string) {
			state, cookie := e.startInstall()
			return e.callback(url.Values{"state": {state}}, cookie)
		}},
		{"AccessDenied", http.StatusForbidden, oauth.ReasonAccessDenied, func(e *env) (*http.Response, string) {
			state, cookie := e.startInstall()
			return e.callback(url.Values{"error": {"access_denied"}, "state": {state}}, cookie)
		}},
		{"OtherSlackError", http.StatusBadRequest, oauth.ReasonSlackError, func(e *env) (*http.Response, string) {
			state, cookie := e.startInstall()
			return e.callback(url.Values{"error": {"invalid_scope"}, "state": {state}}, cookie)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
			resp, body := c.run(e)
			require.Equal(t, c.status, resp.StatusCode, body)
			require.Contains(t, body, string(c.reason))
			require.Contains(t, body, "Installation failed")
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			requireCookieCleared(t, resp)
			e.requireNothingHappened()
			require.Contains(t, e.logs.String(), "reason="+string(c.reason))
			e.requireNoSecrets()
		})
	}
}

func requireCookieCleared(t *testing.T, resp *http.Response) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == oauth.DefaultCookieName {
			require.Negative(t, c.MaxAge)
			return
		}
	}
	t.Fatal("the state cookie was not cleared")
}

func TestCookieMissingExplainsAndLogs(t *testing.T) {
	e := newEnv(t)
	state, _ := e.startInstall()
	resp, body := e.callback(url.Values{"code": {"code-x"}, "state": {state}}, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body, "in this browser")
	// Hints for developers go to the log, never to the end user's page.
	for _, jargon := range []string{"CookieDomain", "CookiePath", "HTTPS", "Secure", "proxy"} {
		require.NotContains(t, body, jargon)
	}
	logs := e.logs.String()
	require.Contains(t, logs, "state cookie missing")
	require.Contains(t, logs, "CookieDomain/CookiePath")
	require.Contains(t, logs, "cookie_name="+oauth.DefaultCookieName)
}

func TestReplayedStateFails(t *testing.T) {
	e := newEnv(t)
	tc := installCases[0]
	e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
	state, cookie := e.startInstall()
	resp, body := e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)

	e.grant("code-test-again", tc.access, tc.authTest)
	resp, body = e.callback(url.Values{"code": {"code-test-again"}, "state": {state}}, cookie)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body, string(oauth.ReasonStateUsed))
	require.EqualValues(t, 1, e.slack.Calls("oauth.v2.access"), "the replay reached Slack")
	require.EqualValues(t, 1, e.store.stores.Load())
	e.requireNoSecrets()
}

// TestConcurrentDoubleCallback fires the same callback many times at once:
// exactly one calls Slack and stores.
func TestConcurrentDoubleCallback(t *testing.T) {
	e := newEnv(t)
	tc := installCases[0]
	e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
	state, cookie := e.startInstall()
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, _ := e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		} else {
			require.Equal(t, http.StatusBadRequest, s)
		}
	}
	require.Equal(t, 1, ok, "statuses %v", statuses)
	require.EqualValues(t, 1, e.slack.Calls("oauth.v2.access"))
	require.EqualValues(t, 1, e.store.stores.Load())
	storetest.Equal(t, tc.want(t0), fetch(t, e.store, tc.query))
}

func TestExchangeFailureStoresNothing(t *testing.T) {
	e := newEnv(t)
	state, cookie := e.startInstall()
	resp, body := e.callback(url.Values{"code": {"code-test-unknown"}, "state": {state}}, cookie)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Contains(t, body, string(oauth.ReasonExchangeFailed))
	require.EqualValues(t, 1, e.slack.Calls("oauth.v2.access"))
	require.Zero(t, e.store.stores.Load())
	require.Contains(t, e.logs.String(), "invalid_code", "the reason is logged")
	e.addSecrets("code-test-unknown")
	e.requireNoSecrets()
}

func TestAuthTestFailureStoresNothing(t *testing.T) {
	e := newEnv(t)
	tc := installCases[0]
	e.grant(tc.code, tc.access, nil, tc.secrets...) // auth.test rejects the bot token
	state, cookie := e.startInstall()
	resp, body := e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode, body)
	require.Zero(t, e.store.stores.Load())
	require.Contains(t, e.logs.String(), "invalid_auth")
	e.requireNoSecrets()
}

func TestAuthorizeInstallerRejects(t *testing.T) {
	var seen *installstore.Installation
	e := newEnv(t, func(c *oauth.Config) {
		c.AuthorizeInstaller = func(_ context.Context, inst *installstore.Installation, _ *oauth.InstallOptions) error {
			seen = inst.Clone()
			return errors.New("installer U0INSTALLER is not an admin")
		}
	})
	tc := installCases[0]
	e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
	state, cookie := e.startInstall()
	resp, body := e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, string(oauth.ReasonInstallerRejected))
	require.Zero(t, e.store.stores.Load())
	storetest.Equal(t, tc.want(t0), seen)
	require.Contains(t, e.logs.String(), "not an admin")
	e.requireNoSecrets()
}

// failingStore refuses every write with err.
type failingStore struct {
	*countingStore
	err error
}

func (s failingStore) StoreInstallation(context.Context, *installstore.Installation) error {
	return s.err
}

func TestStoreFailureShowsFailure(t *testing.T) {
	e := newEnv(t, func(c *oauth.Config) { c.Store = failingStore{c.Store.(*countingStore), errors.New("disk on fire")} })
	tc := installCases[0]
	e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
	state, cookie := e.startInstall()
	resp, body := e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode, body)
	require.Contains(t, body, string(oauth.ReasonStoreFailed))
	require.Contains(t, e.logs.String(), "disk on fire")
	require.Zero(t, e.store.Len())
	e.requireNoSecrets()
}

func TestMethodsAndRoutes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, oauth.DefaultInstallPath, http.StatusMethodNotAllowed},
		{http.MethodPost, oauth.DefaultRedirectPath, http.StatusMethodNotAllowed},
		{http.MethodGet, oauth.DefaultEventsPath, http.StatusMethodNotAllowed},
		{http.MethodGet, "/elsewhere", http.StatusNotFound},
	} {
		req := newReq(t, c.method, e.app.URL+c.path, nil)
		resp, _ := e.do(e.noRedirect(), req)
		require.Equal(t, c.status, resp.StatusCode, "%s %s", c.method, c.path)
	}
	e.requireNothingHappened()
}

func TestInstallPageAndCookie(t *testing.T) {
	e := newEnv(t, func(c *oauth.Config) {
		c.DirectInstall = false
		c.CookieName = "my-state"
		c.CookiePath = "/slack/"
		c.CookieDomain = "example.test"
	})
	req := newReq(t, http.MethodGet, e.app.URL+oauth.DefaultInstallPath, nil)
	resp, body := e.do(e.noRedirect(), req)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "Add to Slack")
	require.Contains(t, body, e.slackSrv.URL+"/oauth/v2/authorize?")
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == "my-state" {
			c = k
		}
	}
	require.NotNil(t, c)
	require.True(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	require.Equal(t, "/slack/", c.Path)
	require.Equal(t, "example.test", c.Domain)
	require.Equal(t, int(oauth.DefaultStateTTL/time.Second), c.MaxAge)
}

// TestInstallPageWritesNothing: anonymous visitors of the install page
// cost no store item (issue 12, point 6).
func TestInstallPageWritesNothing(t *testing.T) {
	for _, direct := range []bool{true, false} {
		e := newEnv(t, func(c *oauth.Config) { c.DirectInstall = direct })
		for range 50 {
			resp, _ := e.do(e.noRedirect(), newReq(t, http.MethodGet, e.app.URL+oauth.DefaultInstallPath, nil))
			require.Less(t, resp.StatusCode, 400)
		}
		require.Zero(t, e.store.puts.Load(), "the install page put a nonce")
		require.Zero(t, e.store.NonceCount())
		e.requireNothingHappened()
	}
}

// TestStateIsSingleUseAtTheCallback: the callback puts the state's nonce
// (its hash) until the state's own expiry; a second use finds it.
func TestStateIsSingleUseAtTheCallback(t *testing.T) {
	e := newEnv(t)
	tc := installCases[0]
	e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
	state, cookie := e.startInstall()
	resp, body := e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.EqualValues(t, 1, e.store.puts.Load())
	require.Equal(t, 1, e.store.NonceCount())
	require.True(t, t0.Add(oauth.DefaultStateTTL).Equal(e.store.lastExpiry()), "the nonce lives as long as its state, not %v", e.store.lastExpiry())
}

// TestReloadAfterSuccess: reloading the callback in the browser that
// completed the install shows "already installed", with status 200, and
// calls neither Slack nor the store.
func TestReloadAfterSuccess(t *testing.T) {
	e := newEnv(t)
	tc := installCases[0]
	e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
	state, cookie := e.startInstall()
	query := url.Values{"code": {tc.code}, "state": {state}}
	resp, body := e.callback(query, cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var done *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == oauth.DefaultCookieName {
			require.Nil(t, done, "one Set-Cookie for the state cookie")
			done = c
		}
	}
	require.NotNil(t, done)
	require.Positive(t, done.MaxAge, "the cookie now says completed")
	require.NotEqual(t, cookie.Value, done.Value)

	resp, body = e.callback(query, done)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "already installed")
	require.NotContains(t, body, "failed")
	require.NotContains(t, body, "Cookie")
	require.EqualValues(t, 1, e.slack.Calls("oauth.v2.access"))
	require.EqualValues(t, 1, e.store.stores.Load())

	// The completed cookie of one install says nothing about another state.
	other, _ := e.startInstall()
	resp, _ = e.callback(url.Values{"code": {tc.code}, "state": {other}}, done)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.EqualValues(t, 1, e.slack.Calls("oauth.v2.access"))
	e.requireNoSecrets()
}

// flakyNonces fails PutNonce transiently while down is set.
type flakyNonces struct {
	installstore.Passthrough
	down *atomic.Bool
}

func (s flakyNonces) PutNonce(ctx context.Context, n string, at time.Time) error {
	if s.down.Load() {
		return fmt.Errorf("dynamo: put nonce: %w", installstore.ErrUnavailable)
	}
	return s.Inner.PutNonce(ctx, n, at)
}

// TestCallbackUnavailableSaysTryAgain: the store does not answer: a "try
// again" page, the cookie kept, Slack not called, nothing written; once the
// store is back, reloading the same page completes the install.
func TestCallbackUnavailableSaysTryAgain(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	e := newEnv(t, func(c *oauth.Config) {
		c.Store = flakyNonces{installstore.Passthrough{Inner: c.Store}, &down}
	})
	tc := installCases[0]
	e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
	state, cookie := e.startInstall()
	query := url.Values{"code": {tc.code}, "state": {state}}
	resp, body := e.callback(query, cookie)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, body, "reload this page")
	require.Contains(t, body, string(oauth.ReasonUnavailable))
	for _, c := range resp.Cookies() {
		require.NotEqual(t, oauth.DefaultCookieName, c.Name, "the state cookie must stay for the reload")
	}
	e.requireNothingHappened()

	down.Store(false)
	resp, body = e.callback(query, cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	storetest.Equal(t, tc.want(t0), fetch(t, e.store, tc.query))
}
