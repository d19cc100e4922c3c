package rotation

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

func TestRefreshDueRefreshesEnteringMargin(t *testing.T) {
	e := newEnv(t)
	e.install("T0DUE", "U0A", 90*time.Minute, 0)            // bot entering the margin
	e.install("T0FRESH", "U0B", 5*time.Hour, 5*time.Hour)   // nothing to do
	e.install("T0USER", "U0C", 5*time.Hour, 10*time.Minute) // user token due
	other := &installstore.Installation{TeamID: "T0DUE", User: installstore.User{ID: "U0D"}}
	require.NoError(t, e.store.StoreInstallation(context.Background(), other)) // a second record sharing T0DUE's bot
	r := e.refresher(nil)

	n, err := r.RefreshDue(context.Background())
	require.NoError(t, err)
	require.Equal(t, 3, n, "T0DUE's latest record (its bot); T0USER's latest and U0C's records (U0C's user token)")
	require.Equal(t, int64(2), e.slack.calls.Load(), "one per token, however many records share it")
	for _, c := range []struct {
		q        installstore.Query
		bot, usr string
	}{
		{installstore.Query{TeamID: "T0DUE", UserID: "U0A"}, "refreshed", ""},
		{installstore.Query{TeamID: "T0FRESH"}, "xoxb-test-initial-T0FRESH", "xoxp-test-initial-T0FRESH-U0B"},
		{installstore.Query{TeamID: "T0USER", UserID: "U0C"}, "xoxb-test-initial-T0USER", "refreshed"},
	} {
		got, err := e.store.FetchInstallation(context.Background(), c.q)
		require.NoError(t, err)
		if c.bot == "refreshed" {
			require.Contains(t, got.Bot.Token.Reveal(), "xoxb-test-bot-")
		} else {
			require.Equal(t, c.bot, got.Bot.Token.Reveal())
		}
		if c.usr == "refreshed" {
			require.Contains(t, got.User.Token.Reveal(), "xoxp-test-user-")
		} else {
			require.Equal(t, c.usr, got.User.Token.Reveal())
		}
	}
	// Nothing due any more.
	n, err = r.RefreshDue(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, int64(2), e.slack.calls.Load())
}

func TestRefreshDueLogsFailuresAndGoesOn(t *testing.T) {
	e := newEnv(t)
	e.install("T0A", "U0A", -time.Minute, 0)
	e.install("T0B", "U0B", -time.Minute, 0)
	e.slack.failWith("500")
	r := e.refresher(nil)
	n, err := r.RefreshDue(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, int64(2), e.slack.calls.Load())
	require.Equal(t, 2, e.logs.count("run: refresh failed"))
	noSecrets(t, "log", e.logs.String())
}

func TestRunRefreshesAndStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0A", "U0A", 30*time.Minute, 0)
		e.install("T0B", "U0B", 30*time.Minute, 0)
		e.install("T0C", "U0C", 30*time.Minute, 0)
		called := make(chan struct{}, 10)
		e.slack.OnCall(access, func() { called <- struct{}{} })
		r := e.refresher(nil, WithRunInterval(20*time.Millisecond), WithRunConcurrency(2))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		for range 3 {
			<-called
		}
		// The next tokens enter the margin later: the loop picks them up.
		e.install("T0D", "U0D", 30*time.Minute, 0)
		<-called
		cancel()
		require.NoError(t, <-done)
		require.Equal(t, int64(4), e.slack.calls.Load())
		for _, team := range []string{"T0A", "T0B", "T0C", "T0D"} {
			got, err := e.store.FetchInstallation(context.Background(), installstore.Query{TeamID: team})
			require.NoError(t, err)
			require.Contains(t, got.Bot.Token.Reveal(), "xoxb-test-bot-", team)
		}
	})
}

// TestRefreshDueSkipsRecordsThatNeedAReinstall: a tenant whose refresh
// token Slack rejected is not read again by later ticks while its record
// is unchanged; once it re-installs, the next tick refreshes it.
func TestRefreshDueSkipsRecordsThatNeedAReinstall(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, team := range []string{"T0A", "T0B", "T0C"} {
		e.install(team, "U1", -time.Minute, 0)
	}
	for _, team := range []string{"T0A", "T0B", "T0C"} {
		e.slack.RevokeRefreshToken("xoxe-test-bot-initial-" + team) // Slack rejects every refresh token
	}
	counted := newFaultStore(e.store)
	r := e.refresher(counted)
	n, err := r.RefreshDue(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, int64(3), e.slack.calls.Load())
	require.Equal(t, int64(3), r.Stats().ReinstallRequired)

	reads := counted.fetches.Load()
	n, err = r.RefreshDue(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n, "still listed: their tokens are due")
	require.Equal(t, reads, counted.fetches.Load(), "but not read again")
	require.Equal(t, int64(3), e.slack.calls.Load())

	// T0B re-installs: new tokens, a new refresh time.
	re := e.install("T0B", "U1", 30*time.Minute, 0)
	re.Bot.RefreshToken = installstore.NewSecret("xoxe-test-bot-reinstalled")
	require.NoError(t, e.store.StoreInstallation(ctx, re))
	e.allow("T0B", "xoxe-test-bot-reinstalled")
	_, err = r.RefreshDue(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(4), e.slack.calls.Load())
	got, err := e.store.FetchInstallation(ctx, installstore.Query{TeamID: "T0B"})
	require.NoError(t, err)
	require.Contains(t, got.Bot.Token.Reveal(), "xoxb-test-bot-")
}

// TestRefreshDueRefreshesAUserTokenBesideADeadBot: the bot's refresh token
// is dead, the installing user's is fine: the background refresh still
// renews the user token.
func TestRefreshDueRefreshesAUserTokenBesideADeadBot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		e := newBubbleEnv(t)
		inst := e.install("T0ACME", "U0ADMIN", -time.Minute, 20*time.Minute)
		e.slack.RevokeRefreshToken(inst.Bot.RefreshToken.Reveal())
		r := e.refresher(nil)
		_, err := r.RefreshDue(ctx)
		require.NoError(t, err)
		got, err := e.store.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME", UserID: "U0ADMIN"})
		require.NoError(t, err)
		require.Equal(t, "xoxp-test-user-2", got.User.Token.Reveal(), "the user token was refreshed")
		require.Equal(t, "xoxb-test-initial-T0ACME", got.Bot.Token.Reveal(), "the dead bot was not replaced")
		require.Equal(t, int64(1), r.Stats().ReinstallRequired)

		// Later ticks keep renewing the user token when it is due again.
		time.Sleep(11 * time.Hour)
		_, err = r.RefreshDue(ctx)
		require.NoError(t, err)
		got, err = e.store.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME", UserID: "U0ADMIN"})
		require.NoError(t, err)
		require.NotEqual(t, "xoxp-test-user-2", got.User.Token.Reveal())
	})
}
