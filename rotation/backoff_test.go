package rotation

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// timedUpdates records when each UpdateInstallation is attempted.
type timedUpdates struct {
	*faultStore
	mu sync.Mutex
	at []time.Time
}

// attempts returns when each UpdateInstallation was attempted, so far.
func (s *timedUpdates) attempts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.at)
}

func (s *timedUpdates) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.faultStore.UpdateInstallation(ctx, inst)
}

// TestWriteBackRetriesWithCappedBackoffUntilStored: in a synctest bubble (fake
// time), a store failing the write-back many times in a row is retried
// with exponential backoff, never given up, until the attempt after the
// last failure stores the token. The backoff is capped at writeBackMax while
// the store is unavailable (60 failures: about four minutes of retries),
// and at writeBackMaxRefused while it refuses the write for a reason that is
// neither transient nor invalid (a corrupt record; a disabled KMS key is
// the same: every attempt may call KMS).
func TestWriteBackRetriesWithCappedBackoffUntilStored(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error // nil: errInjected, unavailable
		failures int
		limit    time.Duration
	}{
		{"unavailable", nil, 60, writeBackMax},
		{"refused", fmt.Errorf("the record does not decode: %w", installstore.ErrCorrupt), 30, writeBackMaxRefused},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newBubbleEnv(t)
				e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
				store := &timedUpdates{faultStore: newFaultStore(e.store)}
				store.set(func(f *faultStore) { f.failUpdates, f.updateErr = c.failures, c.err })
				r := e.refresher(store)
				inst, err := r.Authorize(context.Background(), acme)
				require.NoError(t, err)
				require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
				ctx, cancel := context.WithTimeout(context.Background(), 24*time.Hour)
				defer cancel()
				require.NoError(t, r.Wait(ctx))

				at := store.attempts()
				require.Len(t, at, c.failures+1, "every failure retried, until stored")
				longest := time.Duration(0)
				for i := 1; i < len(at); i++ {
					require.LessOrEqual(t, at[i].Sub(at[i-1]), c.limit, "gap before attempt %d", i+1)
					longest = max(longest, at[i].Sub(at[i-1]))
				}
				require.Greater(t, longest, c.limit/2, "backed off up to the cap (jittered)")
				require.Greater(t, at[len(at)-1].Sub(at[0]), 2*time.Minute, "the retries outlast any caller's deadline")
				got, err := e.store.FetchInstallation(context.Background(), acme)
				require.NoError(t, err)
				require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal())
				require.Equal(t, int64(1), e.slack.calls.Load())
			})
		})
	}
}

// TestWriteBackRefusedAsInvalidIsGivenUp: a write-back the store rejects as
// invalid can never be made, so it is not retried forever (a goroutine, a
// pending entry and a lease per token, Wait never returning): it is given up
// at once and logged as an error, the lease and the pending token are let
// go, and the next refresh, which Slack rejects (the refresh token was
// rotated), reports the write-back lost and requires a re-install.
func TestWriteBackRefusedAsInvalidIsGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
		initial := e.stored("T0ACME").Bot.Token.Reveal()
		store := &timedUpdates{faultStore: newFaultStore(e.store)}
		store.set(func(f *faultStore) {
			f.failUpdates, f.updateErr = 1<<30, fmt.Errorf("the token is too long: %w", installstore.ErrInvalid)
		})
		r := e.refresher(store)
		inst, err := r.Authorize(context.Background(), acme)
		require.NoError(t, err, "the refreshed token is served while its write-back is tried")
		require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		require.NoError(t, r.Wait(ctx), "given up, not retried until the deadline")

		require.Len(t, store.attempts(), 2, "the caller's attempt and one in the background")
		require.Zero(t, r.pending.len())
		require.NoError(t, e.store.AcquireLease(context.Background(), leaseName(acme, partBot), "another-replica", time.Minute), "the lease is released")
		require.Equal(t, 1, e.logs.count("rotation: write-back refused by the store as invalid"))

		store.set(func(f *faultStore) { f.failUpdates = 0 })
		require.NoError(t, e.store.ReleaseLease(context.Background(), leaseName(acme, partBot), "another-replica"))
		_, err = r.Authorize(context.Background(), acme)
		require.ErrorIs(t, err, ErrReinstallRequired)
		require.Contains(t, err.Error(), "write-back lost")
		require.Equal(t, initial, e.stored("T0ACME").Bot.Token.Reveal(), "nothing was written")
		noSecrets(t, "log", e.logs.String())
	})
}
