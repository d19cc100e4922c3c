package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/oauth"
	"github.com/installvault/installvault/rotation"
)

// appOptions is everything the app is built from.
type appOptions struct {
	Config *config
	// Store is the sealed store (crypto over the backend).
	Store installstore.Store
	// SlackAPIURL and AuthorizeURL point at Slack, or at the demo's
	// stand-in; empty means slack.com.
	SlackAPIURL, AuthorizeURL string
	// Demo, when set, adds the stand-in's buttons to the pages.
	Demo   *demoLinks
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// app is the example Slack app: the oauth handler, the refresher, and the
// pages.
type app struct {
	store     installstore.Store
	refresher *rotation.Refresher
	oauth     *oauth.Handler
	sessions  *sessions
	demo      *demoLinks
	baseURL   string
	log       *slog.Logger
	now       func() time.Time
}

// newApp wires the layers: oauth.Handler and rotation.Refresher over the
// sealed store.
func newApp(o appOptions) (*app, error) {
	c := o.Config
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	stateSecret := c.StateSecret
	if stateSecret.IsZero() {
		stateSecret = randomSecret()
		o.Logger.Warn("slackapp: " + envStateSecret + " is not set; using a random one for this process " +
			"(replicas behind one load balancer must share it)")
	}
	a := &app{store: o.Store, demo: o.Demo, baseURL: c.BaseURL, log: o.Logger, now: o.Now,
		sessions: &sessions{key: randomKey(), secure: checkHTTPS(c.BaseURL)}}

	ropts := []rotation.Option{
		rotation.WithClientCredentials(c.ClientID, c.ClientSecret),
		rotation.WithLogger(o.Logger),
		rotation.WithClock(o.Now),
	}
	if o.SlackAPIURL != "" {
		ropts = append(ropts, rotation.WithSlackAPIURL(o.SlackAPIURL))
	}
	r, err := rotation.New(o.Store, ropts...)
	if err != nil {
		return nil, fmt.Errorf("token refresher: %w", err)
	}
	a.refresher = r

	h, err := oauth.New(oauth.Config{
		ClientID:      c.ClientID,
		ClientSecret:  c.ClientSecret,
		SigningSecret: c.SigningSecret,
		StateSecret:   stateSecret,
		Scopes:        c.Scopes,
		UserScopes:    c.UserScopes,
		RedirectURL:   c.BaseURL + oauth.DefaultRedirectPath,
		Store:         o.Store,
		SlackAPIURL:   o.SlackAPIURL,
		AuthorizeURL:  o.AuthorizeURL,
		DirectInstall: true,
		RenderSuccess: a.installed,
		RenderFailure: renderFailure,
		Next:          &mentionHandler{tokens: r, log: o.Logger},
		Logger:        o.Logger,
		Now:           o.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("oauth handler: %w", err)
	}
	a.oauth = h
	return a, nil
}

// Handler routes the app's pages and the oauth handler's endpoints.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(oauth.DefaultInstallPath, a.oauth)
	mux.Handle(oauth.DefaultRedirectPath, a.oauth)
	mux.Handle(oauth.DefaultEventsPath, a.oauth)
	mux.HandleFunc("GET /installed", a.serveInstalled)
	mux.HandleFunc("GET /{$}", a.serveHome)
	return mux
}

// installed is the oauth handler's success hook: the installation is
// stored; remember its tenant in this browser and show /installed (a
// redirect, so the URL holding the OAuth code leaves the address bar).
func (a *app) installed(w http.ResponseWriter, r *http.Request, inst *installstore.Installation) {
	t := inst.Tenant()
	a.sessions.add(w, r, installstore.Query{EnterpriseID: t.EnterpriseID, TeamID: t.TeamID, IsEnterpriseInstall: inst.IsEnterpriseInstall})
	a.log.Info("slackapp: installed", "tenant", t.String(), "version", inst.Version)
	http.Redirect(w, r, "/installed", http.StatusSeeOther)
}

func (a *app) serveHome(w http.ResponseWriter, _ *http.Request) {
	render(w, http.StatusOK, homePage, struct {
		Demo        *demoLinks
		InstallPath string
	}{a.demo, oauth.DefaultInstallPath})
}

// serveInstalled lists the installations made from this browser, read
// through the sealed store: IDs, scopes, expiry, version — never a token.
func (a *app) serveInstalled(w http.ResponseWriter, r *http.Request) {
	ctx := installstore.WithCaller(r.Context(), "page:installed")
	var rows []tenantRow
	for _, q := range a.sessions.read(r) {
		row := tenantRow{Query: q, ID: q.TeamID, Label: q.TeamID}
		if q.TeamID == "" {
			row.ID, row.Label = q.EnterpriseID, "Organization "+q.EnterpriseID
		}
		inst, err := a.store.FetchInstallation(ctx, q)
		switch {
		case errors.Is(err, installstore.ErrNotFound):
		case err != nil:
			a.log.Error("slackapp: installed page: fetch failed", "tenant", q.Tenant().String(), "error", err)
			row.Problem = "This installation cannot be read right now."
		default:
			v := viewOf(inst, a.now())
			row.Installation = &v
		}
		rows = append(rows, row)
	}
	render(w, http.StatusOK, installedPage, struct {
		Demo        *demoLinks
		Rows        []tenantRow
		Self        string
		InstallPath string
	}{a.demo, rows, a.baseURL + "/installed", oauth.DefaultInstallPath})
}

// randomKey returns 32 random bytes.
func randomKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return k
}

// randomSecret returns a random secret of 32 bytes' entropy, as text.
func randomSecret() installstore.Secret {
	return installstore.Secret(fmt.Sprintf("%x", randomKey()))
}

// checkHTTPS reports whether base is an https URL (cookies are then Secure).
func checkHTTPS(base string) bool {
	return len(base) >= 8 && base[:8] == "https://"
}
