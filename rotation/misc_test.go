package rotation

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

func TestSafetyMargin(t *testing.T) {
	for _, c := range []struct {
		margin time.Duration
		serve  bool
	}{{0, true}, {5 * time.Minute, false}} {
		e := newEnv(t)
		e.install("T0ACME", "U0ADMIN", 3*time.Minute, 0)
		e.slack.failWith("500")
		var opts []Option
		if c.margin != 0 {
			opts = append(opts, WithSafetyMargin(c.margin))
		}
		inst, err := e.refresher(nil, opts...).Authorize(context.Background(), acme)
		if c.serve {
			require.NoError(t, err, "3 minutes left, default 1 minute safety margin")
			require.Equal(t, "xoxb-test-initial-T0ACME", inst.Bot.Token.Reveal())
		} else {
			require.ErrorIs(t, err, ErrRefreshFailed, "3 minutes left is within a 5 minute safety margin")
			require.Nil(t, inst)
		}
	}
}

// failingLeaser is a store whose lease calls fail (a store outage).
type failingLeaser struct{ *memory.Store }

func (failingLeaser) AcquireLease(context.Context, string, string, time.Duration) error {
	return fmt.Errorf("lease table: %w", installstore.ErrUnavailable)
}

func TestLeaseStoreFailureFailsClosed(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
	inst, err := e.refresher(failingLeaser{e.store}).Authorize(context.Background(), acme)
	require.ErrorIs(t, err, ErrRefreshFailed)
	require.ErrorIs(t, err, installstore.ErrUnavailable, "the class is kept")
	require.NotErrorIs(t, err, ErrReinstallRequired)
	require.Contains(t, err.Error(), "acquire lease")
	require.Nil(t, inst)
	require.Zero(t, e.slack.calls.Load())
}

// failingFetch fails every fetch after the first (the store goes down
// between the caller's read and the flight's).
type failingFetch struct {
	*memory.Store
	mu sync.Mutex
	n  int
}

func (f *failingFetch) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if n > 1 {
		return nil, fmt.Errorf("store: %w", installstore.ErrUnavailable)
	}
	return f.Store.FetchInstallation(ctx, q)
}

func TestStoreFailureDuringFlightFailsClosed(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
	inst, err := e.refresher(&failingFetch{Store: e.store}).Authorize(context.Background(), acme)
	require.ErrorIs(t, err, ErrRefreshFailed)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.NotErrorIs(t, err, ErrReinstallRequired)
	require.Nil(t, inst)
	require.Zero(t, e.slack.calls.Load())
}

func TestMeterProviderCountsOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		e.install("T0ACME", "U0ADMIN", 30*time.Minute, 0)
		rec := &recCounter{n: map[string]int64{}}
		e.slack.failWith("500")
		r := e.refresher(nil, WithMeterProvider(recProvider{c: rec}))
		_, err := r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		e.wait(r)
		_, err = r.Authorize(context.Background(), acme) // within the backoff
		require.NoError(t, err)
		e.slack.failWith("")
		time.Sleep(DefaultFailureBackoff)
		_, err = r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		e.wait(r)
		require.Equal(t, "installvault.rotation.refreshes", rec.name)
		require.Equal(t, map[string]int64{"failed": 1, "served_valid": 1, "served_while_refreshing": 2, "refreshed": 1}, rec.n)
		require.Equal(t, Stats{Refreshed: 1, Failed: 1, ServedValid: 1, ServedWhileRefreshing: 2}, r.Stats())
	})
}

type recProvider struct {
	noop.MeterProvider
	c *recCounter
}

func (p recProvider) Meter(string, ...metric.MeterOption) metric.Meter { return recMeter{c: p.c} }

type recMeter struct {
	noop.Meter
	c *recCounter
}

func (m recMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	m.c.name = name
	return m.c, nil
}

type recCounter struct {
	noop.Int64Counter
	mu   sync.Mutex
	name string
	n    map[string]int64
}

func (c *recCounter) Add(_ context.Context, v int64, opts ...metric.AddOption) {
	attrs := metric.NewAddConfig(opts).Attributes()
	outcome, _ := attrs.Value("outcome")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[outcome.AsString()] += v
}

func TestFailureBackoff(t *testing.T) {
	for _, c := range []struct {
		fail string
		wait time.Duration
	}{{"500", DefaultFailureBackoff}, {"429", 30 * time.Second}} {
		t.Run(c.fail, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newBubbleEnv(t)
				e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
				e.slack.failWith(c.fail)
				r := e.refresher(nil)
				for range 5 {
					inst, err := r.Authorize(context.Background(), acme)
					require.ErrorIs(t, err, ErrRefreshFailed)
					require.Nil(t, inst)
				}
				require.Equal(t, int64(1), e.slack.calls.Load(), "no oauth.v2.access storm while Slack is down")
				e.slack.failWith("")
				time.Sleep(c.wait - time.Second)
				_, err := r.Authorize(context.Background(), acme)
				require.ErrorIs(t, err, ErrRefreshFailed)
				time.Sleep(time.Second)
				inst, err := r.Authorize(context.Background(), acme)
				require.NoError(t, err)
				require.Equal(t, "xoxb-test-bot-2", inst.Bot.Token.Reveal())
			})
		})
	}
	// 0 disables it.
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", -time.Minute, 0)
	e.slack.failWith("500")
	r := e.refresher(nil, WithFailureBackoff(0))
	for range 3 {
		_, err := r.Authorize(context.Background(), acme)
		require.ErrorIs(t, err, ErrRefreshFailed)
	}
	require.Equal(t, int64(3), e.slack.calls.Load())
}

func TestRepeatedFailuresDoNotFloodTheLog(t *testing.T) {
	e := newEnv(t)
	e.install("T0ACME", "U0ADMIN", 30*time.Minute, 0)
	e.slack.failWith("500")
	r := e.refresher(nil)
	for range 10 {
		_, err := r.Authorize(context.Background(), acme)
		require.NoError(t, err)
		e.wait(r)
	}
	require.Equal(t, 1, e.logs.count("level=WARN msg=\"rotation: background refresh failed"))
	require.Zero(t, e.logs.count("level=WARN msg=\"rotation: refresh failed; serving the still-valid token\""))
	require.Equal(t, 9, e.logs.count("level=DEBUG msg=\"rotation: refresh failed; serving the still-valid token\""))
	require.Equal(t, int64(9), r.Stats().ServedValid)
	require.Equal(t, int64(1), r.Stats().ServedWhileRefreshing)
}
