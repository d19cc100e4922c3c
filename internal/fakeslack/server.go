package fakeslack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/installvault/installvault/installstore"
)

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
