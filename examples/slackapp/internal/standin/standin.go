// Package standin forwards the names the example app's files still use to
// internal/fakeslack, the module's one fake Slack, which the stand-in
// became. Delete it once main.go and the tests name fakeslack directly.
package standin

import (
	"time"

	"github.com/installvault/installvault/internal/fakeslack"
)

// DefaultTokenLifetime is [fakeslack.DefaultTokenLifetime].
const DefaultTokenLifetime = fakeslack.DefaultTokenLifetime

// DemoChannel is [fakeslack.DemoChannel].
const DemoChannel = fakeslack.DemoChannel

// Sign is [fakeslack.Sign].
func Sign(signingSecret string, ts time.Time, body []byte) string {
	return fakeslack.Sign(signingSecret, ts, body)
}
