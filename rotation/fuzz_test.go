package rotation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/memory"
)

// FuzzRefreshResponse feeds arbitrary oauth.v2.access answers to a refresh
// of an expired token: Authorize either fails with ErrRefreshFailed or hands
// out a new, non-empty token; it never hands out the expired one, never
// panics, and never puts a credential in an error.
func FuzzRefreshResponse(f *testing.F) {
	for _, seed := range []string{
		`{"ok":true,"access_token":"xoxb-test-new","refresh_token":"xoxe-test-new","expires_in":43200,"token_type":"bot"}`,
		`{"ok":true,"access_token":"xoxb-test-new","expires_in":-5}`,
		`{"ok":true,"authed_user":{"access_token":"xoxp-test-new","refresh_token":"xoxe-test-u","expires_in":60}}`,
		`{"ok":true,"access_token":""}`,
		`{"ok":false,"error":"invalid_refresh_token"}`,
		`{"ok":false,"error":"invalid_grant"}`,
		`{"ok":false}`,
		`{"ok":true}`,
		`not json`,
		``,
		`{"ok":true,"access_token":"xoxb-test-new","expires_in":1e40}`,
	} {
		f.Add([]byte(seed))
	}
	// The answer comes through the fake's in-memory client, not a socket:
	// thousands of executions per second would exhaust the loopback's ports.
	slackAPI, err := fakeslack.New(fakeslack.Config{ClientID: testClientID, ClientSecret: installstore.NewSecret(testClientSecret)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		slackAPI.Handle(access, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(answer)
		}))
		c := newClock()
		store := memory.New(memory.WithClock(c.now))
		old := &installstore.Installation{TeamID: "T0FUZZ", Bot: &installstore.Bot{
			ID: "B1", Token: installstore.NewSecret("xoxb-test-expired"), RefreshToken: installstore.NewSecret("xoxe-test-refresh-secret"), ExpiresAt: c.now().Add(-time.Minute),
		}}
		if err := store.StoreInstallation(context.Background(), old); err != nil {
			t.Fatal(err)
		}
		r, err := New(store, WithClientCredentials(testClientID, installstore.NewSecret(testClientSecret)), WithClock(c.now), WithSlackAPIURL(slackAPI.APIURL()), WithHTTPClient(slackAPI.Client()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		inst, err := r.Authorize(ctx, installstore.Query{TeamID: "T0FUZZ"})
		if ctx.Err() != nil {
			t.Fatalf("Authorize hung on %q", answer)
		}
		if err != nil {
			if !errors.Is(err, ErrRefreshFailed) {
				t.Fatalf("error %v does not match ErrRefreshFailed", err)
			}
			if inst != nil {
				t.Fatal("an installation returned with an error")
			}
			for _, bad := range []string{"xoxb-test-expired", "xoxe-test-refresh-secret", testClientSecret} {
				if strings.Contains(err.Error(), bad) {
					t.Fatalf("error leaks a credential: %v", err)
				}
			}
			return
		}
		if tok := inst.Bot.Token; tok.IsZero() || tok.Reveal() == "xoxb-test-expired" {
			t.Fatalf("handed out token %q", tok.Reveal())
		}
		if inst.Bot.RefreshToken.IsZero() {
			t.Fatal("refresh token lost")
		}
	})
}
