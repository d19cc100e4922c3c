package fakeslack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/installvault/installvault/installstore"
)

// DefaultTokenLifetime is how long an access token lives, as at Slack with
// token rotation on (expires_in 43200).
const DefaultTokenLifetime = 12 * time.Hour

// Config configures a Server. Only ClientID and ClientSecret are required.
type Config struct {
	// ClientID and ClientSecret are the app's OAuth credentials;
	// oauth.v2.access and apps.uninstall refuse any other. Required.
	ClientID     string
	ClientSecret installstore.Secret
	// SigningSecret signs the events Mention and Uninstall deliver to
	// EventsURL. Needed for events only.
	SigningSecret installstore.Secret
	// AppID is the app's ID (A...). Default "A0DEMOAPP01".
	AppID string
	// RedirectURL is the app's only allowed redirect URL, as configured in
	// a real Slack app's "OAuth & Permissions". When empty, the authorize
	// page requires a redirect_uri and accepts any.
	RedirectURL string
	// EventsURL is the app's Events API endpoint (its Request URL), where
	// Mention and Uninstall deliver events. Demo pages only redirect back
	// to URLs on its origin.
	EventsURL string
	// Workspaces the authorize page offers. Default: DemoWorkspaces().
	Workspaces []Workspace
	// TokenLifetime is expires_in for issued access tokens. Default
	// [DefaultTokenLifetime].
	TokenLifetime time.Duration
	// Tokens is how issued codes and tokens look. Default [Numbered].
	Tokens TokenStyle
	// AutoApprove makes GET /oauth/v2/authorize approve at once and
	// redirect back with a code, as a browser clicking "Allow" would, for
	// tests driving an install with a plain HTTP client. Default: the
	// consent page.
	AutoApprove bool
	// AcceptRefreshToken, when set, decides whether oauth.v2.access accepts
	// a refresh token the fake neither issued nor was given (AddToken), as
	// a bot's of no known workspace: for programs and tests that store
	// installations without telling the fake. An accepted token is spent
	// like any other: it works once.
	AcceptRefreshToken func(refreshToken string) bool
	// HTTPClient delivers events. Default: a client with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives one line per exchange, refresh, post and event; never
	// a token. Default: discarded.
	Logger *slog.Logger
	// Now is Slack's clock for codes, token expiry, event times and the
	// Date header. Default time.Now.
	Now func() time.Time
}

// TokenStyle is how a Server's codes and tokens look.
type TokenStyle int

const (
	// Numbered tokens are predictable, for tests asserting which token was
	// used: an access token is xoxb-test-bot-N or xoxp-test-user-N, N the
	// oauth.v2.access call that issued it (failed calls count); a refresh
	// token is xoxe-test-bot-refresh-M or xoxe-test-user-refresh-M, M
	// counting the refresh tokens issued; a code is code-test-K.
	Numbered TokenStyle = iota
	// Rotating tokens are random and shaped like Slack's rotating tokens
	// (xoxe.xoxb-1-demo-..., xoxe-1-demo-...): unguessable, for the demo,
	// whose store may outlive the process.
	Rotating
)

// Workspace is a Slack workspace of the fake, with the user who installs
// the app and the bot user the app gets there.
type Workspace struct {
	// ID is the team ID (T...).
	ID string
	// Name is the workspace's name.
	Name string
	// Domain is its subdomain (DOMAIN.slack.com).
	Domain string
	// UserID and UserName are the installing user, and UserIsAdmin whether
	// users.info says they are a workspace admin.
	UserID, UserName string
	UserIsAdmin      bool
	// BotUserID and BotID are the app's bot user and bot in this workspace.
	BotUserID, BotID string
}

// DemoWorkspaces returns the two workspaces the fake offers by default.
func DemoWorkspaces() []Workspace {
	return []Workspace{
		{ID: "T0DEMO00001", Name: "Acme Demo", Domain: "acme-demo", UserID: "U0DEMO00001", UserName: "ada", UserIsAdmin: true,
			BotUserID: "U0DEMOBOT01", BotID: "B0DEMOBOT01"},
		{ID: "T0DEMO00002", Name: "Globex Demo", Domain: "globex-demo", UserID: "U0DEMO00002", UserName: "grace",
			BotUserID: "U0DEMOBOT02", BotID: "B0DEMOBOT02"},
	}
}

// DemoChannel is the channel demo mentions happen in.
const DemoChannel = "C0DEMOGENRL"

func (c *Config) fill() error {
	var errs []error
	if c.ClientID == "" {
		errs = append(errs, errors.New("ClientID is required"))
	}
	if c.ClientSecret.IsZero() {
		errs = append(errs, errors.New("ClientSecret is required"))
	}
	for name, v := range map[string]string{"RedirectURL": c.RedirectURL, "EventsURL": c.EventsURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s must be an absolute http(s) URL", name))
		}
	}
	if c.AppID == "" {
		c.AppID = "A0DEMOAPP01"
	}
	if len(c.Workspaces) == 0 {
		c.Workspaces = DemoWorkspaces()
	}
	for _, w := range c.Workspaces {
		if w.ID == "" || w.UserID == "" || w.BotUserID == "" {
			errs = append(errs, fmt.Errorf("workspace %q needs ID, UserID and BotUserID", w.Name))
		}
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if c.TokenLifetime < 0 {
		errs = append(errs, errors.New("TokenLifetime must be positive"))
	}
	if c.Tokens != Numbered && c.Tokens != Rotating {
		errs = append(errs, fmt.Errorf("Tokens %d is not a TokenStyle", c.Tokens))
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if len(errs) > 0 {
		return fmt.Errorf("fakeslack: invalid config: %w", errors.Join(errs...))
	}
	return nil
}
