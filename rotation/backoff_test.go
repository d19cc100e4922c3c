package rotation

import (
	"context"
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

func (s *timedUpdates) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.faultStore.UpdateInstallation(ctx, inst)
}

// TestWriteBackRetriesWithCappedBackoffUntilStored: in a synctest bubble (fake
// time), a store failing the write-back 60 times in a row (about four
// minutes of retries) is retried with exponential backoff capped at
// writeBackMax, and never given up: the 61st attempt stores the token.
func TestWriteBackRetriesWithCappedBackoffUntilStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
		const failures = 60
		store := &timedUpdates{faultStore: newFaultStore(e.store)}
		store.set(func(f *faultStore) { f.failUpdates = failures })
		r := e.refresher(store)
		inst, err := r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		require.NoError(t, r.Wait(ctx))

		store.mu.Lock()
		at := store.at
		store.mu.Unlock()
		require.Len(t, at, failures+1, "every failure retried, until stored")
		for i := 1; i < len(at); i++ {
			require.LessOrEqual(t, at[i].Sub(at[i-1]), writeBackMax, "gap before attempt %d", i+1)
		}
		require.Greater(t, at[len(at)-1].Sub(at[0]), 2*time.Minute, "the retries outlast any caller's deadline")
		got, err := e.store.FetchInstallation(context.Background(), acme)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal())
		require.Equal(t, int64(1), e.slack.calls.Load())
	})
}
