package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
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

// requireSealedAtRest checks that the backend's copy of q holds every
// secret of plain sealed, none in plaintext.
func requireSealedAtRest(t *testing.T, backend installstore.Store, q installstore.Query, plain *installstore.Installation) {
	t.Helper()
	raw, err := backend.FetchInstallation(context.Background(), q)
	require.NoError(t, err)
	var plaintexts []string
	require.NoError(t, plain.Secrets(func(_ string, s *installstore.Secret) error {
		plaintexts = append(plaintexts, s.Reveal())
		return nil
	}))
	require.NotEmpty(t, plaintexts)
	n := 0
	require.NoError(t, raw.Secrets(func(field string, s *installstore.Secret) error {
		n++
		if !s.IsSealed() {
			return errors.New(field + " is not sealed at rest")
		}
		for _, p := range plaintexts {
			if strings.Contains(s.Reveal(), p) {
				return errors.New(field + " holds a plaintext token at rest")
			}
		}
		return nil
	}))
	require.Equal(t, len(plaintexts), n)
}
