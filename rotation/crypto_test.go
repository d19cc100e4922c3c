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

// TestRefreshDueGoesPastAnUnreadableTenant: one tenant whose records no
// longer open (its key revoked, say) must not stop the background refresh of
// every other tenant.
func TestRefreshDueGoesPastAnUnreadableTenant(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": make([]byte, 32)}, "k1")
	require.NoError(t, err)
	sealed, err := crypto.NewStore(e.store, keys)
	require.NoError(t, err)
	teams := []string{"TA", "TB", "TBAD", "TC", "TD"}
	for _, team := range teams {
		inst := e.install(team, "U1", 30*time.Minute, 0) // plaintext in e.store for now
		require.NoError(t, sealed.StoreInstallation(ctx, inst))
	}
	raw, err := e.store.FetchInstallation(ctx, installstore.Query{TeamID: "TBAD"})
	require.NoError(t, err)
	raw.Bot.Token = installstore.Secret(raw.Bot.Token.Reveal()[:len(raw.Bot.Token.Reveal())-2] + "AA")
	require.NoError(t, e.store.UpdateInstallation(ctx, raw))

	r := e.refresher(sealed)
	n, err := r.RefreshDue(ctx)
	require.ErrorIs(t, err, crypto.ErrDecrypt, "the unreadable tenant is reported")
	require.Contains(t, err.Error(), installstore.Query{TeamID: "TBAD"}.Tenant().String())
	require.Equal(t, 5, n, "the due index lists every tenant, TBAD too (it is unsealed metadata)")
	require.Equal(t, int64(4), e.slack.calls.Load())
	for _, team := range []string{"TA", "TB", "TC", "TD"} {
		got, err := sealed.FetchInstallation(ctx, installstore.Query{TeamID: team})
		require.NoError(t, err)
		require.True(t, got.Bot.ExpiresAt.After(e.clock.now().Add(time.Hour)), "%s refreshed", team)
	}
}
