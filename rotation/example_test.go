package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/rotation"
)

// Example shows an expired token refreshed once for 100 concurrent
// requests, against a local fake of Slack's oauth.v2.access (this module's
// internal fakeslack; in your tests, an httptest.Server answering
// oauth.v2.access does). A token still valid beyond the safety margin
// would be served at once and refreshed in the background.
func Example() {
	slackAPI, err := fakeslack.Start(fakeslack.Config{ClientID: "0000.1111", ClientSecret: installstore.NewSecret("test-client-secret")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer slackAPI.Close()
	slackAPI.AddToken(fakeslack.Token{Team: "T0ACME", Refresh: "xoxe-test-old"}) // the refresh token Slack issued at install

	ctx := context.Background()
	store := memory.New() // in production: crypto.NewStore over a shared backend
	_ = store.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0ACME",
		Bot: &installstore.Bot{
			ID: "B0BOT", Token: installstore.NewSecret("xoxb-test-old"), RefreshToken: installstore.NewSecret("xoxe-test-old"),
			ExpiresAt: time.Now().Add(-time.Minute), // expired: every request waits for the one refresh
		},
	})

	refresher, err := rotation.New(store,
		rotation.WithClientCredentials("0000.1111", installstore.NewSecret("test-client-secret")),
		rotation.WithSlackAPIURL(slackAPI.APIURL()),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	var wg sync.WaitGroup
	tokens := make([]installstore.Secret, 100)
	for i := range tokens {
		wg.Go(func() {
			inst, err := refresher.Authorize(ctx, installstore.Query{TeamID: "T0ACME"})
			if errors.Is(err, rotation.ErrRefreshFailed) {
				return // fail closed: never an expired token
			}
			if err == nil {
				tokens[i] = inst.Bot.Token
			}
		})
	}
	wg.Wait()

	distinct := map[string]bool{}
	for _, t := range tokens {
		distinct[t.Reveal()] = true
	}
	fmt.Println("refresh calls:", slackAPI.Calls("oauth.v2.access"))
	fmt.Println("distinct tokens:", len(distinct))
	fmt.Println("token prints as:", tokens[0])
	// Output:
	// refresh calls: 1
	// distinct tokens: 1
	// token prints as: [REDACTED]
}

// ExampleRefresher_Run shows the background refresh of a long-running app
// and its shutdown: stop Run, then let write-backs still being retried (the
// store was unavailable when Slack answered) finish before exiting, so that
// no token Slack rotated is lost.
func ExampleRefresher_Run() {
	store := memory.New() // in production: crypto.NewStore over a shared backend
	refresher, err := rotation.New(store, rotation.WithClientCredentials("0000.1111", installstore.NewSecret("test-client-secret")))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- refresher.Run(ctx) }()

	// ... serve requests with refresher.Authorize until told to stop ...

	stop()
	<-done
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := refresher.Wait(shutdown); err != nil {
		fmt.Println("write-backs still pending at exit:", err)
	}
}
