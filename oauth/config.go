package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
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
	// EventDedupWindow is how long an event_id is remembered for
	// de-duplication: longer than Slack's retries of one event (three
	// retries within about 5 minutes).
	EventDedupWindow = time.Hour
	// MaxClockSkew is the largest EventClockSkew accepted.
	MaxClockSkew = 10 * time.Minute
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
	// [MinStateSecretLen] random bytes, distinct from the other secrets,
	// shared by every replica.
	StateSecret installstore.Secret
	// Scopes are the bot scopes requested (unless [InstallOptions] of a
	// request say otherwise).
	Scopes []string
	// UserScopes are the user scopes requested. At least one of Scopes and
	// UserScopes is required.
	UserScopes []string
	// RedirectURL is the OAuth redirect URL configured in the Slack app,
	// sent to both the authorize page and oauth.v2.access. Required; https,
	// or http on a loopback host.
	RedirectURL string
	// Store keeps the installations, the single-use state nonces, the
	// event de-duplication markers and their leases. Required; replicas
	// must share it.
	Store installstore.FullStore
	// StateTTL is how long an install may take from the install page to the
	// callback. Default [DefaultStateTTL]; at most [MaxStateTTL].
	StateTTL time.Duration
	// SlackAPIURL is the Web API base, ending in "/api/". Default
	// slack.APIURL ("https://slack.com/api/"); tests point it at a local
	// server.
	SlackAPIURL string
	// AuthorizeURL is Slack's authorize page. Default [DefaultAuthorizeURL].
	AuthorizeURL string
	// HTTPClient calls Slack's Web API. Default: a client with a 30s
	// timeout. The handler uses a copy whose transport also reads the Date
	// of oauth.v2.access answers (see EventClockSkew).
	HTTPClient *http.Client

	// InstallPath, RedirectPath and EventsPath are where [Handler.ServeHTTP]
	// routes; defaults [DefaultInstallPath], [DefaultRedirectPath],
	// [DefaultEventsPath]. They must differ, and RedirectURL's path must
	// end in RedirectPath (it may have a prefix the app strips, as with
	// http.StripPrefix).
	InstallPath, RedirectPath, EventsPath string

	// CookieName, CookiePath and CookieDomain place the state cookie.
	// Defaults: [DefaultCookieName], "/", and the request's host only. The
	// cookie must reach RedirectPath: behind a proxy or across subdomains,
	// set CookieDomain and CookiePath so that it does (a callback without
	// it logs what to check).
	CookieName, CookiePath, CookieDomain string

	// DirectInstall makes the install page redirect straight to Slack
	// instead of showing an "Add to Slack" button.
	DirectInstall bool

	// BeforeInstall, when set, runs first on every GET of the install
	// page: it may fill opts from the request (per-request scopes, a team
	// to pre-select, metadata for AfterInstall), or answer the request
	// itself (a login page, a refusal) and return false. It must not
	// reveal secrets in what it writes.
	BeforeInstall func(w http.ResponseWriter, r *http.Request, opts *InstallOptions) bool
	// BeforeRedirect, when set, runs just before the browser is sent to
	// Slack (the redirect, or the install page linking to authorizeURL),
	// after the state cookie is set. Returning false stops there: it has
	// answered the request itself.
	BeforeRedirect func(w http.ResponseWriter, r *http.Request, authorizeURL string, opts *InstallOptions) bool
	// AuthorizeInstaller, when set, is called with the installation Slack
	// granted (after the SensitiveScopes check) and the options of its
	// state, before anything is stored; an error rejects the install: the
	// user sees a 403 page telling them to ask an admin, nothing is
	// stored, and the install is undone at Slack (see [Handler.ServeCallback]).
	AuthorizeInstaller func(ctx context.Context, inst *installstore.Installation, opts *InstallOptions) error
	// AfterInstall, when set, is called once the installation is stored,
	// before the success page, with the options of its state (their
	// Metadata is how an app ties an install to its own records: the
	// installation model has no metadata field). It cannot undo the
	// install; it should not block for long.
	AfterInstall func(ctx context.Context, inst *installstore.Installation, opts *InstallOptions)

	// SensitiveScopes are scopes only a workspace (or organization) admin
	// or owner may grant: when an install grants any of them (bot or
	// user), the installing user is looked up with users.info, using the
	// new token, and an install by anyone else is rejected and undone at
	// Slack, as AuthorizeInstaller's rejections are. It fails closed: when
	// Slack cannot answer, the install is rejected too. Requires the
	// users:read scope in Scopes or UserScopes.
	SensitiveScopes []string

	// EventClockSkew widens the late-event check: an app_uninstalled or
	// tokens_revoked event deletes an installation only when its
	// event_time is more than EventClockSkew after the installation's
	// InstalledAt. InstalledAt is Slack's own time (the Date of the
	// oauth.v2.access answer), so the default 0 suffices; when Slack's
	// answers reach the app without a Date (a proxy strips it), InstalledAt
	// falls back to the app's clock (logged once) and EventClockSkew should
	// be that clock's largest error. The cost of a larger value: an
	// uninstall within EventClockSkew of the install is ignored. At most
	// [MaxClockSkew].
	EventClockSkew time.Duration

	// DeliverDuplicateEvents turns off event de-duplication: every
	// delivery, Slack's retries included, reaches Next.
	DeliverDuplicateEvents bool

	// RenderInstall writes the install page linking to authorizeURL (a
	// trusted URL). Default: a minimal "Add to Slack" page.
	RenderInstall func(w http.ResponseWriter, r *http.Request, authorizeURL string)
	// RenderSuccess writes the page shown after the installation was
	// stored. inst's secrets redact themselves; do not Reveal them here.
	// Default: a minimal success page.
	RenderSuccess func(w http.ResponseWriter, r *http.Request, inst *installstore.Installation)
	// RenderFailure writes the page shown when an install did not complete
	// in this request; it should write f.Status. Default: a minimal page
	// showing f.Message.
	RenderFailure func(w http.ResponseWriter, r *http.Request, f *Failure)

	// Next, when set, receives every verified Events API request but
	// url_verification, with its body intact and the parsed [Event] in its
	// context ([EventFrom]). app_uninstalled and tokens_revoked reach it
	// after their purge succeeded, with the tokens they name already
	// deleted (except [Event.Kept]), so the app can drop its own data of
	// that workspace or user; a failed purge calls no Next and answers 500,
	// so Slack retries. Each event_id reaches it once (see
	// [Handler.ServeEvents]). Default: acknowledge with 200.
	Next http.Handler

	// Logger receives one line per failure and per purge, never a secret.
	// Developer hints (cookie domain, scopes) go here, never to the pages.
	// Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for state issue/expiry, token expiry and the
	// InstalledAt fallback. Default time.Now. Request signature timestamps
	// are checked by slack-go against the real clock.
	Now func() time.Time
}

// InstallOptions are the choices of one install, made by
// Config.BeforeInstall and carried in the signed state to the callback.
// The zero value asks for Config's scopes.
type InstallOptions struct {
	// Scopes and UserScopes, when non-nil, replace Config.Scopes and
	// Config.UserScopes for this install.
	Scopes, UserScopes []string
	// Team pre-selects the workspace (T...) on Slack's authorize page.
	Team string
	// Metadata is the app's own data for this install (at most
	// [MaxMetadataBytes]), given back to AfterInstall and
	// AuthorizeInstaller. It is signed, not encrypted: the browser can
	// read it. It is not stored with the installation.
	Metadata string
}

// MaxMetadataBytes bounds InstallOptions.Metadata: the state travels in a
// URL and a cookie.
const MaxMetadataBytes = 512

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
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
	case len(c.StateSecret.Reveal()) < MinStateSecretLen:
		bad("StateSecret has %d bytes; it needs at least %d random bytes", len(c.StateSecret.Reveal()), MinStateSecretLen)
	case c.StateSecret.Reveal() == c.ClientSecret.Reveal() || c.StateSecret.Reveal() == c.SigningSecret.Reveal():
		bad("StateSecret must not reuse the client or signing secret")
	}
	if len(c.Scopes) == 0 && len(c.UserScopes) == 0 {
		bad("no Scopes and no UserScopes: request at least one scope")
	}
	for _, s := range slices.Concat(c.Scopes, c.UserScopes, c.SensitiveScopes) {
		if !validScope(s) {
			bad("scope %q is empty or has a separator", s)
		}
	}
	if len(c.SensitiveScopes) > 0 && !slices.Contains(c.Scopes, "users:read") && !slices.Contains(c.UserScopes, "users:read") {
		bad("SensitiveScopes needs the users:read scope in Scopes or UserScopes, to look up the installing user")
	}
	if c.Store == nil {
		bad("Store is nil")
	}
	if c.Store != nil && c.ClientID != "" {
		if err := installstore.CheckAppScope(c.Store, c.ClientID); err != nil {
			errs = append(errs, err)
		}
	}
	if c.StateTTL < 0 || c.StateTTL > MaxStateTTL {
		bad("StateTTL %v is outside (0, %v]", c.StateTTL, MaxStateTTL)
	}
	if c.EventClockSkew < 0 || c.EventClockSkew > MaxClockSkew {
		bad("EventClockSkew %v is outside [0, %v]", c.EventClockSkew, MaxClockSkew)
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
	if c.RedirectURL == "" {
		bad("RedirectURL is empty")
	} else if err := checkURL(c.RedirectURL); err != nil {
		bad("RedirectURL: %w", err)
	} else if u, _ := url.Parse(c.RedirectURL); !strings.HasSuffix(u.Path, c.RedirectPath) {
		bad("RedirectURL's path %q does not end in RedirectPath %q: Slack would send users where this handler does not answer (set RedirectPath, or fix RedirectURL)", u.Path, c.RedirectPath)
	}
	if err := (&http.Cookie{Name: c.CookieName, Value: "x", Path: c.CookiePath, Domain: c.CookieDomain}).Valid(); err != nil {
		bad("state cookie: %w", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("oauth: invalid config: %w: %w", installstore.ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// validScope accepts a non-empty scope without separators.
func validScope(s string) bool {
	return s != "" && len(s) <= 128 && !strings.ContainsAny(s, ", \t\r\n&=?#")
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
