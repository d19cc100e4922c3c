package main

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
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

// startSlack starts the module's fake Slack on 127.0.0.1 for the app
// "0000.1111". Its oauth.v2.access refreshes as Slack does, after a network
// round trip, so that the storm overlaps the refresh. It accepts the
// refresh tokens of the installations above (once each, as Slack does),
// which it did not issue.
func startSlack() (*fakeslack.Server, error) {
	s, err := fakeslack.Start(fakeslack.Config{
		ClientID:           "0000.1111",
		ClientSecret:       installstore.NewSecret("quickstart-client-secret"),
		AcceptRefreshToken: func(refresh string) bool { return strings.HasPrefix(refresh, "xoxe-1-test-") },
	})
	if err != nil {
		return nil, err
	}
	s.Fail("oauth.v2.access", &fakeslack.Fault{Delay: 20 * time.Millisecond})
	return s, nil
}

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
