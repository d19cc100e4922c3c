package rotation

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
)

// Fake app credentials. Obviously fake.
const (
	testClientID     = "0000000000.1111111111"
	testClientSecret = "test-client-secret-do-not-log"
)

// access is the Web API method the refresher calls.
const access = "oauth.v2.access"

// fakeSlack is the module's fake Slack (internal/fakeslack, Numbered
// tokens: the refresh in oauth.v2.access call N issues xoxb-test-bot-N) on
// a loopback httptest server, or in memory (srv nil).
type fakeSlack struct {
	*fakeslack.Server
	srv   *httptest.Server
	calls refreshCalls
}

// refreshCalls reads how many times oauth.v2.access was called.
type refreshCalls struct{ s *fakeslack.Server }

func (c refreshCalls) Load() int64 { return int64(c.s.Calls(access)) }

// newFakeSlack starts a fake Slack on Slack's own clock (time.Now).
func newFakeSlack(t testing.TB) *fakeSlack { return newFakeSlackAt(t, time.Now) }

// newFakeSlackAt starts a fake Slack whose clock is now.
func newFakeSlackAt(t testing.TB, now func() time.Time) *fakeSlack {
	s, err := fakeslack.New(fakeslack.Config{ClientID: testClientID, ClientSecret: installstore.NewSecret(testClientSecret), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSlack{Server: s, srv: httptest.NewServer(s), calls: refreshCalls{s}}
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeSlackInMemory makes a fake Slack reached through its Client only,
// on time.Now: for a testing/synctest bubble, which holds no socket.
func newFakeSlackInMemory(t testing.TB) *fakeSlack {
	s, err := fakeslack.New(fakeslack.Config{ClientID: testClientID, ClientSecret: installstore.NewSecret(testClientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeSlack{Server: s, calls: refreshCalls{s}}
}

// url is the base URL for WithSlackAPIURL.
func (f *fakeSlack) url() string {
	if f.srv == nil {
		return f.APIURL()
	}
	return f.srv.URL + "/api/"
}

// failWith makes oauth.v2.access fail: "" heals it, "500" and "429" (with
// Retry-After: 30) are HTTP statuses, anything else a Slack error code.
func (f *fakeSlack) failWith(how string) {
	switch how {
	case "":
		f.Fail(access, nil)
	case "429":
		f.Fail(access, &fakeslack.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	default:
		if code, err := strconv.Atoi(how); err == nil {
			f.Fail(access, &fakeslack.Fault{Status: code})
			return
		}
		f.Fail(access, &fakeslack.Fault{Error: how})
	}
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
