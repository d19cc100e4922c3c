package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/oauth"
	"github.com/installvault/installvault/rotation"
)

// demoClientID is the demo app's made-up client ID.
const demoClientID = "1000000000001.2000000000002"

// demoOptions configure startDemo.
type demoOptions struct {
	// Listener is where the app serves (on 127.0.0.1).
	Listener net.Listener
	// TokenLifetime is how long the stand-in's access tokens live.
	TokenLifetime time.Duration
	Logger        *slog.Logger
	// Now is the app's clock; default time.Now.
	Now func() time.Time
	// Store, when set, is a store URL (INSTALLVAULT_STORE: sqlite:PATH,
	// postgres://..., redis://..., dynamodb:TABLE) holding the
	// installations instead of memory.
	Store string
	// DynamoTable, when set, stores the installations in this DynamoDB
	// table (at DynamoEndpoint, e.g. DynamoDB Local) instead of memory;
	// CreateTable creates it first.
	DynamoTable, DynamoEndpoint string
	CreateTable                 bool
	// LocalCredentials makes the DynamoDB client use placeholder
	// credentials, which DynamoDB Local accepts.
	LocalCredentials bool
	// AdminOnlyScopes, when set, turns on the admin guard for those scopes
	// (in the stand-in, Acme's installer is an admin, Globex's is not).
	AdminOnlyScopes []string
}

// demo is the app running against the Slack stand-in, with made-up
// credentials and a random local key, all in memory.
type demo struct {
	// URL is the app's base URL.
	URL string
	// Slack is the stand-in.
	Slack *fakeslack.Server
	// Stores are the app's sealed store and its backend (memory unless
	// demoOptions chose one).
	Stores *storeStack
	// Secrets are the made-up client, signing and state secrets and the
	// local key, for tests asserting they never leak.
	Secrets []installstore.Secret
	app     *app
	server  *server
}

// startDemo starts the stand-in and the app. Close stops both.
func startDemo(ctx context.Context, o demoOptions) (*demo, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	base := "http://" + o.Listener.Addr().String()
	cfg := &config{
		ClientID:               demoClientID,
		ClientSecret:           randomSecret(),
		SigningSecret:          randomSecret(),
		StateSecret:            randomSecret(),
		Scopes:                 withUsersRead(defaultScopes, o.AdminOnlyScopes),
		AdminOnlyScopes:        o.AdminOnlyScopes,
		BaseURL:                base,
		LocalKeys:              installstore.NewSecret(base64.StdEncoding.EncodeToString(randomKey())),
		DynamoTable:            o.DynamoTable,
		DynamoEndpoint:         o.DynamoEndpoint,
		DynamoLocalCredentials: o.LocalCredentials,
	}
	if err := cfg.setStore(o.Store); err != nil {
		_ = o.Listener.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	slack, err := fakeslack.Start(fakeslack.Config{
		ClientID:      cfg.ClientID,
		ClientSecret:  cfg.ClientSecret,
		SigningSecret: cfg.SigningSecret,
		RedirectURL:   base + oauth.DefaultRedirectPath,
		EventsURL:     base + oauth.DefaultEventsPath,
		TokenLifetime: o.TokenLifetime,
		Tokens:        fakeslack.Rotating,
		Logger:        o.Logger,
	})
	if err != nil {
		_ = o.Listener.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	stores, err := openStores(ctx, cfg, o.CreateTable)
	if err != nil {
		_ = o.Listener.Close()
		return nil, errors.Join(fmt.Errorf("demo: %w", err), slack.Close())
	}
	a, err := newApp(appOptions{Config: cfg, Store: stores.Sealed, SlackAPIURL: slack.APIURL(),
		AuthorizeURL: slack.AuthorizeURL(), Demo: &demoLinks{SlackURL: slack.URL()}, Logger: o.Logger, Now: o.Now,
		RefreshBefore: refreshBeforeFor(o.TokenLifetime)})
	if err != nil {
		_ = o.Listener.Close()
		return nil, errors.Join(fmt.Errorf("demo: %w", err), slack.Close(), stores.Close())
	}
	o.Logger.Info("slackapp demo: " + stores.Describe)
	return &demo{URL: base, Slack: slack, Stores: stores, app: a, server: startServer(o.Listener, a),
		Secrets: []installstore.Secret{cfg.ClientSecret, cfg.SigningSecret, cfg.StateSecret, cfg.LocalKeys}}, nil
}

// Close stops the app, then the stand-in, and closes the backend.
func (d *demo) Close() error {
	return errors.Join(d.server.Close(), d.Slack.Close(), d.Stores.Close())
}

// refreshBeforeFor is the refresh margin for the stand-in's token lifetime:
// rotation's default (2 h of Slack's 12 h), or a sixth of a shorter lifetime,
// so that a short -demo-token-lifetime does not refresh on every use.
func refreshBeforeFor(lifetime time.Duration) time.Duration {
	return min(rotation.DefaultRefreshBefore, lifetime/6)
}
