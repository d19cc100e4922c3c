package rotation

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// TestRefreshThroughCryptoStore runs a storm over crypto.NewStore(memory):
// the refresher sees plaintext, the backend only ever holds sealed secrets.
func TestRefreshThroughCryptoStore(t *testing.T) {
	e := newEnv(t)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": make([]byte, 32)}, "k1")
	require.NoError(t, err)
	backend := memory.New(memory.WithClock(e.clock.now))
	sealed, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)
	_, hasLeaser := sealed.(installstore.Leaser)
	require.True(t, hasLeaser)

	inst := &installstore.Installation{TeamID: "T0ACME", Bot: &installstore.Bot{
		ID: "B1", Token: "xoxb-test-old", RefreshToken: "xoxe-test-bot-sealed", ExpiresAt: e.clock.now().Add(-time.Minute),
	}}
	require.NoError(t, sealed.StoreInstallation(context.Background(), inst))
	e.slack.allow("xoxe-test-bot-sealed")
	r := e.refresher(sealed)
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			got, err := r.Authorize(context.Background(), acme)
			if err != nil || got.Bot.Token.Reveal() != "xoxb-test-bot-1" {
				t.Errorf("authorize: %v", err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(1), e.slack.calls.Load())

	raw, err := backend.FetchInstallation(context.Background(), acme)
	require.NoError(t, err)
	require.True(t, raw.Bot.Token.IsSealed(), "the backend holds the refreshed token sealed")
	require.True(t, raw.Bot.RefreshToken.IsSealed())
	opened, err := sealed.FetchInstallation(context.Background(), acme)
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", opened.Bot.Token.Reveal())
	require.Equal(t, "xoxe-test-bot-refresh-1", opened.Bot.RefreshToken.Reveal())
}
