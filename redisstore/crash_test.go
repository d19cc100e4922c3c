package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/redisstore"
)

// quietLogger drops go-redis's log lines (one per refused dial while the
// server is down).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietLogger{}) }

// tagOf returns n of a token "xox?-test-...-<n>".
func tagOf(t *testing.T, s installstore.Secret) int {
	t.Helper()
	v := s.Reveal()
	n, err := strconv.Atoi(v[strings.LastIndexByte(v, '-')+1:])
	require.NoError(t, err, "token %s", v)
	return n
}

// TestKillDuringStormLosesNoAcknowledgedWrite: redis-server (AOF,
// appendfsync always) is killed with SIGKILL in the middle of concurrent
// stores, updates and fetches, and restarted on the same port and dir.
// Every call during the outage fails with ErrUnavailable; no fetch ever
// returns a value older than the last acknowledged write, nor a tenant
// whose latest record and user record disagree; after the restart every
// acknowledged write is there, and every tenant's history entry (history
// is on) is that of a store at least as new as the last acknowledged one,
// and no newer than the record.
func TestKillDuringStormLosesNoAcknowledgedWrite(t *testing.T) {
	srv := redistest.StartServer(t, "--appendfsync", "always")
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialerRetries: 1, DialTimeout: 200 * time.Millisecond, MaxRetries: 1, PoolSize: 32})
	defer client.Close()
	s, err := redisstore.New(client, redisstore.WithPlaintextSecrets(), redisstore.WithKeyPrefix("crash"), redisstore.WithHistory())
	require.NoError(t, err)

	const workers, tenantsPer = 8, 4
	type tenantState struct{ acked, attempted, stored int }
	var (
		acked, unavailable atomic.Int64
		stop               atomic.Bool
		mu                 sync.Mutex
		state              = map[string]*tenantState{}
	)
	team := func(w, k int) string { return fmt.Sprintf("TW%dK%d", w, k) }
	for w := range workers {
		for k := range tenantsPer {
			state[team(w, k)] = &tenantState{}
		}
	}
	// check asserts what a fetch of team returned against what it wrote.
	check := func(t *testing.T, tm string, latest, user *installstore.Installation) {
		mu.Lock()
		st := *state[tm]
		mu.Unlock()
		for _, inst := range []*installstore.Installation{latest, user} {
			n := tagOf(t, inst.Bot.Token)
			require.GreaterOrEqual(t, n, st.acked, "tenant %s: a fetch returned a write older than the last acknowledged one", tm)
			require.LessOrEqual(t, n, st.attempted, "tenant %s: a fetch returned a write never made", tm)
			require.Equal(t, n, tagOf(t, inst.User.Token), "tenant %s: bot and user token of different writes", tm)
		}
		require.Equal(t, tagOf(t, latest.Bot.Token), tagOf(t, user.Bot.Token), "tenant %s: the latest and the user record disagree", tm)
		require.Equal(t, latest.Version, user.Version)
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for n := 1; !stop.Load(); n++ {
				tm := team(w, n%tenantsPer)
				mu.Lock()
				state[tm].attempted = n
				mu.Unlock()
				var err error
				if n%3 == 0 {
					// A refresh: fetch, then a conditional update of both tokens.
					var cur *installstore.Installation
					if cur, err = s.FetchInstallation(ctx, installstore.Query{TeamID: tm, UserID: "U1"}); err == nil {
						cur.Bot.Token = installstore.NewSecret(fmt.Sprintf("xoxb-test-%s-%d", tm, n))
						cur.User.Token = installstore.NewSecret(fmt.Sprintf("xoxp-test-%s-U1-%d", tm, n))
						err = s.UpdateInstallation(ctx, cur)
					}
				} else {
					inst := storetest.Fixture("", tm, "U1", strconv.Itoa(n))
					err = s.StoreInstallation(ctx, inst)
				}
				switch {
				case err == nil:
					mu.Lock()
					state[tm].acked = n
					if n%3 != 0 {
						state[tm].stored = n
					}
					mu.Unlock()
					acked.Add(1)
				case errors.Is(err, installstore.ErrUnavailable):
					unavailable.Add(1)
					continue
				case errors.Is(err, installstore.ErrNotFound):
					continue // the first write of the tenant failed: nothing to refresh yet
				default:
					errs <- fmt.Errorf("worker %d write %d: %w", w, n, err)
					return
				}
				latest, err1 := s.FetchInstallation(ctx, installstore.Query{TeamID: tm})
				user, err2 := s.FetchInstallation(ctx, installstore.Query{TeamID: tm, UserID: "U1"})
				if err1 != nil || err2 != nil {
					for _, err := range []error{err1, err2} {
						if err != nil && !errors.Is(err, installstore.ErrUnavailable) {
							errs <- fmt.Errorf("worker %d fetch %s: %w", w, tm, err)
							return
						}
					}
					unavailable.Add(1)
					continue
				}
				check(t, tm, latest, user)
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		for i := 0; !cond(); i++ {
			select {
			case err := <-errs:
				t.Fatal(err)
			default:
			}
			require.Less(t, i, 6000, "waiting for %s", what)
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("writes before the kill", func() bool { return acked.Load() >= 300 })
	srv.Kill()
	before := acked.Load()
	waitFor("calls during the outage", func() bool { return unavailable.Load() >= 50 })
	require.LessOrEqual(t, acked.Load()-before, int64(workers), "only writes in flight at the kill may have been acknowledged after it")
	srv.Start()
	restarted := acked.Load()
	waitFor("writes after the restart", func() bool { return acked.Load() >= restarted+300 })
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// One more restart with no writer running: every acknowledged write is
	// read back from the append-only file.
	srv.Kill()
	srv.Start()
	ctx := context.Background()
	for tm := range state {
		latest, err := s.FetchInstallation(ctx, installstore.Query{TeamID: tm})
		require.NoError(t, err, "tenant %s", tm)
		user, err := s.FetchInstallation(ctx, installstore.Query{TeamID: tm, UserID: "U1"})
		require.NoError(t, err, "tenant %s", tm)
		check(t, tm, latest, user)
		hs := storetest.History(t, s, installstore.Query{TeamID: tm})
		require.Len(t, hs, 1, "tenant %s: every store of the same install replaces its one entry", tm)
		n := tagOf(t, hs[0].Bot.Token)
		require.GreaterOrEqual(t, n, state[tm].stored, "tenant %s: the history entry is older than the last acknowledged store", tm)
		require.LessOrEqual(t, n, tagOf(t, latest.Bot.Token), "tenant %s: the history entry is newer than the record", tm)
		require.LessOrEqual(t, hs[0].Version, latest.Version)
		if n == tagOf(t, latest.Bot.Token) {
			require.Equal(t, latest.Version, hs[0].Version, "tenant %s: the record and its entry come from one write", tm)
		}
	}
	t.Logf("acknowledged writes %d, calls refused as unavailable %d", acked.Load(), unavailable.Load())
}
