package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/installstore"
)

// Defaults, as Bolt uses them.
const (
	// DefaultInstallPath serves the install page.
	DefaultInstallPath = "/slack/install"
	// DefaultRedirectPath serves the OAuth redirect (callback).
	DefaultRedirectPath = "/slack/oauth_redirect"
	// DefaultEventsPath serves the Events API endpoint.
	DefaultEventsPath = "/slack/events"
	// DefaultCookieName is the state cookie's name.
	DefaultCookieName = "slack-app-oauth-state"
	// DefaultStateTTL is how long a state is valid.
	DefaultStateTTL = 10 * time.Minute
	// MaxStateTTL is the longest StateTTL accepted; Slack's codes live
	// 10 minutes anyway.
	MaxStateTTL = time.Hour
	// DefaultAuthorizeURL is Slack's OAuth v2 authorize page.
	DefaultAuthorizeURL = "https://slack.com/oauth/v2/authorize"
	// MinStateSecretLen is the shortest StateSecret accepted, in bytes.
	MinStateSecretLen = 32
	// MaxEventBytes bounds an Events API request body; larger ones get 413.
	MaxEventBytes = 1 << 20
)

// Config configures a [Handler]. The zero values of optional fields take
// the documented defaults.
type Config struct {
	// ClientID is the Slack app's client ID. Required.
	ClientID string
	// ClientSecret is the Slack app's client secret. Required.
	ClientSecret installstore.Secret
	// SigningSecret verifies Events API requests. Required.
	SigningSecret installstore.Secret
	// StateSecret signs the OAuth state (HMAC-SHA256). Required: at least
	// [MinStateSecretLen] random bytes, distinct from the other secrets.
	StateSecret installstore.Secret
	// Scopes are the bot scopes requested.
	Scopes []string
	// UserScopes are the user scopes requested. At least one of Scopes and
	// UserScopes is required.
	UserScopes []string
	// RedirectURL is the OAuth redirect URL configured in the Slack app,
	// sent to both the authorize page and oauth.v2.access. Required; https,
	// or http on a loopback host.
	RedirectURL string
	// Store keeps the installations. Required.
	Store installstore.Store
	// NonceStore keeps the single-use state nonces. Defaults to Store when
	// it implements [installstore.NonceStore]. Replicas must share it.
	NonceStore installstore.NonceStore
	// StateTTL is how long an install may take from the install page to the
	// callback. Default [DefaultStateTTL]; at most [MaxStateTTL].
	StateTTL time.Duration
	// SlackAPIURL is the Web API base, ending in "/api/". Default
	// slack.APIURL ("https://slack.com/api/"); tests point it at a local
	// server.
	SlackAPIURL string
	// AuthorizeURL is Slack's authorize page. Default [DefaultAuthorizeURL].
	AuthorizeURL string
	// HTTPClient calls Slack's Web API. Default: a client with a 30s timeout.
	HTTPClient *http.Client

	// InstallPath, RedirectPath and EventsPath are where [Handler.ServeHTTP]
	// routes; defaults [DefaultInstallPath], [DefaultRedirectPath],
	// [DefaultEventsPath]. They must differ.
	InstallPath, RedirectPath, EventsPath string

	// CookieName, CookiePath and CookieDomain place the state cookie.
	// Defaults: [DefaultCookieName], "/", and the request's host only. The
	// cookie must reach RedirectPath: behind a proxy or across subdomains,
	// set CookieDomain and CookiePath so that it does.
	CookieName, CookiePath, CookieDomain string

	// DirectInstall makes the install page redirect straight to Slack
	// instead of showing an "Add to Slack" button.
	DirectInstall bool

	// RenderInstall writes the install page linking to authorizeURL (a
	// trusted URL). Default: a minimal "Add to Slack" page.
	RenderInstall func(w http.ResponseWriter, r *http.Request, authorizeURL string)
	// RenderSuccess writes the page shown after the installation was
	// stored. inst's secrets redact themselves; do not Reveal them here.
	// Default: a minimal success page.
	RenderSuccess func(w http.ResponseWriter, r *http.Request, inst *installstore.Installation)
	// RenderFailure writes the page shown when an install fails; it should
	// write f.Status. Default: a minimal page showing f.Message.
	RenderFailure func(w http.ResponseWriter, r *http.Request, f *Failure)
	// AuthorizeInstaller, when set, is called with the installation Slack
	// granted before it is stored; an error rejects the install (403 page,
	// nothing stored), e.g. a non-admin installer of sensitive scopes. The
	// tokens Slack issued are then dropped, not revoked.
	AuthorizeInstaller func(ctx context.Context, inst *installstore.Installation) error

	// Next, when set, receives every verified Events API request this
	// package does not handle itself (other events, app_rate_limited), with
	// its body intact. Default: acknowledge with 200.
	Next http.Handler

	// Logger receives one line per failure and per purge, never a secret.
	// Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for state issue/expiry, InstalledAt and token
	// expiry. Default time.Now. Request signature timestamps are checked by
	// slack-go against the real clock.
	Now func() time.Time
}

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.NonceStore == nil {
		if ns, ok := c.Store.(installstore.NonceStore); ok {
			c.NonceStore = ns
		}
	}
	setDefault(&c.SlackAPIURL, slack.APIURL)
	setDefault(&c.AuthorizeURL, DefaultAuthorizeURL)
	setDefault(&c.InstallPath, DefaultInstallPath)
	setDefault(&c.RedirectPath, DefaultRedirectPath)
	setDefault(&c.EventsPath, DefaultEventsPath)
	setDefault(&c.CookieName, DefaultCookieName)
	setDefault(&c.CookiePath, "/")
	if c.StateTTL == 0 {
		c.StateTTL = DefaultStateTTL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.RenderInstall == nil {
		c.RenderInstall = renderInstall
	}
	if c.RenderSuccess == nil {
		c.RenderSuccess = renderSuccess
	}
	if c.RenderFailure == nil {
		c.RenderFailure = renderFailure
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// validate reports every problem of a defaulted config at once.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ClientID == "" {
		bad("ClientID is empty")
	}
	if c.ClientSecret.IsZero() {
		bad("ClientSecret is empty")
	}
	if c.SigningSecret.IsZero() {
		bad("SigningSecret is empty")
	}
	switch {
	case len(c.StateSecret) < MinStateSecretLen:
		bad("StateSecret has %d bytes; it needs at least %d random bytes", len(c.StateSecret), MinStateSecretLen)
	case c.StateSecret == c.ClientSecret || c.StateSecret == c.SigningSecret:
		bad("StateSecret must not reuse the client or signing secret")
	}
	if len(c.Scopes) == 0 && len(c.UserScopes) == 0 {
		bad("no Scopes and no UserScopes: request at least one scope")
	}
	for _, s := range append(append([]string(nil), c.Scopes...), c.UserScopes...) {
		if s == "" || strings.ContainsAny(s, ", \t\r\n&=?#") {
			bad("scope %q is empty or has a separator", s)
		}
	}
	if c.Store == nil {
		bad("Store is nil")
	}
	if c.NonceStore == nil {
		bad("no NonceStore, and Store (%T) does not implement installstore.NonceStore", c.Store)
	}
	if c.StateTTL < 0 || c.StateTTL > MaxStateTTL {
		bad("StateTTL %v is outside (0, %v]", c.StateTTL, MaxStateTTL)
	}
	if c.RedirectURL == "" {
		bad("RedirectURL is empty")
	} else if err := checkURL(c.RedirectURL); err != nil {
		bad("RedirectURL: %w", err)
	}
	if err := checkURL(c.AuthorizeURL); err != nil {
		bad("AuthorizeURL: %w", err)
	}
	if err := checkURL(c.SlackAPIURL); err != nil {
		bad("SlackAPIURL: %w", err)
	} else if !strings.HasSuffix(c.SlackAPIURL, "/") {
		bad("SlackAPIURL %q must end in \"/\" (like %q)", c.SlackAPIURL, slack.APIURL)
	}
	paths := map[string]string{}
	for _, p := range []struct{ name, path string }{
		{"InstallPath", c.InstallPath}, {"RedirectPath", c.RedirectPath}, {"EventsPath", c.EventsPath},
	} {
		if !strings.HasPrefix(p.path, "/") {
			bad("%s %q must start with \"/\"", p.name, p.path)
		}
		if other, dup := paths[p.path]; dup {
			bad("%s and %s are both %q", other, p.name, p.path)
		}
		paths[p.path] = p.name
	}
	if err := (&http.Cookie{Name: c.CookieName, Value: "x", Path: c.CookiePath, Domain: c.CookieDomain}).Valid(); err != nil {
		bad("state cookie: %w", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("oauth: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// checkURL accepts absolute https URLs, and http ones on loopback hosts.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q does not parse", raw)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute URL without user info or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%q must use https (http only on a loopback host)", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
