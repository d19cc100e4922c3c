package oauth_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
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

// fakeSlack stands in for slack.com: the authorize page, which redirects
// back with a code and the state, and the Web API methods oauth.v2.access,
// auth.test, users.info, apps.uninstall and auth.revoke. Every answer
// carries a Date from Slack's clock: the test clock moved by ahead.
type fakeSlack struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	nextCode  string              // code the authorize page hands out
	grants    map[string]string   // code → oauth.v2.access JSON (single use, as at Slack)
	authTest  map[string]string   // token → auth.test JSON
	users     map[string]string   // user ID → users.info JSON (any token)
	lastAuth  url.Values          // query of the last authorize request
	secrets   map[string]struct{} // every token and code handed out
	now       func() time.Time    // the app's clock
	ahead     time.Duration       // how far Slack's clock is ahead of it
	noDate    bool                // answer without a Date header
	uninstall []string            // tokens apps.uninstall was called with
	revoked   []string            // tokens auth.revoke was called with

	exchanges atomic.Int32
	authTests atomic.Int32
	userInfos atomic.Int32
}

func newFakeSlack(t *testing.T, now func() time.Time) *fakeSlack {
	f := &fakeSlack{t: t, grants: map[string]string{}, authTest: map[string]string{}, users: map[string]string{},
		secrets: map[string]struct{}{}, now: now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v2/authorize", f.authorize)
	mux.HandleFunc("POST /api/oauth.v2.access", f.access)
	mux.HandleFunc("POST /api/auth.test", f.auth)
	mux.HandleFunc("POST /api/users.info", f.userInfo)
	mux.HandleFunc("POST /api/apps.uninstall", f.appsUninstall)
	mux.HandleFunc("POST /api/auth.revoke", f.authRevoke)
	f.srv = httptest.NewTLSServer(f.dated(mux))
	t.Cleanup(f.srv.Close)
	return f
}

// slackNow is Slack's clock.
func (f *fakeSlack) slackNow() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now().Add(f.ahead)
}

// dated stamps every answer with Slack's clock, as Slack's servers do.
func (f *fakeSlack) dated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		noDate := f.noDate
		f.mu.Unlock()
		if noDate {
			w.Header()["Date"] = nil // net/http then sends none
		} else {
			w.Header().Set("Date", f.slackNow().UTC().Format(http.TimeFormat))
		}
		h.ServeHTTP(w, r)
	})
}

// user registers the users.info answer for id.
func (f *fakeSlack) user(id string, admin bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[id] = fmt.Sprintf(`{"ok":true,"user":{"id":%q,"name":"someone","is_admin":%t,"is_owner":false}}`, id, admin)
}

func (f *fakeSlack) userInfo(w http.ResponseWriter, r *http.Request) {
	f.userInfos.Add(1)
	_ = r.ParseForm()
	f.mu.Lock()
	js, ok := f.users[r.PostForm.Get("user")]
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		_, _ = io.WriteString(w, `{"ok":false,"error":"user_not_found"}`)
		return
	}
	_, _ = io.WriteString(w, js)
}

func (f *fakeSlack) appsUninstall(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("client_id") != testClientID || r.PostForm.Get("client_secret") != testClientSecret {
		_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_client_id"}`)
		return
	}
	f.mu.Lock()
	f.uninstall = append(f.uninstall, formToken(r))
	f.mu.Unlock()
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func (f *fakeSlack) authRevoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.revoked = append(f.revoked, formToken(r))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true,"revoked":true}`)
}

// undone returns the tokens apps.uninstall and auth.revoke were called with.
func (f *fakeSlack) undone() (uninstalled, revoked []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.uninstall...), append([]string(nil), f.revoked...)
}

// formToken is the token of a Web API call (slack-go sends it in the form,
// or as a bearer).
func formToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	return r.PostForm.Get("token")
}

// grant registers the answer to code, and the auth.test answers by token.
func (f *fakeSlack) grant(code, accessJSON string, authTests map[string]string, secrets ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextCode = code
	f.grants[code] = accessJSON
	for tok, js := range authTests {
		f.authTest[tok] = js
	}
	f.secrets[code] = struct{}{}
	for _, s := range secrets {
		f.secrets[s] = struct{}{}
	}
}

func (f *fakeSlack) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.lastAuth = q
	code := f.nextCode
	f.mu.Unlock()
	if q.Get("client_id") != testClientID || q.Get("redirect_uri") == "" || q.Get("state") == "" {
		http.Error(w, "bad authorize request", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (f *fakeSlack) access(w http.ResponseWriter, r *http.Request) {
	f.exchanges.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("client_id") != testClientID || r.PostForm.Get("client_secret") != testClientSecret {
		_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_client_id"}`)
		return
	}
	if r.PostForm.Get("redirect_uri") == "" {
		_, _ = io.WriteString(w, `{"ok":false,"error":"bad_redirect_uri"}`)
		return
	}
	f.mu.Lock()
	js, ok := f.grants[r.PostForm.Get("code")]
	delete(f.grants, r.PostForm.Get("code"))
	f.mu.Unlock()
	if !ok {
		_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_code"}`)
		return
	}
	_, _ = io.WriteString(w, js)
}

func (f *fakeSlack) auth(w http.ResponseWriter, r *http.Request) {
	f.authTests.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	js, ok := f.authTest[formToken(r)]
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
		return
	}
	_, _ = io.WriteString(w, js)
}

// clock is a settable clock shared by the handler and the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
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
	t      *testing.T
	slack  *fakeSlack
	app    *httptest.Server
	h      *oauth.Handler
	store  *countingStore
	clock  *clock
	logs   *syncBuffer
	bodies *syncBuffer // every response body the app sent
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, mutate ...func(*oauth.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{now: t0}, logs: &syncBuffer{}, bodies: &syncBuffer{}}
	e.slack = newFakeSlack(t, e.clock.Now)
	e.store = &countingStore{Store: memory.New(memory.WithClock(e.clock.Now))}
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
		SlackAPIURL:   e.slack.srv.URL + "/api/",
		AuthorizeURL:  e.slack.srv.URL + "/oauth/v2/authorize",
		HTTPClient:    e.slack.srv.Client(),
		DirectInstall: true,
		Logger:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           e.clock.Now,
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
	e.slack.mu.Lock()
	for s := range e.slack.secrets {
		secrets = append(secrets, s)
	}
	e.slack.mu.Unlock()
	logs, bodies := e.logs.String(), e.bodies.String()
	for _, s := range secrets {
		require.NotContains(e.t, logs, s, "a secret leaked into the logs")
		require.NotContains(e.t, bodies, s, "a secret leaked into a response body")
	}
}

// requireNothingHappened checks that Slack was not called and nothing stored.
func (e *env) requireNothingHappened() {
	e.t.Helper()
	require.Zero(e.t, e.slack.exchanges.Load(), "oauth.v2.access was called")
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
