package rotation

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

var acme = installstore.Query{TeamID: "T0ACME"}

func TestAuthorizeStormMakesOneRefresh(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", -time.Minute, 0) // expired: every caller waits for the refresh
	release := make(chan struct{})
	e.slack.OnCall(access, func() { <-release }) // hold the refresh until all have asked
	r := e.refresher(nil)

	const n = 1000
	var wg sync.WaitGroup
	tokens := make([]installstore.Secret, n)
	errs := make([]error, n)
	var started sync.WaitGroup
	started.Add(n)
	for i := range n {
		wg.Go(func() {
			started.Done()
			inst, err := r.Authorize(context.Background(), acme)
			errs[i] = err
			if err == nil {
				tokens[i] = inst.Bot.Token
			}
		})
	}
	started.Wait()
	close(release)
	wg.Wait()

	distinct := map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		distinct[tokens[i].Reveal()] = true
	}
	require.Equal(t, int64(1), e.slack.calls.Load(), "oauth.v2.access calls")
	require.Len(t, distinct, 1, "distinct tokens handed out")
	for tok := range distinct {
		require.Equal(t, "xoxb-test-bot-1", tok)
	}
	stored, err := e.store.FetchInstallation(context.Background(), acme)
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", stored.Bot.Token.Reveal())
	require.Equal(t, "xoxe-test-bot-refresh-1", stored.Bot.RefreshToken.Reveal())
	require.Equal(t, e.clock.now().Add(12*time.Hour), stored.Bot.ExpiresAt)
	stats := r.Stats()
	// Callers that reached the flight while Slack was held shared its token;
	// the rest found the token fresh.
	require.Positive(t, stats.Shared)
	require.Less(t, stats.Shared, int64(n))
	stats.Shared = 0
	require.Equal(t, Stats{Refreshed: 1}, stats)

	// Later callers find the token fresh: no more calls.
	_, err = r.Authorize(context.Background(), acme)
	require.NoError(t, err)
	require.Equal(t, int64(1), e.slack.calls.Load())
}

func TestAuthorizeFreshTokenNoCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", 5*time.Hour, 5*time.Hour)
		r := e.refresher(nil)
		inst, err := r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-initial-T0ACME", inst.Bot.Token.Reveal())
		require.Equal(t, int64(0), e.slack.calls.Load())

		// Entering the margin (2h by default) triggers the refresh, in the
		// background: the tokens are still valid for almost 2 hours and are
		// served at once.
		time.Sleep(3*time.Hour + time.Second)
		inst, err = r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-initial-T0ACME", inst.Bot.Token.Reveal())
		e.wait(r)
		require.Equal(t, int64(2), e.slack.calls.Load(), "bot and user token")
		require.Equal(t, int64(2), r.Stats().ServedWhileRefreshing)
		inst, err = r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.NotEqual(t, "xoxb-test-initial-T0ACME", inst.Bot.Token.Reveal())
		require.NotEqual(t, "xoxp-test-initial-T0ACME-U0ADMIN", inst.User.Token.Reveal())
		require.Equal(t, int64(2), e.slack.calls.Load())
	})
}

func TestAuthorizeNonRotatingToken(t *testing.T) {
	e := newEnv(t)
	inst := &installstore.Installation{TeamID: "T0PLAIN", Bot: &installstore.Bot{ID: "B1", Token: installstore.NewSecret("xoxb-test-forever")}}
	require.NoError(t, e.store.StoreInstallation(context.Background(), inst))
	r := e.refresher(nil)
	got, err := r.Authorize(context.Background(), installstore.Query{TeamID: "T0PLAIN"})
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-forever", got.Bot.Token.Reveal())
	require.Equal(t, int64(0), e.slack.calls.Load())

	// An expiring token without a refresh token cannot be renewed: once
	// expired it fails closed.
	inst.Bot.ExpiresAt = e.clock.now().Add(-time.Minute)
	require.NoError(t, e.store.StoreInstallation(context.Background(), inst))
	got, err = r.Authorize(context.Background(), installstore.Query{TeamID: "T0PLAIN"})
	require.ErrorIs(t, err, ErrRefreshFailed)
	require.ErrorIs(t, err, ErrReinstallRequired)
	require.Nil(t, got)
}

func TestAuthorizeFailsClosedWhenExpired(t *testing.T) {
	for _, fail := range []string{"500", "ratelimited", "internal_error"} {
		t.Run(fail, func(t *testing.T) {
			e := newEnv(t)
			e.install("T0ACME", "U0ADMIN", -time.Minute, 0) // already expired
			e.slack.failWith(fail)
			r := e.refresher(nil)
			inst, err := r.Authorize(context.Background(), acme)
			require.ErrorIs(t, err, ErrRefreshFailed)
			require.NotErrorIs(t, err, ErrReinstallRequired)
			require.Nil(t, inst, "no expired token handed out")
			require.Contains(t, err.Error(), "tenant "+acme.Tenant().String())
			noSecrets(t, "error", err.Error())
			noSecrets(t, "log", e.logs.String())
			require.Equal(t, int64(1), r.Stats().Rejected)

			// Within the safety margin counts as expired too.
			e2 := newEnv(t)
			e2.install("T0ACME", "U0ADMIN", 30*time.Second, 0)
			e2.slack.failWith(fail)
			inst, err = e2.refresher(nil).Authorize(context.Background(), acme)
			require.ErrorIs(t, err, ErrRefreshFailed)
			require.Nil(t, inst)
		})
	}
}

func TestAuthorizeServesValidTokenWhenRefreshFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", 30*time.Minute, 0)
		e.slack.failWith("500")
		r := e.refresher(nil)
		inst, err := r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-initial-T0ACME", inst.Bot.Token.Reveal())
		e.wait(r)
		require.Equal(t, 1, e.logs.count("background refresh failed; the still-valid token is served meanwhile"))
		require.Equal(t, Stats{Failed: 1, ServedWhileRefreshing: 1}, r.Stats())
		// Within the failure backoff: served without a new Slack call.
		inst, err = r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-initial-T0ACME", inst.Bot.Token.Reveal())
		require.Equal(t, Stats{Failed: 1, ServedWhileRefreshing: 1, ServedValid: 1}, r.Stats())
		require.Equal(t, int64(1), e.slack.calls.Load())
		noSecrets(t, "log", e.logs.String())

		// Slack recovers: the next call after the failure backoff refreshes.
		e.slack.failWith("")
		time.Sleep(DefaultFailureBackoff)
		_, err = r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		e.wait(r)
		inst, err = r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-2", inst.Bot.Token.Reveal())
	})
}

func TestInvalidRefreshTokenNeedsReinstall(t *testing.T) {
	for _, code := range []string{"invalid_refresh_token", "invalid_grant"} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t)
			e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
			e.slack.failWith(code)
			r := e.refresher(nil)
			_, err := r.Authorize(context.Background(), acme)
			require.ErrorIs(t, err, ErrReinstallRequired)
			require.ErrorIs(t, err, ErrRefreshFailed)
			require.Contains(t, err.Error(), code)

			// No endless retry: the dead refresh token is not sent again,
			// even after unrelated writes to the tenant.
			other := &installstore.Installation{TeamID: "T0ACME", User: installstore.User{ID: "U0OTHER"}}
			require.NoError(t, e.store.StoreInstallation(context.Background(), other))
			for range 3 {
				_, err = r.Authorize(context.Background(), acme)
				require.ErrorIs(t, err, ErrReinstallRequired)
			}
			require.Equal(t, int64(1), e.slack.calls.Load())
			require.Equal(t, int64(1), r.Stats().ReinstallRequired)
			require.Zero(t, r.Stats().WriteBackLost, "no earlier refresh of this token was lost")

			// A re-install (new refresh token) lifts the mark.
			e.slack.failWith("")
			re := e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
			re.Bot.RefreshToken = installstore.NewSecret("xoxe-test-bot-reinstalled")
			require.NoError(t, e.store.StoreInstallation(context.Background(), re))
			e.allow("T0ACME", "xoxe-test-bot-reinstalled")
			inst, err := r.Authorize(context.Background(), acme)
			require.NoError(t, err)
			require.Equal(t, "xoxb-test-bot-2", inst.Bot.Token.Reveal())
		})
	}
}

func TestDeadRefreshTokenWhileStillValid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", 30*time.Minute, 0)
		e.slack.failWith("invalid_refresh_token")
		r := e.refresher(nil)
		for range 3 {
			inst, err := r.Authorize(context.Background(), acme)
			require.NoError(t, err, "a still-valid token is served")
			require.Equal(t, "xoxb-test-initial-T0ACME", inst.Bot.Token.Reveal())
			e.wait(r)
		}
		require.Equal(t, int64(1), e.slack.calls.Load())
		// Once it expires: fail closed, still without calling Slack.
		time.Sleep(30 * time.Minute)
		_, err := r.Authorize(context.Background(), acme)
		require.ErrorIs(t, err, ErrReinstallRequired)
		require.Equal(t, int64(1), e.slack.calls.Load())
	})
}

func TestRefreshRacingDeleteStaysDeleted(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
	e.slack.OnCall(access, func() { // app_uninstalled arrives while Slack answers
		if err := e.store.DeleteInstallation(context.Background(), acme); err != nil {
			t.Error(err)
		}
	})
	r := e.refresher(nil)
	inst, err := r.Authorize(context.Background(), acme)
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.Nil(t, inst)
	require.Equal(t, int64(1), e.slack.calls.Load())
	_, err = e.store.FetchInstallation(context.Background(), acme)
	require.ErrorIs(t, err, installstore.ErrNotFound, "no resurrection")
	require.Equal(t, 0, e.store.Len())
}

func TestBotRevokedDuringRefresh(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
	e.slack.OnCall(access, func() { _ = e.store.DeleteBot(context.Background(), acme) })
	_, err := e.refresher(nil).Authorize(context.Background(), acme)
	require.ErrorIs(t, err, installstore.ErrNotFound)
	got, err := e.store.FetchInstallation(context.Background(), acme)
	require.NoError(t, err)
	require.Nil(t, got.Bot, "the revoked bot is not written back")
}

func TestUnrelatedWriteDuringRefreshKeepsNewToken(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
	e.slack.OnCall(access, func() { // another user installs meanwhile: the Version moves
		other := &installstore.Installation{TeamID: "T0ACME", User: installstore.User{ID: "U0OTHER", Token: installstore.NewSecret("xoxp-test-other")}}
		if err := e.store.StoreInstallation(context.Background(), other); err != nil {
			t.Error(err)
		}
	})
	r := e.refresher(nil)
	inst, err := r.Authorize(context.Background(), installstore.Query{TeamID: "T0ACME", UserID: "U0ADMIN"})
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
	require.Equal(t, int64(1), e.slack.calls.Load())
	for _, q := range []installstore.Query{acme, {TeamID: "T0ACME", UserID: "U0ADMIN"}, {TeamID: "T0ACME", UserID: "U0OTHER"}} {
		got, err := e.store.FetchInstallation(context.Background(), q)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal(), "query %+v", q)
	}
	other, err := e.store.FetchInstallation(context.Background(), installstore.Query{TeamID: "T0ACME", UserID: "U0OTHER"})
	require.NoError(t, err)
	require.Equal(t, "xoxp-test-other", other.User.Token.Reveal(), "the other write is kept")
}

func TestUserTokenRefresh(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", 10*time.Hour, 30*time.Second) // within the safety margin: callers wait
	r := e.refresher(nil)
	q := installstore.Query{TeamID: "T0ACME", UserID: "U0ADMIN"}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			inst, err := r.Authorize(context.Background(), q)
			if err != nil {
				t.Error(err)
				return
			}
			if inst.User.Token.Reveal() != "xoxp-test-user-1" || inst.Bot.Token.Reveal() != "xoxb-test-initial-T0ACME" {
				t.Errorf("tokens: user %q bot %q", inst.User.Token.Reveal(), inst.Bot.Token.Reveal())
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(1), e.slack.calls.Load())
	for _, q := range []installstore.Query{q, acme} { // the latest installation is that user's too
		got, err := e.store.FetchInstallation(context.Background(), q)
		require.NoError(t, err)
		require.Equal(t, "xoxp-test-user-1", got.User.Token.Reveal())
		require.Equal(t, "xoxe-test-user-refresh-1", got.User.RefreshToken.Reveal())
		require.Equal(t, e.clock.now().Add(12*time.Hour), got.User.ExpiresAt)
	}
}

func TestOrgWideInstallServesWorkspace(t *testing.T) {
	e := newEnv(t)
	org := &installstore.Installation{
		EnterpriseID: "E0ORG", IsEnterpriseInstall: true,
		Bot: &installstore.Bot{ID: "B0ORG", Token: installstore.NewSecret("xoxb-test-org"), RefreshToken: installstore.NewSecret("xoxe-test-bot-org"), ExpiresAt: e.clock.now().Add(time.Minute)},
	}
	require.NoError(t, e.store.StoreInstallation(context.Background(), org))
	e.allow("E0ORG", "xoxe-test-bot-org")
	r := e.refresher(nil)
	var wg sync.WaitGroup
	for _, q := range []installstore.Query{{EnterpriseID: "E0ORG", TeamID: "T0A"}, {EnterpriseID: "E0ORG", TeamID: "T0B"}, {EnterpriseID: "E0ORG", IsEnterpriseInstall: true}} {
		for range 20 {
			wg.Go(func() {
				inst, err := r.Authorize(context.Background(), q)
				if err != nil || inst.Bot.Token.Reveal() != "xoxb-test-bot-1" {
					t.Errorf("%+v: %v", q, err)
				}
			})
		}
	}
	wg.Wait()
	require.Equal(t, int64(1), e.slack.calls.Load(), "one flight for the org install, whichever workspace asks")
}

func TestAuthorizeErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		r := e.refresher(nil)
		_, err := r.Authorize(context.Background(), acme)
		require.ErrorIs(t, err, installstore.ErrNotFound)
		_, err = r.Authorize(context.Background(), installstore.Query{})
		require.ErrorIs(t, err, installstore.ErrInvalid)

		// A caller whose context ends stops waiting; the error is the context's.
		e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
		release := make(chan struct{})
		called := make(chan struct{}, 1)
		e.slack.OnCall(access, func() { called <- struct{}{}; <-release })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := r.Authorize(ctx, acme)
			done <- err
		}()
		<-called
		cancel()
		err = <-done
		require.ErrorIs(t, err, context.Canceled)
		close(release)
		// The detached flight finished the refresh for everyone else.
		synctest.Wait()
		inst, err := r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
		require.Equal(t, int64(1), e.slack.calls.Load())
	})
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t)
	_, err := New(e.store)
	require.ErrorIs(t, err, installstore.ErrInvalid, "credentials are required")
	_, err = New(nil, WithClientCredentials("id", installstore.NewSecret("secret")))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	_, err = New(e.store, WithClientCredentials("id", installstore.NewSecret("secret")), WithLeaseTTL(0))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	_, err = New(e.store, WithClientCredentials("id", installstore.NewSecret("secret")), WithRefreshBefore(-time.Second))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	r, err := New(e.store, WithClientCredentials("id", installstore.NewSecret("secret")))
	require.NoError(t, err)
	require.NotNil(t, r)
	require.False(t, errors.Is(err, ErrRefreshFailed))

	// Another app's store: this app would refresh tokens it does not own.
	_, err = New(memory.New(memory.WithClientID("9999999999.8888888888")), WithClientCredentials("1111111111.2222222222", installstore.NewSecret("secret")))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorContains(t, err, "9999999999.8888888888")
	_, err = New(memory.New(memory.WithClientID("1111111111.2222222222")), WithClientCredentials("1111111111.2222222222", installstore.NewSecret("secret")))
	require.NoError(t, err, "the app's own store")
}

func TestBotRefreshSurvivesCallerUserUninstall(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ONE", -time.Minute, 0)
	two := &installstore.Installation{TeamID: "T0ACME", User: installstore.User{ID: "U0TWO"}}
	require.NoError(t, e.store.StoreInstallation(context.Background(), two)) // latest is U0TWO's now
	e.slack.OnCall(access, func() {                                          // U0ONE uninstalls while the bot refresh is in Slack
		if err := e.store.DeleteInstallation(context.Background(), installstore.Query{TeamID: "T0ACME", UserID: "U0ONE"}); err != nil {
			t.Error(err)
		}
	})
	_, err := e.refresher(nil).Authorize(context.Background(), installstore.Query{TeamID: "T0ACME", UserID: "U0ONE"})
	require.NoError(t, err, "the bot is the tenant's: its refresh does not depend on U0ONE's record")
	got, err := e.store.FetchInstallation(context.Background(), acme)
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal())
	require.Equal(t, "U0TWO", got.User.ID)
	_, err = e.store.FetchInstallation(context.Background(), installstore.Query{TeamID: "T0ACME", UserID: "U0ONE"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "U0ONE stays uninstalled")
	require.Equal(t, int64(1), e.slack.calls.Load())
}
