package scaletest

import (
	"strings"
	"testing"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
)

// Fake app credentials. Obviously fake.
const (
	testClientID     = "0000000000.1111111111"
	testClientSecret = "test-client-secret-do-not-log"
)

// newFakeSlack starts the module's fake Slack on 127.0.0.1. It rotates like
// Slack: each refresh token it issued, or named by a test's install
// (prefix "xoxe-test-bot-"), works once; a reused one is refused and
// counted (Stats().Rejected), so a double refresh shows.
func newFakeSlack(t testing.TB) *fakeslack.Server {
	s, err := fakeslack.Start(fakeslack.Config{
		ClientID:           testClientID,
		ClientSecret:       installstore.NewSecret(testClientSecret),
		AcceptRefreshToken: func(refresh string) bool { return strings.HasPrefix(refresh, "xoxe-test-bot-") },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
