package rotation

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fake app credentials. Obviously fake.
const (
	testClientID     = "0000000000.1111111111"
	testClientSecret = "test-client-secret-do-not-log"
)

// fakeSlack is a local fake of Slack's oauth.v2.access (refresh grant) and
// auth.test. It rotates like Slack: a refresh token works once, and each
// refresh issues a distinct access token and a new refresh token.
type fakeSlack struct {
	t   testing.TB
	srv *httptest.Server

	calls atomic.Int64 // oauth.v2.access calls
	seq   atomic.Int64

	mu        sync.Mutex
	refresh   map[string]bool // refresh tokens that still work
	expired   map[string]bool // access tokens auth.test calls expired
	failWith  string          // "": succeed; "500"; or a Slack error code
	expiresIn int
	body      []byte        // when set: the raw oauth.v2.access answer
	onCall    func()        // when set: runs inside each oauth.v2.access call, before answering
	called    chan struct{} // when set: gets a value per oauth.v2.access call
	authCalls map[string]int
	reuse     bool // refresh tokens work any number of times (a non-rotating fake)
}

func newFakeSlack(t testing.TB) *fakeSlack {
	f := &fakeSlack{t: t, refresh: map[string]bool{}, expired: map[string]bool{}, expiresIn: 12 * 3600, authCalls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// client is an HTTP client that reaches the fake in memory, without a
// socket: for tests making thousands of refreshes.
func (f *fakeSlack) client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		f.serve(rec, req)
		resp := rec.Result()
		resp.Request = req
		return resp, nil
	})}
}

// url is the base URL for WithSlackAPIURL.
func (f *fakeSlack) url() string { return f.srv.URL + "/api/" }

// allow registers a refresh token the fake accepts once.
func (f *fakeSlack) allow(refresh string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh[refresh] = true
}

func (f *fakeSlack) set(fn func(f *fakeSlack)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/api/oauth.v2.access":
		f.access(w, r)
	case "/api/auth.test":
		tok := r.PostForm.Get("token")
		if h := r.Header.Get("Authorization"); tok == "" && strings.HasPrefix(h, "Bearer ") {
			tok = strings.TrimPrefix(h, "Bearer ")
		}
		f.mu.Lock()
		f.authCalls[tok]++
		expired := f.expired[tok]
		f.mu.Unlock()
		if expired {
			writeJSON(w, map[string]any{"ok": false, "error": "token_expired"})
			return
		}
		writeJSON(w, map[string]any{"ok": true, "team_id": "T0ACME", "user_id": "U0BOT"})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeSlack) access(w http.ResponseWriter, r *http.Request) {
	n := f.calls.Add(1)
	f.mu.Lock()
	onCall, called := f.onCall, f.called
	f.mu.Unlock()
	if called != nil {
		called <- struct{}{}
	}
	if onCall != nil {
		onCall()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.body != nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.body)
		return
	}
	form := r.PostForm
	if form.Get("grant_type") != "refresh_token" || form.Get("client_id") != testClientID || form.Get("client_secret") != testClientSecret {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_client"})
		return
	}
	switch f.failWith {
	case "":
	case "500":
		http.Error(w, "upstream unavailable", http.StatusInternalServerError)
		return
	case "429":
		w.Header().Set("Retry-After", "30")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	default:
		writeJSON(w, map[string]any{"ok": false, "error": f.failWith})
		return
	}
	old := form.Get("refresh_token")
	if !f.refresh[old] {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_refresh_token"})
		return
	}
	if !f.reuse {
		delete(f.refresh, old)
	}
	kind, prefix := "bot", "xoxb"
	if strings.Contains(old, "user") {
		kind, prefix = "user", "xoxp"
	}
	next := fmt.Sprintf("xoxe-test-%s-refresh-%d", kind, f.seq.Add(1))
	f.refresh[next] = true
	writeJSON(w, map[string]any{
		"ok":            true,
		"access_token":  fmt.Sprintf("%s-test-%s-%d", prefix, kind, n),
		"refresh_token": next,
		"expires_in":    f.expiresIn,
		"token_type":    kind,
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// clock is a settable clock shared by the store and the refresher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
