// Command usage is README's usage section, as a program that compiles (a
// test keeps the two identical): a Slack app on the production stack —
// DynamoDB, AWS KMS, token rotation, the OAuth flow and typed events.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/oauth"
	"github.com/installvault/installvault/rotation"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	clientID := os.Getenv("SLACK_CLIENT_ID")
	clientSecret := installstore.NewSecret(os.Getenv("SLACK_CLIENT_SECRET"))

	aws, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	backend, err := dynamo.New(dynamodb.NewFromConfig(aws), "slack-installations")
	if err != nil {
		return err
	}
	keys, err := crypto.NewKMS(kms.NewFromConfig(aws), "alias/slack-tokens")
	if err != nil {
		return err
	}
	store, err := crypto.NewStore(backend, keys, crypto.WithDataKeyCache(5*time.Minute, 1000))
	if err != nil {
		return err
	}
	refresher, err := rotation.New(store, rotation.WithClientCredentials(clientID, clientSecret))
	if err != nil {
		return err
	}

	// Install page, OAuth callback and Events API under /slack/.
	slackApp, err := oauth.New(oauth.Config{
		ClientID:      clientID,
		ClientSecret:  clientSecret,
		SigningSecret: installstore.NewSecret(os.Getenv("SLACK_SIGNING_SECRET")),
		StateSecret:   installstore.NewSecret(os.Getenv("SLACK_STATE_SECRET")),
		Scopes:        []string{"chat:write", "app_mentions:read"},
		RedirectURL:   "https://app.example.com/slack/oauth_redirect",
		Store:         store,
		Next:          onEvent(refresher),
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/slack/", slackApp)
	server := &http.Server{Addr: ":3000", Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	// Refresh tokens nearing expiry, even with no traffic.
	go func() {
		if err := refresher.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Printf("refresher stopped: %v", err)
		}
	}()
	stopped := make(chan error, 1)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Finish the requests in flight, then store any token Slack rotated
		// meanwhile before the process exits.
		stopped <- errors.Join(server.Shutdown(shutdown), refresher.Wait(shutdown))
	}()
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-stopped
}

// onEvent answers app mentions. The tenant comes from the verified request;
// a token that cannot be opened or refreshed fails the call, never stale.
func onEvent(refresher *rotation.Refresher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, ok := oauth.EventFrom(r.Context())
		if !ok {
			http.Error(w, "not a Slack event", http.StatusBadRequest)
			return
		}
		mention, ok := ev.API.InnerEvent.Data.(*slackevents.AppMentionEvent)
		if !ok {
			return // other events: acknowledged
		}
		err := refresher.Do(r.Context(), ev.Tenant, func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, mention.Channel, slack.MsgOptionText("Hello!", false))
			return err
		})
		switch {
		case errors.Is(err, installstore.ErrUnavailable):
			http.Error(w, "try again", http.StatusServiceUnavailable) // Slack delivers it again
		case err != nil:
			log.Printf("app_mention for %s: %v", ev.Tenant.Tenant(), err) // not installed, or no valid token
		}
	})
}
