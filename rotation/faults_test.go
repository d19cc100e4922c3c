package rotation

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// faultStore wraps a real store: it counts reads and injects transient
// faults (installstore.ErrUnavailable) into chosen calls.
type faultStore struct {
	installstore.Passthrough

	mu           sync.Mutex
	failUpdates  int   // the next N UpdateInstallation calls fail, writing nothing
	updateErr    error // what they fail with (nil: errInjected, unavailable)
	landThenFail int   // the next N UpdateInstallation calls write, then report a failure
	failFetches  int   // the next N FetchInstallation calls fail
	failAfter    int   // with failFetches: fail only after this many more fetches succeed
	failLeases   int   // the next N AcquireLease calls fail
	failNonces   int   // the next N PutNonce calls fail
	fetchesBy    map[installstore.Query]int

	fetches atomic.Int64
	updates atomic.Int64
}

func newFaultStore(inner installstore.FullStore) *faultStore {
	return &faultStore{Passthrough: installstore.Passthrough{Inner: inner}, fetchesBy: map[installstore.Query]int{}}
}

func (f *faultStore) set(fn func(f *faultStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// take reports whether to inject a fault from counter n.
func (f *faultStore) take(n *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *n > 0 {
		*n--
		return true
	}
	return false
}

var errInjected = fmt.Errorf("injected fault: %w", installstore.ErrUnavailable)

func (f *faultStore) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	f.fetches.Add(1)
	f.mu.Lock()
	f.fetchesBy[q]++
	fail := false
	switch {
	case f.failFetches > 0 && f.failAfter > 0:
		f.failAfter--
	case f.failFetches > 0:
		f.failFetches--
		fail = true
	}
	f.mu.Unlock()
	if fail {
		return nil, errInjected
	}
	return f.Inner.FetchInstallation(ctx, q)
}

func (f *faultStore) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	f.updates.Add(1)
	if f.take(&f.failUpdates) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.updateErr != nil {
			return f.updateErr
		}
		return errInjected
	}
	if f.take(&f.landThenFail) {
		if err := f.Inner.UpdateInstallation(ctx, inst.Clone()); err != nil {
			return err
		}
		return errInjected
	}
	return f.Inner.UpdateInstallation(ctx, inst)
}

func (f *faultStore) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	if f.take(&f.failLeases) {
		return errInjected
	}
	return f.Inner.AcquireLease(ctx, name, owner, ttl)
}

func (f *faultStore) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if f.take(&f.failNonces) {
		return errInjected
	}
	return f.Inner.PutNonce(ctx, nonce, expiresAt)
}

// fetchCounts returns the reads so far, by query.
func (f *faultStore) fetchCounts() map[installstore.Query]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[installstore.Query]int, len(f.fetchesBy))
	for q, n := range f.fetchesBy {
		m[q] = n
	}
	return m
}

// testBackends are the real stores the fault tests run on: memory always;
// crossprocess_dynamo_test.go adds DynamoDB Local. Each returns a fresh
// store using the env's clock.
var testBackends = map[string]func(e *env) installstore.FullStore{
	"memory": func(e *env) installstore.FullStore { return e.store },
}

// forEachBackend runs fn on every test backend with an env whose store is
// that backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for name, open := range testBackends {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if name != "memory" {
				e.clock.t = time.Now() // DynamoDB Local's TTL sweeper works in real time
			}
			e.backend = open(e)
			fn(t, e)
		})
	}
}

// installOn stores, on the env's backend, an installation of team whose
// rotating bot token expires in ttl.
func (e *env) installOn(team string, ttl time.Duration) *installstore.Installation {
	e.t.Helper()
	inst := &installstore.Installation{TeamID: team, Bot: &installstore.Bot{
		ID: "B1", Token: installstore.NewSecret("xoxb-test-initial-" + team), RefreshToken: installstore.NewSecret("xoxe-test-bot-initial-" + team),
		ExpiresAt: e.clock.now().Add(ttl),
	}}
	e.allow(team, inst.Bot.RefreshToken.Reveal())
	require.NoError(e.t, e.backend.StoreInstallation(context.Background(), inst))
	return inst
}

func (e *env) stored(team string) *installstore.Installation {
	e.t.Helper()
	got, err := e.backend.FetchInstallation(context.Background(), installstore.Query{TeamID: team})
	require.NoError(e.t, err)
	return got
}

func TestWriteBackFailingThenRecoveringKeepsTheNewToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		faults := newFaultStore(e.backend)
		faults.set(func(f *faultStore) { f.failUpdates = 6 }) // the inline attempt and five background retries
		team := "T0WB"
		e.installOn(team, -time.Minute) // expired: Authorize waits for the refresh
		r := e.refresher(faults)
		q := installstore.Query{TeamID: team}

		inst, err := r.Authorize(context.Background(), q)
		require.NoError(t, err, "Slack answered: the caller gets the new token although it is not stored yet")
		require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
		require.Equal(t, int64(1), r.Stats().WriteBackRetried)

		// Until it is stored, callers of this process get it too, without a
		// Slack call with the refresh token Slack already rotated.
		again, err := r.Authorize(context.Background(), q)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", again.Bot.Token.Reveal())

		e.wait(r) // the background retries reach the store
		got := e.stored(team)
		require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal())
		require.Equal(t, "xoxe-test-bot-refresh-1", got.Bot.RefreshToken.Reveal())
		require.Equal(t, int64(1), e.slack.calls.Load())
		stats := r.Stats()
		require.Zero(t, stats.ReinstallRequired)
		require.Zero(t, stats.WriteBackLost)
		require.Zero(t, r.pending.len(), "nothing pending once stored")
		require.Equal(t, 1, e.logs.count("write-back stored after retrying"))
		noSecrets(t, "log", e.logs.String())

		// A fresh replica finds the stored token: no Slack call, no re-install.
		later, err := e.refresher(e.backend).Authorize(context.Background(), q)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", later.Bot.Token.Reveal())
		require.Equal(t, int64(1), e.slack.calls.Load())
	})
}

func TestReplicaWaitsForAPendingWriteBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		faults := newFaultStore(e.backend)
		faults.set(func(f *faultStore) { f.failUpdates = 1 << 30 }) // until we say so
		team := "T0WB2"
		q := installstore.Query{TeamID: team}
		e.installOn(team, -time.Minute)
		a := e.refresher(faults)
		inst, err := a.Authorize(context.Background(), q)
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())

		// Replica b reads the old, expired token; a's retrier holds the
		// lease, so b waits rather than sending the rotated refresh token.
		b := e.refresher(e.backend)
		done := make(chan error, 1)
		go func() {
			got, err := b.Authorize(context.Background(), q)
			if err == nil && got.Bot.Token.Reveal() != "xoxb-test-bot-1" {
				err = fmt.Errorf("replica b got %s", tokenDigest(got.Bot.Token.Reveal()))
			}
			done <- err
		}()
		require.Eventually(t, func() bool { return b.Stats().LeaseWaits == 1 }, 10*time.Second, time.Millisecond)
		faults.set(func(f *faultStore) { f.failUpdates = 0 }) // the store recovers
		require.NoError(t, <-done)
		e.wait(a)
		require.Equal(t, int64(1), e.slack.calls.Load())
		require.Zero(t, a.Stats().ReinstallRequired+b.Stats().ReinstallRequired)
		require.Equal(t, "xoxb-test-bot-1", e.stored(team).Bot.Token.Reveal())
	})
}

func TestWriteBackThatLandedBeforeFailingIsNotRedone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		faults := newFaultStore(e.backend)
		faults.set(func(f *faultStore) { f.landThenFail = 1 }) // written, but the answer was lost
		e.installOn("T0LAND", -time.Minute)
		r := e.refresher(faults)
		inst, err := r.Authorize(context.Background(), installstore.Query{TeamID: "T0LAND"})
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
		e.wait(r)
		require.Equal(t, "xoxb-test-bot-1", e.stored("T0LAND").Bot.Token.Reveal())
		require.Equal(t, int64(1), faults.updates.Load(), "the retry re-read and found it stored: no second write")
		require.Equal(t, int64(1), e.slack.calls.Load())
	})
}

// TestStoreUnavailableWithExpiredTokenFailsClosed: the store (or KMS
// behind the encryption layer) failing transiently at each step of a
// refresh of an expired token gives an error matching ErrUnavailable and
// ErrRefreshFailed, never ErrReinstallRequired, and nothing remembered: the
// first call after the outage refreshes.
func TestStoreUnavailableWithExpiredTokenFailsClosed(t *testing.T) {
	for _, c := range []struct {
		name   string
		inject func(f *faultStore)
	}{
		{"lease", func(f *faultStore) { f.failLeases = 1 }},
		{"re-read under the lease", func(f *faultStore) { f.failFetches, f.failAfter = 1, 1 }},
		{"intent", func(f *faultStore) { f.failNonces = 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				faults := newFaultStore(e.backend)
				e.installOn("T0OUT", -time.Minute)
				r := e.refresher(faults)
				q := installstore.Query{TeamID: "T0OUT"}
				faults.set(c.inject)
				inst, err := r.Authorize(context.Background(), q)
				require.Nil(t, inst, "no expired token")
				require.ErrorIs(t, err, ErrRefreshFailed)
				require.ErrorIs(t, err, installstore.ErrUnavailable)
				require.NotErrorIs(t, err, ErrReinstallRequired)
				require.Zero(t, e.slack.calls.Load())
				require.Zero(t, r.dead.m.len()+r.recent.m.len(), "nothing remembered")

				// The outage ends: the very next call refreshes.
				inst, err = r.Authorize(context.Background(), q)
				require.NoError(t, err)
				require.Equal(t, "xoxb-test-bot-1", inst.Bot.Token.Reveal())
			})
		})
	}
}

// TestRejectionUnverifiableDuringOutageIsNotADeadMark: Slack rejects the
// refresh token, but the store cannot be re-read to check whether another
// replica refreshed meanwhile: the error is the store's class, not
// ErrReinstallRequired, and no dead mark outlives the outage.
func TestRejectionUnverifiableDuringOutageIsNotADeadMark(t *testing.T) {
	e := newEnv(t)
	e.backend = e.store
	faults := newFaultStore(e.store)
	e.installOn("T0REJ", -time.Minute)
	e.slack.failWith("invalid_refresh_token")
	faults.set(func(f *faultStore) { f.failFetches, f.failAfter = 1, 2 }) // the re-read after Slack's answer
	r := e.refresher(faults)
	_, err := r.Authorize(context.Background(), installstore.Query{TeamID: "T0REJ"})
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.ErrorIs(t, err, ErrRefreshFailed)
	require.NotErrorIs(t, err, ErrReinstallRequired)
	require.Zero(t, r.dead.m.len())
}

func TestSlowRefreshDoesNotBlockValidTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.installOn("T0SLOW", time.Hour) // valid for an hour, inside the 2h margin
		const callers = 50
		var returned sync.WaitGroup
		returned.Add(callers)
		allReturned := make(chan struct{})
		go func() { returned.Wait(); close(allReturned) }()
		// Slack takes 5 s, or less once every caller has its answer: a
		// caller that waited for it would miss its 2 s deadline.
		e.slack.OnCall(access, func() {
			select {
			case <-allReturned:
			case <-time.After(5 * time.Second):
			}
		})
		r := e.refresher(e.backend)
		q := installstore.Query{TeamID: "T0SLOW"}
		errs := make(chan error, callers)
		for range callers {
			go func() {
				defer returned.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				inst, err := r.Authorize(ctx, q)
				if err == nil && inst.Bot.Token.Reveal() != "xoxb-test-initial-T0SLOW" {
					err = fmt.Errorf("got %s", tokenDigest(inst.Bot.Token.Reveal()))
				}
				errs <- err
			}()
		}
		for range callers {
			require.NoError(t, <-errs, "a caller holding a valid token is served at once")
		}
		e.wait(r)
		require.Equal(t, int64(1), e.slack.calls.Load())
		require.Equal(t, int64(callers), r.Stats().ServedWhileRefreshing)
		require.Equal(t, "xoxb-test-bot-1", e.stored("T0SLOW").Bot.Token.Reveal())
	})
}

func TestDeadLeaseHolderDoesNotBlockValidTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.installOn("T0KILL", time.Hour)
		q := installstore.Query{TeamID: "T0KILL"}
		const ttl = 30 * time.Second
		// A replica took the lease and was killed: it never releases it.
		require.NoError(t, e.backend.AcquireLease(context.Background(), leaseName(q, partBot), "killed-replica", ttl))
		r := e.refresher(e.backend, WithLeaseTTL(ttl))
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				inst, err := r.Authorize(ctx, q)
				if err != nil || inst.Bot.Token.Reveal() != "xoxb-test-initial-T0KILL" {
					t.Errorf("authorize while a dead replica holds the lease: %v", err)
				}
			})
		}
		wg.Wait()
		require.Zero(t, e.slack.calls.Load(), "nobody calls Slack while the lease is live")
		require.Eventually(t, func() bool { return r.Stats().LeaseWaits == 1 }, 10*time.Second, time.Millisecond)

		// The lease expires: the background flight takes over.
		e.clock.advance(ttl + time.Second)
		e.wait(r)
		require.Equal(t, int64(1), e.slack.calls.Load())
		require.Equal(t, "xoxb-test-bot-1", e.stored("T0KILL").Bot.Token.Reveal())
	})
}

// TestLostWriteBackIsNamed: a replica took the lease, recorded its intent,
// called Slack (which rotated the refresh token) and died before storing
// the answer. The next lease holder's refresh is rejected; it counts and
// logs the loss as write_back_lost, and the error requires a re-install.
func TestLostWriteBackIsNamed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		inst := e.installOn("T0LOST", -time.Minute)
		q := installstore.Query{TeamID: "T0LOST"}
		const ttl = 30 * time.Second
		r := e.refresher(e.backend, WithLeaseTTL(ttl))
		ctx := context.Background()
		// What the dying replica did, up to Slack's answer.
		require.NoError(t, e.backend.AcquireLease(ctx, leaseName(q, partBot), "killed-replica", ttl))
		require.NoError(t, e.backend.PutNonce(ctx, r.intentName(q, partBot, inst.Bot.RefreshToken), e.clock.now().Add(intentTTL)))
		e.slack.RevokeRefreshToken(inst.Bot.RefreshToken.Reveal()) // Slack rotated it
		e.clock.advance(ttl + time.Second)

		got, err := r.Authorize(ctx, q)
		require.Nil(t, got)
		require.ErrorIs(t, err, ErrReinstallRequired)
		require.Contains(t, err.Error(), "write-back lost")
		stats := r.Stats()
		require.Equal(t, int64(1), stats.WriteBackLost)
		require.Equal(t, int64(1), stats.ReinstallRequired)
		require.Equal(t, 1, e.logs.count("rotation: write-back lost"))
		noSecrets(t, "error", err.Error())
		noSecrets(t, "log", e.logs.String())
	})
}

// TestIntentIsRemovedOnceStored: a successful refresh leaves no intent: the
// same refresh token, refreshed again, is not reported as a lost answer.
func TestIntentIsRemovedOnceStored(t *testing.T) {
	e := newEnv(t)
	e.backend = e.store
	inst := e.installOn("T0INT", -time.Minute)
	r := e.refresher(nil)
	_, err := r.Authorize(context.Background(), installstore.Query{TeamID: "T0INT"})
	require.NoError(t, err)
	name := r.intentName(installstore.Query{TeamID: "T0INT"}, partBot, inst.Bot.RefreshToken)
	require.ErrorIs(t, e.store.ConsumeNonce(context.Background(), name), installstore.ErrNotFound)
	require.NotContains(t, name, inst.Bot.RefreshToken.Reveal())
}
