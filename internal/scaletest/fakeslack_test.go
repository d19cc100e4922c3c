package scaletest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Fake app credentials. Obviously fake.
const (
	testClientID     = "0000000000.1111111111"
	testClientSecret = "test-client-secret-do-not-log"
)

// fakeSlack answers oauth.v2.access refresh grants on a loopback httptest
// server and rotates like Slack: each refresh token issued by this fake, or
// named by a test's install (prefix "xoxe-test-bot-"), works once; a reused
// one is rejected and counted, so a double refresh shows.
type fakeSlack struct {
	srv *httptest.Server

	refreshes atomic.Int64 // successful refresh grants
	rejected  atomic.Int64 // refresh grants refused (reused token, bad client)
	seq       atomic.Int64

	mu   sync.Mutex
	used map[string]bool
}

func newFakeSlack(t testing.TB) *fakeSlack {
	f := &fakeSlack{used: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// url is the base URL for rotation.WithSlackAPIURL.
func (f *fakeSlack) url() string { return f.srv.URL + "/api/" }

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/oauth.v2.access" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	if form.Get("grant_type") != "refresh_token" || form.Get("client_id") != testClientID || form.Get("client_secret") != testClientSecret {
		f.rejected.Add(1)
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_client"})
		return
	}
	old := form.Get("refresh_token")
	f.mu.Lock()
	reused := f.used[old] || !strings.HasPrefix(old, "xoxe-test-bot-")
	f.used[old] = true
	f.mu.Unlock()
	if reused {
		f.rejected.Add(1)
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_refresh_token"})
		return
	}
	n := f.seq.Add(1)
	f.refreshes.Add(1)
	writeJSON(w, map[string]any{
		"ok":            true,
		"access_token":  fmt.Sprintf("xoxb-test-refreshed-%d", n),
		"refresh_token": fmt.Sprintf("xoxe-test-bot-refreshed-%d", n),
		"expires_in":    12 * 3600,
		"token_type":    "bot",
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
