package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/rotation"
)

// newKey returns a random 32-byte master key. A real deployment keeps its
// keys in KMS (crypto.NewKMS) or loads them from a secret manager.
func newKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}

// installation builds what the OAuth callback stores. Tokens are obviously
// fake; the bot token is rotating and expires in 10 minutes, inside the
// refresher's 2-hour margin, so the first request refreshes it.
func installation(ent, team, user string, org bool) *installstore.Installation {
	id := team
	if org {
		id = ent
	}
	return &installstore.Installation{
		AppID:               "A0QUICKSTART",
		EnterpriseID:        ent,
		TeamID:              team,
		TeamName:            "Workspace " + id,
		IsEnterpriseInstall: org,
		Bot: &installstore.Bot{
			ID:           "B" + id,
			UserID:       "UB" + id,
			Token:        installstore.NewSecret("xoxb-test-" + id),
			RefreshToken: installstore.NewSecret("xoxe-1-test-" + id),
			ExpiresAt:    time.Now().Add(30 * time.Second), // inside the refresher's 1-minute safety margin: callers wait for the one refresh
			Scopes:       []string{"chat:write", "commands"},
		},
		User:      installstore.User{ID: user, Token: installstore.NewSecret("xoxp-test-" + id + "-" + user), Scopes: []string{"search:read"}},
		TokenType: "bot",
	}
}

// slackStandIn answers oauth.v2.access (grant_type=refresh_token) as Slack
// does, on 127.0.0.1, and counts the calls.
type slackStandIn struct {
	*httptest.Server
	calls atomic.Int64
	down  atomic.Bool // answer 503, as Slack does in an outage
}

func startSlackStandIn() (*slackStandIn, error) {
	s := &slackStandIn{}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/oauth.v2.access", func(w http.ResponseWriter, r *http.Request) {
		n := s.calls.Add(1)
		if s.down.Load() {
			http.Error(w, "quickstart stand-in: Slack is down", http.StatusServiceUnavailable)
			return
		}
		time.Sleep(20 * time.Millisecond) // a network round trip, so the storm overlaps
		if r.FormValue("grant_type") != "refresh_token" {
			http.Error(w, "quickstart stand-in answers refresh_token grants only", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ok": true, "token_type": "bot", "expires_in": 43200,
			"access_token":  fmt.Sprintf("xoxb-test-refreshed-%d", n),
			"refresh_token": fmt.Sprintf("xoxe-1-test-refreshed-%d", n),
		})
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Server = &httptest.Server{Listener: l, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	s.Start()
	return s, nil
}

// Calls returns how many times oauth.v2.access was called.
func (s *slackStandIn) Calls() int64 { return s.calls.Load() }

// SetDown makes the stand-in fail every call (true) or answer again (false).
func (s *slackStandIn) SetDown(down bool) { s.down.Store(down) }

// storm runs n concurrent Authorize calls and returns how many distinct bot
// tokens they were handed, and how many failed.
func storm(ctx context.Context, r *rotation.Refresher, q installstore.Query, n int) (distinct, failures int) {
	var (
		mu     sync.Mutex
		tokens = map[string]bool{}
		wg     sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			inst, err := r.Authorize(ctx, q)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures++
				return
			}
			tokens[inst.Bot.Token.Reveal()] = true
		})
	}
	wg.Wait()
	return len(tokens), failures
}
