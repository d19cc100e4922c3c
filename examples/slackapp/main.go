package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/rotation"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "slackapp:", err)
		os.Exit(1)
	}
}

// run parses flags, starts the app (or the demo) and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slackapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:3000", "listen address (127.0.0.1 only; put a TLS proxy or tunnel in front)")
	demoMode := fs.Bool("demo", false, "run against an in-process stand-in for slack.com; no credentials needed")
	lifetime := fs.Duration("demo-token-lifetime", fakeslack.DefaultTokenLifetime, "-demo: how long the stand-in's access tokens live")
	createTable := fs.Bool("create-table", false, "create the DynamoDB table "+envDynamoTable+" names, then serve (a PostgreSQL schema or SQLite file of "+envStore+" is always created or upgraded at start)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := listenLoopback(*addr)
	if err != nil {
		return err
	}
	if *demoMode {
		// The demo makes up everything but the backend: with
		// INSTALLVAULT_STORE it uses that store (e.g. sqlite:demo.db),
		// with INSTALLVAULT_DYNAMODB_TABLE that table (e.g. on DynamoDB
		// Local), else memory.
		endpoint := getenv(envDynamoEndpoint)
		d, err := startDemo(ctx, demoOptions{Listener: ln, TokenLifetime: *lifetime, Logger: logger,
			Store:       getenv(envStore),
			DynamoTable: getenv(envDynamoTable), DynamoEndpoint: endpoint, CreateTable: *createTable,
			AdminOnlyScopes:  splitList(getenv(envAdminScopes)),
			LocalCredentials: endpoint != "" && getenv("AWS_ACCESS_KEY_ID") == "" && getenv("AWS_PROFILE") == ""})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "installvault demo: open %s/ in your browser\n(Slack is an in-process stand-in at %s; press Ctrl-C to stop)\n", d.URL, d.Slack.URL())
		<-ctx.Done()
		return d.Close()
	}

	cfg, err := loadConfig(getenv)
	if err != nil {
		_ = ln.Close()
		return err
	}
	stores, err := openStores(ctx, cfg, *createTable)
	if err != nil {
		_ = ln.Close()
		return err
	}
	opts := appOptions{Config: cfg, Store: stores.Sealed, Logger: logger}
	if cfg.SlackURL != "" {
		// SLACK_URL: another Slack than slack.com (the end-to-end test's
		// fake); on this machine it can only be a stand-in, whose demo
		// buttons the pages show.
		opts.SlackAPIURL, opts.AuthorizeURL = cfg.SlackURL+"/api/", cfg.SlackURL+"/oauth/v2/authorize"
		if cfg.slackStandIn() {
			opts.Demo = &demoLinks{SlackURL: cfg.SlackURL}
		}
	}
	a, err := newApp(opts)
	if err != nil {
		_ = ln.Close()
		return errors.Join(err, stores.Close())
	}
	logger.Info("slackapp: " + stores.Describe)
	srv := startServer(ln, a)
	fmt.Fprintf(stdout, "slackapp: listening on http://%s for %s\n", ln.Addr(), cfg.BaseURL)
	<-ctx.Done()
	// The backend closes after the last refresh has written back.
	return errors.Join(srv.Close(), stores.Close())
}

// listenLoopback listens on addr, which must be on 127.0.0.1.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("-addr %q: only 127.0.0.1:PORT is accepted; expose the app through a TLS proxy or tunnel", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// server is a running app: its HTTP server and the refresher's background
// loop.
type server struct {
	refresher  *rotation.Refresher
	http       *http.Server
	served     chan struct{}
	stopRun    context.CancelFunc
	runStopped chan struct{}
}

// startServer serves a on ln and runs the proactive token refresh until
// Close.
func startServer(ln net.Listener, a *app) *server {
	s := &server{
		refresher:  a.refresher,
		http:       &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second},
		served:     make(chan struct{}),
		runStopped: make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("slackapp: server stopped", "error", err)
		}
	}()
	var runCtx context.Context
	runCtx, s.stopRun = context.WithCancel(context.Background())
	go func() {
		defer close(s.runStopped)
		// Tokens of workspaces that send no request for hours are
		// refreshed before they expire.
		if err := a.refresher.Run(runCtx); err != nil {
			a.log.Warn("slackapp: background refresh not running", "error", err)
		}
	}()
	return s
}

// Close stops serving (letting requests in flight finish) and the
// background refresh, then waits for refreshes still writing back: a token
// Slack rotated is stored before the process exits.
func (s *server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Connections still open after the grace period (a browser's
		// keep-alive): close them, as any server's shutdown does in the end.
		err = s.http.Close()
	}
	<-s.served
	s.stopRun()
	<-s.runStopped
	// Write-backs get their own bound: a slow shutdown of the HTTP side must
	// not cut short the storing of a token Slack already rotated.
	wait, cancelWait := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelWait()
	if werr := s.refresher.Wait(wait); werr != nil {
		err = errors.Join(err, fmt.Errorf("waiting for token write-backs: %w", werr))
	}
	if err != nil {
		return fmt.Errorf("slackapp: close: %w", err)
	}
	return nil
}
