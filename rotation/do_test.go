package rotation

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

func TestClientCarriesBotToken(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
	r := e.refresher(nil)
	api, err := r.Client(context.Background(), acme)
	require.NoError(t, err)
	_, err = api.AuthTestContext(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"xoxb-test-bot-1"}, e.slack.Tokens("auth.test"), "the client uses the refreshed token")

	userOnly := &installstore.Installation{TeamID: "T0USERONLY", User: installstore.User{ID: "U1", Token: installstore.NewSecret("xoxp-test-u")}}
	require.NoError(t, e.store.StoreInstallation(context.Background(), userOnly))
	_, err = r.Client(context.Background(), installstore.Query{TeamID: "T0USERONLY"})
	require.ErrorIs(t, err, ErrNoBotToken)
}

func TestDoRetriesOnceAfterTokenExpired(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", 5*time.Hour, 0)
	// Slack expired the token earlier than we believed.
	e.slack.Expire("xoxb-test-initial-T0ACME")
	r := e.refresher(nil)
	var runs int
	err := r.Do(context.Background(), acme, func(ctx context.Context, api *slack.Client) error {
		runs++
		_, err := api.AuthTestContext(ctx)
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 2, runs)
	require.Equal(t, int64(1), e.slack.calls.Load())
	got, err := e.store.FetchInstallation(context.Background(), acme)
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal())
}

func TestDoRetriesExactlyOnce(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", 5*time.Hour, 0)
	r := e.refresher(nil)
	var runs int
	err := r.Do(context.Background(), acme, func(ctx context.Context, api *slack.Client) error {
		runs++
		return slack.SlackErrorResponse{Err: "token_expired"}
	})
	require.Equal(t, "token_expired", slackCode(err))
	require.Equal(t, 2, runs)
	require.Equal(t, int64(1), e.slack.calls.Load())
}

func TestDoLeavesOtherErrorsAlone(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", 5*time.Hour, 0)
	r := e.refresher(nil)
	boom := errors.New("boom")
	for _, want := range []error{nil, boom, slack.SlackErrorResponse{Err: "channel_not_found"}} {
		runs := 0
		err := r.Do(context.Background(), acme, func(context.Context, *slack.Client) error { runs++; return want })
		require.Equal(t, want, err)
		require.Equal(t, 1, runs)
	}
	require.Zero(t, e.slack.calls.Load())
}

func TestDoInvalidAuthOnlyForBelievedValidRotatingToken(t *testing.T) {
	e := newEnv(t)
	inst := &installstore.Installation{TeamID: "T0PLAIN", Bot: &installstore.Bot{ID: "B1", Token: installstore.NewSecret("xoxb-test-forever")}}
	require.NoError(t, e.store.StoreInstallation(context.Background(), inst))
	r := e.refresher(nil)
	runs := 0
	err := r.Do(context.Background(), installstore.Query{TeamID: "T0PLAIN"}, func(context.Context, *slack.Client) error {
		runs++
		return slack.SlackErrorResponse{Err: "invalid_auth"}
	})
	require.Equal(t, "invalid_auth", slackCode(err))
	require.Equal(t, 1, runs, "a non-rotating token cannot be refreshed")

	e.install("T0ACME", "U0ADMIN", 5*time.Hour, 0)
	runs = 0
	err = r.Do(context.Background(), acme, func(ctx context.Context, api *slack.Client) error {
		runs++
		if runs == 1 {
			return slack.SlackErrorResponse{Err: "invalid_auth"}
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, runs)
	require.Equal(t, int64(1), e.slack.calls.Load())
}

func TestDoForcedRefreshFails(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", 5*time.Hour, 0)
	e.slack.failWith("500")
	r := e.refresher(nil)
	runs := 0
	err := r.Do(context.Background(), acme, func(context.Context, *slack.Client) error {
		runs++
		return slack.SlackErrorResponse{Err: "token_expired"}
	})
	require.ErrorIs(t, err, ErrRefreshFailed, "the token Slack refused is not served again")
	require.Equal(t, 1, runs)
	noSecrets(t, "error", err.Error())
}

func TestDoForcedRefreshTokenRejected(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", 5*time.Hour, 0)
	e.slack.failWith("invalid_refresh_token")
	r := e.refresher(nil)
	runs := 0
	fn := func(context.Context, *slack.Client) error {
		runs++
		return slack.SlackErrorResponse{Err: "token_expired"}
	}
	err := r.Do(context.Background(), acme, fn)
	require.ErrorIs(t, err, ErrReinstallRequired)
	require.Equal(t, 1, runs, "the refused token is not tried again")
	// Marked: the next Do does not call oauth.v2.access again.
	err = r.Do(context.Background(), acme, fn)
	require.ErrorIs(t, err, ErrReinstallRequired)
	require.Equal(t, int64(1), e.slack.calls.Load())
}

func TestForcedAndNormalFlightsExcludeEachOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", 3*time.Hour, 0)
		release := make(chan struct{})
		called := make(chan struct{}, 2)
		e.slack.OnCall(access, func() { called <- struct{}{}; <-release })
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		defer unblock()                                  // a failing assertion must not leave Slack's handler blocked
		r := e.refresher(nil, WithLeaseTTL(4*time.Hour)) // the lease, and the Slack call's timeout (half of it), outlive the clock jump below
		doErr := make(chan error)
		go func() {
			doErr <- r.Do(context.Background(), acme, func(context.Context, *slack.Client) error {
				return slack.SlackErrorResponse{Err: "token_expired"}
			})
		}()
		<-called                            // the forced refresh is inside Slack
		time.Sleep(time.Hour + time.Second) // now due for a normal refresh
		// The token is still valid for almost an hour: Authorize serves it at
		// once and refreshes in the background, where the normal flight waits
		// for the forced one's lease.
		inst, err := r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-initial-T0ACME", inst.Bot.Token.Reveal())
		synctest.Wait() // the normal flight polls for the forced one's lease
		require.Equal(t, int64(1), r.Stats().LeaseWaits)
		unblock()
		require.Equal(t, "token_expired", slackCode(<-doErr), "fn refused twice")
		e.wait(r)
		require.Equal(t, int64(1), e.slack.calls.Load(), "the normal flight used the forced one's token")
		inst, err = r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
	})
}
