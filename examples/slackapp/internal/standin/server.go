package standin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/installvault/installvault/installstore"
)

// DefaultTokenLifetime is how long an access token lives, as at Slack with
// token rotation on (expires_in 43200).
const DefaultTokenLifetime = 12 * time.Hour

// Config configures a Server.
type Config struct {
	// ClientID and ClientSecret are the app's OAuth credentials;
	// oauth.v2.access refuses any other. Required.
	ClientID     string
	ClientSecret installstore.Secret
	// SigningSecret signs the events delivered to EventsURL. Required.
	SigningSecret installstore.Secret
	// AppID is the app's ID (A...). Default "A0DEMOAPP01".
	AppID string
	// RedirectURL is the app's only allowed redirect URL, as configured
	// in a real Slack app's "OAuth & Permissions". Required.
	RedirectURL string
	// EventsURL is the app's Events API endpoint (its Request URL).
	// Required. Demo pages only redirect back to URLs on its origin.
	EventsURL string
	// Workspaces the authorize page offers. Default: DemoWorkspaces().
	Workspaces []Workspace
	// TokenLifetime is expires_in for issued access tokens. Default
	// [DefaultTokenLifetime].
	TokenLifetime time.Duration
	// HTTPClient delivers events. Default: a client with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives one line per exchange, refresh, post and event; never
	// a token. Default: discarded.
	Logger *slog.Logger
	// Now is the clock for codes, token expiry and event times. Default
	// time.Now.
	Now func() time.Time
}

// Workspace is a Slack workspace of the stand-in, with the user who
// installs the app and the bot user the app gets there.
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

// DemoWorkspaces returns the two workspaces the demo offers by default.
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

// Server is a running stand-in for slack.com. Create it with Start; it is
// safe for concurrent use.
type Server struct {
	cfg       Config
	appOrigin string
	srv       *http.Server
	ln        net.Listener
	done      chan struct{}

	mu      sync.Mutex
	codes   map[string]*codeGrant
	tokens  map[string]*accessToken
	refresh map[string]*refreshGrant
	teams   map[string]*teamState
	issued  []installstore.Secret
	stats   Stats
	seq     int64
}

// Stats counts what the stand-in was asked.
type Stats struct {
	// Exchanges counts successful code exchanges.
	Exchanges int
	// Refreshes counts successful refresh_token grants.
	Refreshes int
	// Posts counts successful chat.postMessage calls.
	Posts int
	// Rejected counts API calls refused for their token or credentials.
	Rejected int
	// Events counts events delivered to the app with a 2xx answer.
	Events int
	// AppUninstalls and Revokes count apps.uninstall and auth.revoke calls
	// that took effect.
	AppUninstalls, Revokes int
}

// Message is one message in a workspace's channel: a user's mention or a
// reply the app posted.
type Message struct {
	// TeamID is the workspace.
	TeamID string
	// Channel is the channel ID.
	Channel string
	// User is who posted (a user ID, or the bot user ID for the app).
	User string
	// Text is the message text.
	Text string
	// TS and ThreadTS are the message and thread timestamps.
	TS, ThreadTS string
	// Token is the token the app posted with (empty for users' messages).
	Token installstore.Secret
}

// Start validates cfg and starts the stand-in on a free port of 127.0.0.1.
// Close stops it.
func Start(cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	ev, _ := url.Parse(cfg.EventsURL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("standin: listen on 127.0.0.1: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		appOrigin: ev.Scheme + "://" + ev.Host,
		ln:        ln,
		done:      make(chan struct{}),
		codes:     map[string]*codeGrant{},
		tokens:    map[string]*accessToken{},
		refresh:   map[string]*refreshGrant{},
		teams:     map[string]*teamState{},
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (c *Config) fill() error {
	var errs []error
	if c.ClientID == "" {
		errs = append(errs, errors.New("ClientID is required"))
	}
	if c.ClientSecret.IsZero() {
		errs = append(errs, errors.New("ClientSecret is required"))
	}
	if c.SigningSecret.IsZero() {
		errs = append(errs, errors.New("SigningSecret is required"))
	}
	for name, v := range map[string]string{"RedirectURL": c.RedirectURL, "EventsURL": c.EventsURL} {
		u, err := url.Parse(v)
		if v == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
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
		return fmt.Errorf("standin: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// URL is the stand-in's base URL (http://127.0.0.1:PORT), the stand-in for
// https://slack.com.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// APIURL is the Web API base, ending in "/api/" (slack-go's OptionAPIURL).
func (s *Server) APIURL() string { return s.URL() + "/api/" }

// AuthorizeURL is the OAuth v2 authorize page.
func (s *Server) AuthorizeURL() string { return s.URL() + "/oauth/v2/authorize" }

// ChannelURL is the demo page showing a workspace's channel.
func (s *Server) ChannelURL(teamID string) string {
	return s.URL() + "/demo/channel?team=" + url.QueryEscape(teamID)
}

// Close stops the server and waits for it.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A browser still holding a connection open: a stand-in needs no
		// more grace than that, so close what is left.
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Messages returns the messages of teamID's channels, oldest first.
func (s *Server) Messages(teamID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.teams[teamID]; t != nil {
		return append([]Message(nil), t.messages...)
	}
	return nil
}

// IssuedSecrets returns every code, access token and refresh token the
// stand-in ever issued, for tests asserting that none of them leaks.
func (s *Server) IssuedSecrets() []installstore.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]installstore.Secret(nil), s.issued...)
}

// Installed reports whether the app is installed in teamID (not uninstalled
// since).
func (s *Server) Installed(teamID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.teams[teamID]
	return t != nil && t.installed
}

// workspace returns the configured workspace with id.
func (s *Server) workspace(id string) (Workspace, bool) {
	for _, w := range s.cfg.Workspaces {
		if w.ID == id {
			return w, true
		}
	}
	return Workspace{}, false
}

// sameApp reports whether target is a URL on the app's origin, the only
// place demo pages redirect to.
func (s *Server) sameApp(target string) bool {
	return strings.HasPrefix(target, s.appOrigin+"/")
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v2/authorize", s.serveAuthorize)
	mux.HandleFunc("POST /oauth/v2/authorize", s.serveDecision)
	mux.HandleFunc("POST /api/oauth.v2.access", s.serveAccess)
	mux.HandleFunc("POST /api/auth.test", s.serveAuthTest)
	mux.HandleFunc("POST /api/chat.postMessage", s.servePostMessage)
	mux.HandleFunc("POST /api/users.info", s.serveUserInfo)
	mux.HandleFunc("POST /api/apps.uninstall", s.serveAppsUninstall)
	mux.HandleFunc("POST /api/auth.revoke", s.serveAuthRevoke)
	mux.HandleFunc("POST /api/{method}", s.serveUnknownMethod)
	mux.HandleFunc("GET /demo/channel", s.serveChannel)
	mux.HandleFunc("POST /demo/mention", s.serveMention)
	mux.HandleFunc("POST /demo/uninstall", s.serveUninstall)
	return mux
}
