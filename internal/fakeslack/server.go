package fakeslack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
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
	// a refresh token the fake neither issued nor was given (AddToken):
	// for programs and tests that store installations without telling the
	// fake. An accepted token is spent like any other: it works once.
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

// Server is a fake slack.com: an [http.Handler], and with Start a server on
// 127.0.0.1. Create it with New or Start; it is safe for concurrent use.
type Server struct {
	cfg       Config
	appOrigin string
	mux       http.Handler

	// Set by Start only.
	srv  *http.Server
	ln   net.Listener
	done chan struct{}

	mu      sync.Mutex
	codes   map[string]*codeGrant
	tokens  map[string]*accessToken
	refresh map[string]*refreshGrant
	spent   map[string]bool // refresh tokens used (or revoked): never accepted again
	reuse   bool            // refresh tokens work any number of times
	teams   map[string]*teamState
	issued  []installstore.Secret
	stats   Stats
	seq     int64
	refSeq  int64 // refresh tokens issued (Numbered)
	codeSeq int64 // codes issued (Numbered)

	scripts   map[string]string   // code → canned oauth.v2.access answer (single use)
	nextCode  string              // the code the next approval hands out ("" = a new one)
	foreign   map[string]bool     // tokens handed out in canned answers
	authTests map[string]string   // token → canned auth.test answer
	users     map[string]User     // users.info, beside the workspaces' users
	lastAuth  url.Values          // the last authorize request
	calls     map[string]int      // Web API calls by method
	sent      map[string][]string // tokens sent, by method
	faults    map[string]*Fault
	handlers  map[string]http.Handler
	hooks     map[string]func()
	skew      time.Duration // Slack's clock ahead of cfg.Now, in the Date header
	noDate    bool
}

// Stats counts what the fake was asked that took effect (see [Server.Calls]
// for every call).
type Stats struct {
	// Exchanges counts successful code exchanges.
	Exchanges int
	// Refreshes counts successful refresh_token grants.
	Refreshes int
	// Posts counts successful chat.postMessage calls.
	Posts int
	// Rejected counts API calls refused for their token, code or
	// credentials.
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

// New validates cfg and returns a fake that serves nothing until it is
// mounted ([Server.ServeHTTP], for example in an httptest.Server) or used
// through [Server.Client].
func New(cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		codes:     map[string]*codeGrant{},
		tokens:    map[string]*accessToken{},
		refresh:   map[string]*refreshGrant{},
		spent:     map[string]bool{},
		teams:     map[string]*teamState{},
		scripts:   map[string]string{},
		foreign:   map[string]bool{},
		authTests: map[string]string{},
		users:     map[string]User{},
		calls:     map[string]int{},
		sent:      map[string][]string{},
		faults:    map[string]*Fault{},
		handlers:  map[string]http.Handler{},
		hooks:     map[string]func(){},
	}
	if ev, err := url.Parse(cfg.EventsURL); cfg.EventsURL != "" && err == nil {
		s.appOrigin = ev.Scheme + "://" + ev.Host
	}
	s.mux = s.dated(s.routes())
	return s, nil
}

// Start is New, then serving on a free port of 127.0.0.1 until Close.
func Start(cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeslack: listen on 127.0.0.1: %w", err)
	}
	s.ln, s.done = ln, make(chan struct{})
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
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

// ServeHTTP serves slack.com's paths: /oauth/v2/authorize, /api/METHOD and
// the demo pages under /demo/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Client returns an HTTP client that reaches the fake in memory, without a
// socket, whatever the request's host: for tests making thousands of
// calls, and for tests inside a testing/synctest bubble. As over a socket,
// a request whose context ends gets the context's error at once, while the
// fake may still be answering it.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.ServeHTTP(rec, req)
		}()
		select {
		case <-done:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		resp := rec.Result()
		resp.Request = req
		return resp, nil
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// URL is the base URL (http://127.0.0.1:PORT) of a fake started with
// Start, the stand-in for https://slack.com; "http://slack.fake" for one
// made with New (reach it through Client).
func (s *Server) URL() string {
	if s.ln == nil {
		return "http://slack.fake"
	}
	return "http://" + s.ln.Addr().String()
}

// APIURL is the Web API base, ending in "/api/" (slack-go's OptionAPIURL,
// rotation.WithSlackAPIURL).
func (s *Server) APIURL() string { return s.URL() + "/api/" }

// AuthorizeURL is the OAuth v2 authorize page.
func (s *Server) AuthorizeURL() string { return s.URL() + "/oauth/v2/authorize" }

// ChannelURL is the demo page showing a workspace's channel.
func (s *Server) ChannelURL(teamID string) string {
	return s.URL() + "/demo/channel?team=" + url.QueryEscape(teamID)
}

// Close stops a server started with Start and waits for it; it does
// nothing for one made with New.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A browser still holding a connection open: a fake needs no more
		// grace than that, so close what is left.
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
// fake ever handed out (canned answers included), for tests asserting that
// none of them leaks.
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

// LastAuthorize returns the query of the last authorize request (the
// consent page, or its form).
func (s *Server) LastAuthorize() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAuth
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
	return s.appOrigin != "" && strings.HasPrefix(target, s.appOrigin+"/")
}

// SkewClock makes Slack's clock, as its Date header tells, run d ahead of
// Config.Now (behind for a negative d).
func (s *Server) SkewClock(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew = d
}

// OmitDate makes answers carry no Date header (omit), or Slack's clock
// again.
func (s *Server) OmitDate(omit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noDate = omit
}

// dated stamps every answer with Slack's clock, as Slack's servers do.
func (s *Server) dated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		noDate, skew := s.noDate, s.skew
		s.mu.Unlock()
		if noDate {
			w.Header()["Date"] = nil // net/http then sends none
		} else {
			w.Header().Set("Date", s.cfg.Now().Add(skew).UTC().Format(http.TimeFormat))
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v2/authorize", s.serveAuthorize)
	mux.HandleFunc("POST /oauth/v2/authorize", s.serveDecision)
	api := map[string]http.HandlerFunc{
		"oauth.v2.access":  s.serveAccess,
		"auth.test":        s.serveAuthTest,
		"chat.postMessage": s.servePostMessage,
		"users.info":       s.serveUserInfo,
		"apps.uninstall":   s.serveAppsUninstall,
		"auth.revoke":      s.serveAuthRevoke,
	}
	mux.Handle("POST /api/{method}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveMethod(w, r, api[r.PathValue("method")])
	}))
	mux.HandleFunc("GET /demo/channel", s.serveChannel)
	mux.HandleFunc("POST /demo/mention", s.serveMention)
	mux.HandleFunc("POST /demo/uninstall", s.serveUninstall)
	return mux
}
