package oauth_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/oauth"
)

// bubbleApp is the handler for a test in a testing/synctest bubble, where
// time moves only by time.Sleep: no clock option anywhere (the handler,
// the store and the fake Slack read time.Now, the bubble's fake clock),
// and no socket (requests go straight to the handler, Slack is reached in
// memory).
type bubbleApp struct {
	t     *testing.T
	h     *oauth.Handler
	slack *fakeslack.Server
	store *memory.Store
	logs  *syncBuffer
}

const bubbleAppURL = "https://app.test"

func newBubbleApp(t *testing.T) *bubbleApp {
	t.Helper()
	slack, err := fakeslack.New(fakeslack.Config{ClientID: testClientID, ClientSecret: installstore.NewSecret(testClientSecret)})
	require.NoError(t, err)
	a := &bubbleApp{t: t, slack: slack, store: memory.New(), logs: &syncBuffer{}}
	a.h, err = oauth.New(oauth.Config{
		ClientID:      testClientID,
		ClientSecret:  installstore.NewSecret(testClientSecret),
		SigningSecret: installstore.NewSecret(testSigningSecret),
		StateSecret:   installstore.NewSecret(testStateSecret),
		Scopes:        []string{"chat:write", "commands"},
		RedirectURL:   bubbleAppURL + oauth.DefaultRedirectPath,
		Store:         a.store,
		SlackAPIURL:   "https://slack.test/api/",
		AuthorizeURL:  "https://slack.test/oauth/v2/authorize",
		HTTPClient:    slack.Client(),
		DirectInstall: true,
		Logger:        slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	return a
}

// grant makes Slack answer tc's code.
func (a *bubbleApp) grant(tc installCase) {
	a.slack.GrantCode(tc.code, tc.access)
	for tok, js := range tc.authTest {
		a.slack.AnswerAuthTest(tok, js)
	}
}

// startInstall GETs the install page and returns the state Slack would
// receive and the state cookie the browser got.
func (a *bubbleApp) startInstall() (string, *http.Cookie) {
	a.t.Helper()
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, bubbleAppURL+oauth.DefaultInstallPath, nil))
	require.Equal(a.t, http.StatusFound, rec.Code)
	loc, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(a.t, err)
	for _, c := range rec.Result().Cookies() {
		if c.Name == oauth.DefaultCookieName {
			return loc.Query().Get("state"), c
		}
	}
	a.t.Fatal("install sets no state cookie")
	return "", nil
}

// callback GETs the OAuth redirect with code, state and the state cookie.
func (a *bubbleApp) callback(code, state string, cookie *http.Cookie) *http.Response {
	a.t.Helper()
	req := httptest.NewRequest(http.MethodGet, bubbleAppURL+oauth.DefaultRedirectPath+"?"+url.Values{"code": {code}, "state": {state}}.Encode(), nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestStateExpiresAtItsTTL: a state is good until StateTTL has passed
// since the install page, and not a second longer; an expired one fails
// before Slack is called, stores nothing, and clears the cookie.
func TestStateExpiresAtItsTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newBubbleApp(t)
		tc := installCases[0]
		a.grant(tc)
		early, earlyCookie := a.startInstall()
		late, lateCookie := a.startInstall()

		time.Sleep(oauth.DefaultStateTTL - time.Second)
		resp := a.callback(tc.code, early, earlyCookie)
		require.Equal(t, http.StatusOK, resp.StatusCode, "a second before its TTL")
		require.Equal(t, 1, a.slack.Calls("oauth.v2.access"))

		time.Sleep(time.Second)
		resp = a.callback(tc.code, late, lateCookie)
		body := readBody(t, resp)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		require.Contains(t, body, string(oauth.ReasonStateExpired))
		require.Contains(t, body, "Installation failed")
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		requireCookieCleared(t, resp)
		require.Equal(t, 1, a.slack.Calls("oauth.v2.access"), "Slack is not called for an expired state")
		require.Equal(t, 1, a.store.Len(), "only the early install is stored")
		require.Contains(t, a.logs.String(), "reason="+string(oauth.ReasonStateExpired))
		for _, s := range append(tc.secrets, tc.code, testClientSecret, testSigningSecret, testStateSecret) {
			require.NotContains(t, a.logs.String(), s)
			require.NotContains(t, body, s)
		}
	})
}

// TestReinstallIsIdempotent: installing again a minute later replaces the
// record, stamped with the second install's time.
func TestReinstallIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newBubbleApp(t)
		tc := installCases[0]
		for i := range 2 {
			a.grant(tc)
			state, cookie := a.startInstall()
			resp := a.callback(tc.code, state, cookie)
			require.Equal(t, http.StatusOK, resp.StatusCode, "install %d: %s", i, readBody(t, resp))
			time.Sleep(time.Minute)
		}
		require.Equal(t, 1, a.store.Len())
		storetest.Equal(t, tc.want(time.Now().Add(-time.Minute)), fetch(t, a.store, tc.query))
	})
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
