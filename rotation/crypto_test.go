package rotation

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// TestRefreshThroughCryptoStore runs a storm over crypto.NewStore(memory):
// the refresher sees plaintext, the backend only ever holds sealed secrets.
func TestRefreshThroughCryptoStore(t *testing.T) {
	e := newEnv(t)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	require.NoError(t, err)
	backend := memory.New(memory.WithClock(e.clock.now))
	sealed, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)

	inst := &installstore.Installation{TeamID: "T0ACME", Bot: &installstore.Bot{
		ID: "B1", Token: installstore.NewSecret("xoxb-test-old"), RefreshToken: installstore.NewSecret("xoxe-test-bot-sealed"), ExpiresAt: e.clock.now().Add(-time.Minute),
	}}
	require.NoError(t, sealed.StoreInstallation(context.Background(), inst))
	e.allow("T0ACME", "xoxe-test-bot-sealed")
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
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
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
	raw.Bot.Token = installstore.NewSecret(raw.Bot.Token.Reveal()[:len(raw.Bot.Token.Reveal())-2] + "AA")
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

// TestFlightReadsPastTheRecordCache: replica a's encryption layer caches
// opened records; replica b refreshes the token meanwhile. a's refresh,
// under the lease, reads the backend (not its cache): it uses b's token
// instead of sending Slack the refresh token b already rotated (which would
// read as a dead token and ask for a re-install).
func TestFlightReadsPastTheRecordCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		e := newBubbleEnv(t)
		keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
		require.NoError(t, err)
		cached, err := crypto.NewStore(e.store, keys,
			crypto.WithDataKeyCache(time.Hour, 1000), crypto.WithRecordCache(time.Hour, 100))
		require.NoError(t, err)
		plain, err := crypto.NewStore(e.store, keys)
		require.NoError(t, err)
		inst := &installstore.Installation{TeamID: "T0ACME", Bot: &installstore.Bot{
			ID: "B1", Token: installstore.NewSecret("xoxb-test-old"), RefreshToken: installstore.NewSecret("xoxe-test-bot-cached"), ExpiresAt: time.Now().Add(-time.Minute),
		}}
		require.NoError(t, plain.StoreInstallation(ctx, inst))
		e.allow("T0ACME", "xoxe-test-bot-cached")
		_, err = cached.FetchInstallation(ctx, acme) // a's cache holds the expired token
		require.NoError(t, err)

		_, err = e.refresher(plain).Authorize(ctx, acme) // replica b refreshes
		require.NoError(t, err)
		got, err := e.refresher(cached).Authorize(ctx, acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal())
		require.Equal(t, int64(1), e.slack.calls.Load(), "no call with the rotated refresh token")
	})
}

// TestRefreshDueKMSCallsFollowWhatIsDue: a tick over crypto (KMS through
// kmstest) on memory makes no KMS call when nothing is due, and at most one
// unwrap per due tenant on a replica whose data-key cache is cold.
func TestRefreshDueKMSCallsFollowWhatIsDue(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	kms := kmstest.NewServer()
	t.Cleanup(kms.Close)
	key := kms.CreateKey("tenants")
	newStack := func() *crypto.Store {
		p, err := crypto.NewKMS(kms.Client(), key.ID)
		require.NoError(t, err)
		s, err := crypto.NewStore(e.store, p, crypto.WithDataKeyCache(time.Hour, 1<<20), crypto.WithClock(e.clock.now))
		require.NoError(t, err)
		return s
	}
	writer := newStack()
	const tenants, due = 2000, 20
	for i := range tenants {
		ttl := 10 * time.Hour
		if i%(tenants/due) == 0 {
			ttl = 2*time.Hour + 30*time.Minute // due in 30 minutes
		}
		team := fmt.Sprintf("T%05d", i)
		inst := &installstore.Installation{TeamID: team, Bot: &installstore.Bot{
			ID: "B1", Token: installstore.NewSecret("xoxb-test-" + team), RefreshToken: installstore.NewSecret("xoxe-test-bot-" + team),
			ExpiresAt: e.clock.now().Add(ttl),
		}}
		e.allow(team, inst.Bot.RefreshToken.Reveal())
		require.NoError(t, writer.StoreInstallation(ctx, inst))
	}

	kms.ResetCalls()
	r := e.refresher(newStack(), WithHTTPClient(e.slack.Client())) // a fresh replica: cold data-key cache
	n, err := r.RefreshDue(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Zero(t, kms.Calls("Decrypt"), "a tick with nothing due makes no KMS call")

	e.clock.advance(time.Hour)
	require.Zero(t, kms.Calls("Decrypt"))
	n, err = r.RefreshDue(ctx)
	require.NoError(t, err)
	require.Equal(t, due, n)
	require.Equal(t, int64(due), e.slack.calls.Load())
	require.LessOrEqual(t, kms.Calls("Decrypt"), due, "at most one unwrap per due tenant on a cold replica")
}

// TestKMSThrottlingNeverLosesARotatedToken: KMS (kmstest) throttles past
// the SDK's retries right after Slack answered a refresh: sealing the new
// tokens fails with ErrUnavailable, the write-back is retried in the
// background until KMS answers again, and the caller gets the new token at
// once. Throttling when reading an expired token fails closed with
// ErrUnavailable, never ErrReinstallRequired, and leaves nothing behind.
func TestKMSThrottlingNeverLosesARotatedToken(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	kms := kmstest.NewServer()
	t.Cleanup(kms.Close)
	provider, err := crypto.NewKMS(kms.Client(), kms.CreateKey("tenants").ID)
	require.NoError(t, err)
	sealed, err := crypto.NewStore(e.store, provider) // no data-key cache: every write and read calls KMS
	require.NoError(t, err)
	inst := &installstore.Installation{TeamID: "T0ACME", Bot: &installstore.Bot{
		ID: "B1", Token: installstore.NewSecret("xoxb-test-old"), RefreshToken: installstore.NewSecret("xoxe-test-bot-kms"), ExpiresAt: e.clock.now().Add(-time.Minute),
	}}
	require.NoError(t, sealed.StoreInstallation(ctx, inst))
	e.allow("T0ACME", "xoxe-test-bot-kms")
	r := e.refresher(sealed)

	// KMS throttled while reading the expired token.
	kms.Throttle(100)
	got, err := r.Authorize(ctx, acme)
	require.Nil(t, got)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.NotErrorIs(t, err, ErrReinstallRequired)
	require.Zero(t, e.slack.calls.Load())
	kms.Throttle(0)

	// KMS throttled between Slack's answer and the write-back: the inline
	// write and two background attempts fail (three SDK attempts each).
	e.slack.OnCall(access, func() { kms.Throttle(9) })
	got, err = r.Authorize(ctx, acme)
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal())
	e.wait(r)
	require.Equal(t, int64(1), r.Stats().WriteBackRetried)
	require.Positive(t, kms.Throttled())
	stored, err := sealed.FetchInstallation(ctx, acme)
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", stored.Bot.Token.Reveal())
	require.Equal(t, "xoxe-test-bot-refresh-1", stored.Bot.RefreshToken.Reveal())
	require.Equal(t, int64(1), e.slack.calls.Load())
	require.Zero(t, r.Stats().ReinstallRequired)
	require.Zero(t, r.dead.m.len()+r.recent.m.len())
}
