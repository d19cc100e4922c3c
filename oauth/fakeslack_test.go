package oauth_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/oauth"
)

// Test credentials. Every one of them is checked never to appear in a log
// line or a response body.
const (
	testClientID      = "1111.2222"
	testClientSecret  = "client-secret-test-3f9a7c"
	testSigningSecret = "signing-secret-test-8e1d2b"
	testStateSecret   = "state-secret-test-0123456789abcdef0123456789"
)

// newFakeSlack starts the module's fake Slack (internal/fakeslack) on a
// TLS server: the authorize page approves at once, and every answer carries
// a Date from Slack's clock, now (moved by SkewClock).
func newFakeSlack(t *testing.T, now func() time.Time) (*fakeslack.Server, *httptest.Server) {
	f, err := fakeslack.New(fakeslack.Config{ClientID: testClientID, ClientSecret: installstore.NewSecret(testClientSecret),
		AutoApprove: true, Now: now})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// grant makes Slack hand out code with the oauth.v2.access answer
// accessJSON, and answer auth.test by token (any other token:
// invalid_auth); secrets are what else the answer holds that must never
// leak (see requireNoSecrets).
func (e *env) grant(code, accessJSON string, authTests map[string]string, secrets ...string) {
	e.slack.GrantCode(code, accessJSON)
	for tok, js := range authTests {
		e.slack.AnswerAuthTest(tok, js)
	}
	e.addSecrets(secrets...)
}

// addSecrets adds to what requireNoSecrets checks.
func (e *env) addSecrets(secrets ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, secrets...)
}

// undone returns the tokens apps.uninstall and auth.revoke were called with.
func (e *env) undone() (uninstalled, revoked []string) {
	return e.slack.Tokens("apps.uninstall"), e.slack.Tokens("auth.revoke")
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// countingStore is the memory store, counting installation writes and
// nonce puts.
type countingStore struct {
	*memory.Store
	stores atomic.Int32
	puts   atomic.Int32

	mu     sync.Mutex
	expiry time.Time // of the last PutNonce
}

func (s *countingStore) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	s.puts.Add(1)
	s.mu.Lock()
	s.expiry = expiresAt
	s.mu.Unlock()
	return s.Store.PutNonce(ctx, nonce, expiresAt)
}

func (s *countingStore) lastExpiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expiry
}

func (s *countingStore) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	s.stores.Add(1)
	return s.Store.StoreInstallation(ctx, inst)
}

// env is one app (the handler on a TLS server) with its fake Slack.
type env struct {
	t        *testing.T
	slack    *fakeslack.Server
	slackSrv *httptest.Server
	app      *httptest.Server
	h        *oauth.Handler
	store    *countingStore
	logs     *syncBuffer
	bodies   *syncBuffer // every response body the app sent

	mu      sync.Mutex
	secrets []string // beside what Slack issued: see requireNoSecrets
}

// t0 is the time of the handler, the store and the fake Slack (see
// bubble_test.go for tests in which time moves).
var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

func newEnv(t *testing.T, mutate ...func(*oauth.Config)) *env {
	t.Helper()
	e := &env{t: t, logs: &syncBuffer{}, bodies: &syncBuffer{}}
	e.slack, e.slackSrv = newFakeSlack(t, fixedNow)
	e.store = &countingStore{Store: memory.New(memory.WithClock(fixedNow))}
	e.app = httptest.NewUnstartedServer(nil)
	base := "https://" + e.app.Listener.Addr().String()
	cfg := oauth.Config{
		ClientID:      testClientID,
		ClientSecret:  installstore.NewSecret(testClientSecret),
		SigningSecret: installstore.NewSecret(testSigningSecret),
		StateSecret:   installstore.NewSecret(testStateSecret),
		Scopes:        []string{"chat:write", "commands"},
		UserScopes:    []string{"search:read"},
		RedirectURL:   base + oauth.DefaultRedirectPath,
		Store:         e.store,
		SlackAPIURL:   e.slackSrv.URL + "/api/",
		AuthorizeURL:  e.slackSrv.URL + "/oauth/v2/authorize",
		HTTPClient:    e.slackSrv.Client(),
		DirectInstall: true,
		Logger:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           fixedNow,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := oauth.New(cfg)
	require.NoError(t, err)
	e.h = h
	e.app.Config.Handler = h
	e.app.StartTLS()
	t.Cleanup(e.app.Close)
	return e
}

// noRedirect is a client for the app that does not follow redirects.
func (e *env) noRedirect() *http.Client {
	c := *e.app.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// browser is a client with a cookie jar that follows redirects, as a
// browser would, to the fake Slack and back.
func (e *env) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	c := *e.app.Client()
	c.Jar = jar
	return &c
}

// do sends req and returns the response with its body read and recorded.
func (e *env) do(c *http.Client, req *http.Request) (*http.Response, string) {
	e.t.Helper()
	resp, err := c.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	_, _ = e.bodies.Write(append(b, '\n'))
	return resp, string(b)
}

// startInstall GETs the install page (direct install) and returns the state
// Slack would receive and the state cookie the browser got.
func (e *env) startInstall() (string, *http.Cookie) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.app.URL+oauth.DefaultInstallPath, nil)
	require.NoError(e.t, err)
	resp, _ := e.do(e.noRedirect(), req)
	require.Equal(e.t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(e.t, err)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == oauth.DefaultCookieName {
			cookie = c
		}
	}
	require.NotNil(e.t, cookie, "install sets the state cookie")
	return loc.Query().Get("state"), cookie
}

// callback GETs the OAuth redirect with query and, if not nil, cookie.
func (e *env) callback(query url.Values, cookie *http.Cookie) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.app.URL+oauth.DefaultRedirectPath+"?"+query.Encode(), nil)
	require.NoError(e.t, err)
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	return e.do(e.noRedirect(), req)
}

// requireNoSecrets checks that no credential appears in the logs or in any
// response body.
func (e *env) requireNoSecrets() {
	e.t.Helper()
	secrets := []string{testClientSecret, testSigningSecret, testStateSecret}
	for _, s := range e.slack.IssuedSecrets() {
		secrets = append(secrets, s.Reveal())
	}
	e.mu.Lock()
	secrets = append(secrets, e.secrets...)
	e.mu.Unlock()
	logs, bodies := e.logs.String(), e.bodies.String()
	for _, s := range secrets {
		require.NotContains(e.t, logs, s, "a secret leaked into the logs")
		require.NotContains(e.t, bodies, s, "a secret leaked into a response body")
	}
}

// requireNothingHappened checks that Slack was not called and nothing stored.
func (e *env) requireNothingHappened() {
	e.t.Helper()
	require.Zero(e.t, e.slack.Calls("oauth.v2.access"), "oauth.v2.access was called")
	require.Zero(e.t, e.store.stores.Load(), "an installation was stored")
	require.Zero(e.t, e.store.Len(), "the store holds a tenant")
}

func newReq(t *testing.T, method, target string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	return req
}

func fetch(t *testing.T, s installstore.Store, q installstore.Query) *installstore.Installation {
	t.Helper()
	inst, err := s.FetchInstallation(context.Background(), q)
	require.NoError(t, err, "fetch %+v", q)
	return inst
}
