package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/oauth"
	"github.com/installvault/installvault/rotation"
)

// appOptions is everything the app is built from.
type appOptions struct {
	Config *config
	// Store is the sealed store (crypto over the backend).
	Store installstore.FullStore
	// SlackAPIURL and AuthorizeURL point at Slack, or at the demo's
	// stand-in; empty means slack.com.
	SlackAPIURL, AuthorizeURL string
	// Demo, when set, adds the stand-in's buttons to the pages.
	Demo   *demoLinks
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RefreshBefore is the refresh margin; default rotation's.
	RefreshBefore time.Duration
}

// app is the example Slack app: the oauth handler, the refresher, and the
// pages.
type app struct {
	store     installstore.FullStore
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
	if o.RefreshBefore > 0 {
		ropts = append(ropts, rotation.WithRefreshBefore(o.RefreshBefore))
	}
	r, err := rotation.New(o.Store, ropts...)
	if err != nil {
		return nil, fmt.Errorf("token refresher: %w", err)
	}
	a.refresher = r

	h, err := oauth.New(oauth.Config{
		ClientID:        c.ClientID,
		ClientSecret:    c.ClientSecret,
		SigningSecret:   c.SigningSecret,
		StateSecret:     stateSecret,
		Scopes:          c.Scopes,
		UserScopes:      c.UserScopes,
		SensitiveScopes: c.AdminOnlyScopes,
		BeforeInstall:   preselectTeam,
		RedirectURL:     c.BaseURL + oauth.DefaultRedirectPath,
		Store:           o.Store,
		SlackAPIURL:     o.SlackAPIURL,
		AuthorizeURL:    o.AuthorizeURL,
		DirectInstall:   true,
		RenderSuccess:   a.installed,
		RenderFailure:   a.renderFailure,
		Next:            &mentionHandler{tokens: r, log: o.Logger},
		Logger:          o.Logger,
		Now:             o.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("oauth handler: %w", err)
	}
	a.oauth = h
	return a, nil
}

// preselectTeam is the oauth handler's BeforeInstall: /slack/install?team=T...
// asks Slack to pre-select that workspace (the handler validates the ID).
func preselectTeam(_ http.ResponseWriter, r *http.Request, opts *oauth.InstallOptions) bool {
	opts.Team = r.URL.Query().Get("team")
	return true
}

// route is one path of the app: the methods it answers and its handler.
type route struct {
	methods []string
	h       http.Handler
}

// Handler routes the app's pages and the oauth handler's endpoints. Every
// other path gets the app's own 404 page, and a known path asked with
// another method its 405 page, both styled like the other pages (Go's
// ServeMux would answer them in plain text).
func (a *app) Handler() http.Handler {
	get := []string{http.MethodGet, http.MethodHead}
	routes := map[string]route{
		"/":                       {get, http.HandlerFunc(a.serveHome)},
		"/installed":              {get, http.HandlerFunc(a.serveInstalled)},
		oauth.DefaultInstallPath:  {get, a.oauth},
		oauth.DefaultRedirectPath: {[]string{http.MethodGet}, a.oauth},
		oauth.DefaultEventsPath:   {[]string{http.MethodPost}, a.oauth},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := routes[r.URL.Path]
		switch {
		case !ok:
			a.serveProblem(w, http.StatusNotFound, "Page not found",
				"There is nothing at this address. It may have moved, or the link may be mistyped.")
		case !slices.Contains(rt.methods, r.Method):
			w.Header().Set("Allow", strings.Join(rt.methods, ", "))
			a.serveProblem(w, http.StatusMethodNotAllowed, "This page cannot do that",
				"This address exists, but not for what your browser asked of it. Open it from a link instead.")
		default:
			rt.h.ServeHTTP(w, r)
		}
	})
}

// serveProblem shows an error page styled like the others, in words for
// whoever opened it.
func (a *app) serveProblem(w http.ResponseWriter, status int, title, message string) {
	render(w, status, problemPage, struct {
		Title, Message string
		Status         int
	}{title, message, status})
}

// renderFailure is the oauth handler's failure page. A reload of the
// callback after a completed install goes to the list of installations.
func (a *app) renderFailure(w http.ResponseWriter, r *http.Request, f *oauth.Failure) {
	if f.Reason == oauth.ReasonAlreadyCompleted {
		http.Redirect(w, r, "/installed", http.StatusSeeOther)
		return
	}
	render(w, f.Status, failurePage, struct {
		*oauth.Failure
		Title string
	}{f, failureTitle(f)})
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
	return installstore.NewSecret(fmt.Sprintf("%x", randomKey()))
}

// checkHTTPS reports whether base is an https URL (cookies are then Secure).
func checkHTTPS(base string) bool {
	return len(base) >= 8 && base[:8] == "https://"
}
