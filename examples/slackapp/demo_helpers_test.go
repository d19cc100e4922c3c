package main

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// The demo's test helpers. The browser test is in e2e/, a module of its own
// (the library's go.mod carries no browser driver), and runs the app's
// binary.

// newTestDemo starts the -demo app on a free port with tokens living
// tokenLifetime.
func newTestDemo(t *testing.T, tokenLifetime time.Duration) *demo {
	t.Helper()
	return newTestDemoClock(t, tokenLifetime, nil)
}

// newTestDemoClock is newTestDemo with the app's clock (the stand-in keeps
// the real one).
func newTestDemoClock(t *testing.T, tokenLifetime time.Duration, now func() time.Time) *demo {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logs := &syncBuffer{}
	d, err := startDemo(context.Background(), demoOptions{Listener: ln, TokenLifetime: tokenLifetime,
		Now: now, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, d.Close())
		// Whatever happened in the test, the logs (app, oauth, refresher,
		// stand-in) hold no token, code or secret.
		require.NotEmpty(t, logs.String())
		for _, s := range append(d.Slack.IssuedSecrets(), d.Secrets...) {
			require.NotContains(t, logs.String(), s.Reveal(), "a secret was logged")
		}
		if t.Failed() { // checked above: they hold no secret
			t.Logf("the demo's logs:\n%s", logs.String())
		}
	})
	return d
}

// countRecords counts the backend's records.
func countRecords(t *testing.T, s installstore.Store) int {
	t.Helper()
	l, ok := s.(installstore.Lister)
	require.True(t, ok, "the backend lists")
	n := 0
	require.NoError(t, l.ListInstallations(context.Background(), func(installstore.Query, *installstore.Installation) error {
		n++
		return nil
	}))
	return n
}
