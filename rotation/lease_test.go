package rotation

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

func TestReplicasShareOneRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
		release := make(chan struct{})
		e.slack.OnCall(access, func() { <-release })
		// Four replicas over one store: the lease, not singleflight, dedupes them.
		replicas := []*Refresher{e.refresher(nil), e.refresher(nil), e.refresher(nil), e.refresher(nil)}
		var wg sync.WaitGroup
		var mu sync.Mutex
		distinct := map[string]int{}
		for _, r := range replicas {
			for range 250 {
				wg.Go(func() {
					inst, err := r.Authorize(context.Background(), acme)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					distinct[inst.Bot.Token.Reveal()]++
					mu.Unlock()
				})
			}
		}
		// Every caller is waiting: the holder inside Slack, the other
		// replicas' flights for its lease, the rest for their flights.
		synctest.Wait()
		var waits int64
		for _, r := range replicas {
			waits += r.Stats().LeaseWaits
		}
		require.Equal(t, int64(3), waits)
		close(release)
		wg.Wait()
		require.Equal(t, int64(1), e.slack.calls.Load(), "oauth.v2.access calls across replicas")
		require.Equal(t, map[string]int{"xoxb-test-bot-1": 1000}, distinct)
	})
}

func TestCrashedLeaseHolderIsTakenOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
		const ttl = 30 * time.Second
		// A replica took the lease and was killed: it never releases it.
		require.NoError(t, e.store.AcquireLease(context.Background(), leaseName(acme, partBot), "killed-replica", ttl))
		r := e.refresher(nil, WithLeaseTTL(ttl))

		// While the lease is live, nobody calls Slack and the expired token is
		// not handed out; a caller that gives up gets its context's error.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		inst, err := r.Authorize(ctx, acme)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Nil(t, inst)
		require.Equal(t, int64(0), e.slack.calls.Load())
		require.Equal(t, int64(1), r.Stats().LeaseWaits)

		// The lease expires: the waiting flight takes over and refreshes.
		time.Sleep(ttl + time.Second)
		inst, err = r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
		require.Equal(t, int64(1), e.slack.calls.Load())
		// The lease was released: a new holder gets it at once.
		require.NoError(t, e.store.AcquireLease(context.Background(), leaseName(acme, partBot), "next", ttl))
	})
}

func TestWaiterUsesWhatTheHolderWrote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
		require.NoError(t, e.store.AcquireLease(context.Background(), leaseName(acme, partBot), "other-replica", time.Hour))
		r := e.refresher(nil)
		done := make(chan *installstore.Installation)
		go func() {
			inst, err := r.Authorize(context.Background(), acme)
			if err != nil {
				t.Error(err)
			}
			done <- inst
		}()
		synctest.Wait() // the flight polls for the other replica's lease
		require.Equal(t, int64(1), r.Stats().LeaseWaits)
		// The other replica writes its refreshed token (and keeps its lease).
		cur, err := e.store.FetchInstallation(context.Background(), acme)
		require.NoError(t, err)
		cur.Bot.Token, cur.Bot.RefreshToken, cur.Bot.ExpiresAt = installstore.NewSecret("xoxb-test-from-other-replica"), installstore.NewSecret("xoxe-test-bot-other"), time.Now().Add(12*time.Hour)
		require.NoError(t, e.store.UpdateInstallation(context.Background(), cur))
		inst := <-done
		require.Equal(t, "xoxb-test-from-other-replica", inst.Bot.Token.Reveal())
		require.Equal(t, int64(0), e.slack.calls.Load())
	})
}

// noLease is a store whose lease is always granted: as if it expired
// under a slow holder (or the backend lost it), so that two replicas may
// both call Slack.
type noLease struct{ installstore.Passthrough }

func (noLease) AcquireLease(context.Context, string, string, time.Duration) error { return nil }

func TestTwoReplicasWithoutLeaseKeepOneResult(t *testing.T) {
	// Without a working lease both replicas may call Slack; the conditional
	// write keeps exactly one result and both callers get the stored one.
	for _, tc := range []struct {
		name   string
		reused bool // Slack accepts the refresh token twice (else: invalid_refresh_token for the loser)
	}{{"loser's write conflicts", true}, {"loser's refresh token already rotated", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
			unleased := noLease{installstore.Passthrough{Inner: e.store}}
			a, b := e.refresher(unleased), e.refresher(unleased)
			// b refreshes and writes while a is inside its Slack call.
			var first atomic.Bool
			e.slack.OnCall(access, func() {
				if first.CompareAndSwap(false, true) {
					if _, err := b.Authorize(context.Background(), acme); err != nil {
						t.Error(err)
					}
					if tc.reused {
						e.allow("T0ACME", "xoxe-test-bot-initial-T0ACME")
					}
				}
			})
			inst, err := a.Authorize(context.Background(), acme)
			require.NoError(t, err)
			stored, err := e.store.FetchInstallation(context.Background(), acme)
			require.NoError(t, err)
			require.Equal(t, "xoxb-test-bot-2", stored.Bot.Token.Reveal(), "b's write stays")
			require.Equal(t, stored.Bot.Token, inst.Bot.Token, "the loser uses the winner's token")
			require.Equal(t, int64(2), e.slack.calls.Load())
			require.Zero(t, a.Stats().ReinstallRequired, "a rotated token is not a dead one")
		})
	}
}
