package crypto_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestConformanceRecordCache(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		return newStore(t, memory.New(), keys, crypto.WithDataKeyCache(time.Minute, 100), crypto.WithRecordCache(time.Minute, 100))
	})
}

// reads counts the backend's fetches, and can fail them or run a hook
// after reading.
type reads struct {
	*memory.Store
	n         atomic.Int64
	fail      atomic.Pointer[error]
	afterRead func()
}

func (r *reads) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	r.n.Add(1)
	if err := r.fail.Load(); err != nil {
		return nil, *err
	}
	inst, err := r.Store.FetchInstallation(ctx, q)
	if r.afterRead != nil {
		r.afterRead()
	}
	return inst, err
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCached(t *testing.T, inner installstore.FullStore, keys crypto.KeyProvider, c *clock, recordAge time.Duration) *crypto.Store {
	return newStore(t, inner, keys, crypto.WithClock(c.Now), crypto.WithDataKeyCache(time.Minute, 1000), crypto.WithRecordCache(recordAge, 100))
}

func TestRecordCacheServesFreshCopies(t *testing.T) {
	c := newClock()
	inner := &reads{Store: memory.New()}
	keys := &counting{KeyProvider: keyring(t, "k1", "k1")}
	s := newCached(t, inner, keys, c, 30*time.Second)
	want := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, s.StoreInstallation(bg, want.Clone()))
	q := installstore.Query{TeamID: "T1", UserID: "U1"}

	first, err := s.FetchInstallation(bg, q)
	require.NoError(t, err)
	inner.n.Store(0)
	for range 10 {
		got, err := s.FetchInstallation(bg, q)
		require.NoError(t, err)
		storetest.Equal(t, first, got)
		got.Bot.Token = installstore.NewSecret("xoxb-test-mutated") // a copy: the cache is not changed
		got.Bot.Scopes[0] = "mutated"
	}
	require.Zero(t, inner.n.Load(), "served from the cache")
	got, _ := s.FetchInstallation(bg, q)
	storetest.Equal(t, first, got)

	c.Advance(30 * time.Second)
	_, err = s.FetchInstallation(bg, q)
	require.NoError(t, err)
	require.EqualValues(t, 1, inner.n.Load(), "expired after maxAge: read again")
	_, err = s.FetchInstallation(bg, q)
	require.NoError(t, err)
	require.EqualValues(t, 1, inner.n.Load(), "and cached again")

	// A fresh read bypasses the cache.
	_, err = s.FetchInstallation(crypto.WithFreshRead(bg), q)
	require.NoError(t, err)
	require.EqualValues(t, 2, inner.n.Load())
}

func TestRecordCacheNeverOutlivesTheDataKey(t *testing.T) {
	srv, client := newKMS(t)
	key := srv.CreateKey("k")
	keys, err := crypto.NewKMS(client, key.ID)
	require.NoError(t, err)
	c := newClock()
	backend := memory.New()
	require.NoError(t, newStore(t, backend, keys).StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	s := newCached(t, backend, keys, c, time.Minute) // data keys live a minute too
	q := installstore.Query{TeamID: "T1"}
	_, err = s.FetchInstallation(bg, q) // unwraps the data key at 12:00:00
	require.NoError(t, err)

	require.NoError(t, srv.DisableKey(key.ID))
	c.Advance(50 * time.Second)
	_, err = s.FetchInstallation(bg, q)
	require.NoError(t, err, "within maxAge of the unwrap, cached")
	c.Advance(10 * time.Second)
	_, err = s.FetchInstallation(bg, q)
	requirePermanent(t, err) // a minute after the unwrap: the revoked key stops serving
}

func TestRecordCacheInvalidatedByEveryWrite(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	org := installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true}
	for name, write := range map[string]func(s *crypto.Store, v int64) error{
		"store": func(s *crypto.Store, _ int64) error {
			return s.StoreInstallation(bg, storetest.Fixture("E1", "T1", "U1", "new"))
		},
		"update": func(s *crypto.Store, _ int64) error {
			inst, err := s.FetchInstallation(crypto.WithFreshRead(bg), installstore.Query{EnterpriseID: "E1", TeamID: "T1", UserID: "U1"})
			if err != nil {
				return err
			}
			inst.Bot.Token = installstore.NewSecret("xoxb-test-new")
			return s.UpdateInstallation(bg, inst)
		},
		"delete": func(s *crypto.Store, _ int64) error {
			return s.DeleteInstallation(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T1"})
		},
		"delete user": func(s *crypto.Store, _ int64) error {
			return s.DeleteInstallation(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T1", UserID: "U1"})
		},
		"delete bot": func(s *crypto.Store, _ int64) error {
			return s.DeleteBot(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T1"})
		},
		"delete if": func(s *crypto.Store, v int64) error {
			return s.DeleteInstallationIf(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T1"}, v)
		},
		"delete bot if": func(s *crypto.Store, v int64) error {
			return s.DeleteBotIf(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T1"}, v)
		},
		"org-wide install": func(s *crypto.Store, _ int64) error {
			return s.StoreInstallation(bg, storetest.OrgFixture("E1", "U9", "new"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			inner := &reads{Store: memory.New()}
			s := newCached(t, inner, keys, c, time.Minute)
			// The standalone team (its Grid-migration predecessor is gone once E1:T1 is stored),
			// E1:T1 and its user, a workspace served by the org-wide install, and the org.
			require.NoError(t, s.StoreInstallation(bg, storetest.OrgFixture("E1", "U8", "org")))
			inst := storetest.Fixture("E1", "T1", "U1", "a")
			require.NoError(t, s.StoreInstallation(bg, inst))
			qs := []installstore.Query{
				{EnterpriseID: "E1", TeamID: "T1"}, {EnterpriseID: "E1", TeamID: "T1", UserID: "U1"},
				{EnterpriseID: "E1", TeamID: "T5"}, org,
			}
			before := map[installstore.Query]*installstore.Installation{}
			for _, q := range qs {
				got, err := s.FetchInstallation(bg, q)
				require.NoError(t, err, "%+v", q)
				before[q] = got
			}
			require.NoError(t, write(s, inst.Version))
			for _, q := range qs {
				want, wantErr := newStore(t, inner.Store, keys).FetchInstallation(bg, q) // the backend's truth
				got, err := s.FetchInstallation(bg, q)
				if wantErr != nil {
					require.ErrorIs(t, err, installstore.ErrNotFound, "%+v", q)
					continue
				}
				require.NoError(t, err, "%+v", q)
				storetest.Equal(t, want, got, "%+v: the cache shows what the backend holds", q)
			}
		})
	}
}

func TestRecordCacheNeverServesAFailure(t *testing.T) {
	c := newClock()
	inner := &reads{Store: memory.New()}
	s := newCached(t, inner, keyring(t, "k1", "k1"), c, 10*time.Second)
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	q := installstore.Query{TeamID: "T1"}
	_, err := s.FetchInstallation(bg, q)
	require.NoError(t, err)

	down := fmtErr("backend: fetch tenant T1: %w", installstore.ErrUnavailable)
	inner.fail.Store(&down)
	c.Advance(10 * time.Second)
	got, err := s.FetchInstallation(bg, q)
	require.ErrorIs(t, err, installstore.ErrUnavailable, "expired: the backend is asked, and its failure returned")
	require.Nil(t, got)
	inner.fail.Store(nil)

	// Errors are not cached.
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T2"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "a")))
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T2"})
	require.NoError(t, err)
}

func TestRecordCacheKeepsOutAReadThatRacedAWrite(t *testing.T) {
	c := newClock()
	inner := &reads{Store: memory.New()}
	s := newCached(t, inner, keyring(t, "k1", "k1"), c, time.Minute)
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "old")))
	q := installstore.Query{TeamID: "T1"}
	// The read returns the old record; a write lands before it is cached.
	once := sync.Once{}
	inner.afterRead = func() {
		once.Do(func() { require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "new"))) })
	}
	got, err := s.FetchInstallation(bg, q)
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-old"), got.Bot.Token, "the read saw the old record")
	got, err = s.FetchInstallation(bg, q)
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-new"), got.Bot.Token, "and did not cache it")
}

func TestRecordCacheAnotherReplicasWrite(t *testing.T) {
	c := newClock()
	backend := memory.New()
	keys := keyring(t, "k1", "k1")
	here, there := newCached(t, backend, keys, c, 5*time.Second), newStore(t, backend, keys)
	require.NoError(t, here.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	q := installstore.Query{TeamID: "T1"}
	_, err := here.FetchInstallation(bg, q)
	require.NoError(t, err)
	require.NoError(t, there.DeleteInstallation(bg, q)) // uninstalled through another replica

	got, err := here.FetchInstallation(bg, q)
	require.NoError(t, err, "as documented: served until it expires")
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
	_, err = here.FetchInstallation(crypto.WithFreshRead(bg), q)
	require.ErrorIs(t, err, installstore.ErrNotFound, "a fresh read sees the uninstall")
	c.Advance(5 * time.Second)
	_, err = here.FetchInstallation(bg, q)
	require.ErrorIs(t, err, installstore.ErrNotFound)
}

func TestRecordCacheOptions(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	for name, opts := range map[string][]crypto.Option{
		"no data-key cache":     {crypto.WithRecordCache(time.Second, 10)},
		"longer than data keys": {crypto.WithDataKeyCache(time.Second, 10), crypto.WithRecordCache(time.Minute, 10)},
		"zero age":              {crypto.WithDataKeyCache(time.Minute, 10), crypto.WithRecordCache(0, 10)},
		"zero entries":          {crypto.WithDataKeyCache(time.Minute, 10), crypto.WithRecordCache(time.Second, 0)},
	} {
		s, err := crypto.NewStore(memory.New(), keys, opts...)
		require.ErrorIs(t, err, installstore.ErrInvalid, name)
		require.Nil(t, s, name)
	}
}

func TestRecordCacheBoundedInEntries(t *testing.T) {
	c := newClock()
	inner := &reads{Store: memory.New()}
	s := newStore(t, inner, keyring(t, "k1", "k1"), crypto.WithClock(c.Now), crypto.WithDataKeyCache(time.Minute, 1000), crypto.WithRecordCache(time.Minute, 3))
	teams := []string{"T1", "T2", "T3", "T4", "T5"}
	for _, team := range teams {
		require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", team, "U1", "a")))
	}
	for range 3 {
		for _, team := range teams {
			_, err := s.FetchInstallation(bg, installstore.Query{TeamID: team})
			require.NoError(t, err)
		}
	}
	require.Greater(t, inner.n.Load(), int64(5), "five tenants never fit in three entries")
}

// TestRecordCacheCopiesShareNothing: every shape of installation (with and
// without bot, user scopes and webhook; scope lists from empty to past the
// one-allocation copy's room) is served as a copy that shares nothing with
// the cache or with another copy: a caller that writes into every field,
// overwrites scopes or appends to them changes neither the next caller's
// copy nor the other scope list of its own.
func TestRecordCacheCopiesShareNothing(t *testing.T) {
	scopes := func(prefix string, n int) []string {
		if n < 0 {
			return nil
		}
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("%s:%d", prefix, i)
		}
		return s
	}
	c := newClock()
	s := newCached(t, memory.New(), keyring(t, "k1", "k1"), c, time.Minute)
	n := 0
	for _, bot := range []bool{true, false} {
		for _, hook := range []bool{true, false} {
			for _, counts := range [][2]int{{-1, -1}, {0, 0}, {1, -1}, {2, 1}, {3, 3}, {7, 0}, {12, 20}, {40, 24}, {70, 3}} {
				n++
				team := fmt.Sprintf("T%d", n)
				inst := storetest.Fixture("", team, "U1", "a")
				inst.User.Scopes = scopes("user", counts[1])
				if bot {
					inst.Bot.Scopes = scopes("bot", counts[0])
				} else {
					inst.Bot = nil
				}
				if !hook {
					inst.IncomingWebhook = nil
				}
				name := fmt.Sprintf("bot=%t hook=%t scopes=%v", bot, hook, counts)
				require.NoError(t, s.StoreInstallation(bg, inst.Clone()), name)
				q := installstore.Query{TeamID: team}
				want, err := s.FetchInstallation(bg, q) // fills the cache
				require.NoError(t, err, name)
				got, err := s.FetchInstallation(bg, q)
				require.NoError(t, err, name)
				storetest.Equal(t, want, got, name)
				require.Equal(t, want.User.Scopes == nil, got.User.Scopes == nil, "%s: nil stays nil, empty stays empty", name)

				// The caller writes everywhere.
				got.TeamName, got.User.ID, got.User.Token = "mutated", "U9", installstore.NewSecret("xoxp-test-mutated")
				userScopes := slices.Clone(got.User.Scopes)
				if got.Bot != nil {
					require.Equal(t, want.Bot.Scopes == nil, got.Bot.Scopes == nil, "%s: nil stays nil, empty stays empty", name)
					got.Bot.Token, got.Bot.ID = installstore.NewSecret("xoxb-test-mutated"), "B9"
					for i := range got.Bot.Scopes {
						got.Bot.Scopes[i] = "mutated"
					}
					got.Bot.Scopes = append(got.Bot.Scopes, "appended", "appended")
					require.Equal(t, userScopes, got.User.Scopes, "%s: appending to the bot's scopes leaves the user's alone", name)
				}
				for i := range got.User.Scopes {
					got.User.Scopes[i] = "mutated"
				}
				got.User.Scopes = append(got.User.Scopes, "appended")
				if got.IncomingWebhook != nil {
					got.IncomingWebhook.URL, got.IncomingWebhook.Channel = installstore.NewSecret("https://hooks.slack.invalid/mutated"), "#mutated"
				}

				again, err := s.FetchInstallation(bg, q)
				require.NoError(t, err, name)
				storetest.Equal(t, want, again, "%s: the next caller's copy is untouched", name)
			}
		}
	}
}

// TestRecordCacheExpiresOnTheRealClock is TestRecordCacheServesFreshCopies's
// expiry with the default clock (time.Now), which the cache reads through
// the monotonic clock: in a synctest bubble, whose time moves only when
// every goroutine sleeps.
func TestRecordCacheExpiresOnTheRealClock(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	synctest.Test(t, func(t *testing.T) {
		inner := &reads{Store: memory.New()}
		s := newStore(t, inner, keys, crypto.WithDataKeyCache(time.Minute, 100), crypto.WithRecordCache(30*time.Second, 100))
		require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
		q := installstore.Query{TeamID: "T1"}
		_, err := s.FetchInstallation(bg, q)
		require.NoError(t, err)
		require.EqualValues(t, 1, inner.n.Load())

		time.Sleep(30*time.Second - time.Nanosecond)
		_, err = s.FetchInstallation(bg, q)
		require.NoError(t, err)
		require.EqualValues(t, 1, inner.n.Load(), "fresh: served from the cache")

		time.Sleep(time.Nanosecond)
		_, err = s.FetchInstallation(bg, q)
		require.NoError(t, err)
		require.EqualValues(t, 2, inner.n.Load(), "maxAge after the read: read again")

		// The data key, cached since the first read, expires before this entry would.
		time.Sleep(30 * time.Second)
		_, err = s.FetchInstallation(bg, q)
		require.NoError(t, err)
		require.EqualValues(t, 3, inner.n.Load(), "the data key's maxAge bounds the entry")
	})
}

// TestRecordCacheChurnShowsTheBackend: a cache far smaller than its
// tenants, under a long random sequence of fetches, re-installs and
// uninstalls through the layer (evictions, removals and rebuilds of its
// table), always answers what the backend holds.
func TestRecordCacheChurnShowsTheBackend(t *testing.T) {
	c := newClock()
	backend := memory.New()
	keys := keyring(t, "k1", "k1")
	s := newStore(t, backend, keys, crypto.WithClock(c.Now), crypto.WithDataKeyCache(time.Hour, 1000), crypto.WithRecordCache(time.Minute, 8))
	truth := newStore(t, backend, keys)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 6000 {
		team, user := fmt.Sprintf("T%d", r.IntN(40)), fmt.Sprintf("U%d", r.IntN(3))
		q := installstore.Query{TeamID: team}
		if r.IntN(2) == 0 {
			q.UserID = user
		}
		switch op := r.IntN(10); {
		case op == 0:
			require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", team, user, fmt.Sprint(i))))
		case op == 1:
			err := s.DeleteInstallation(bg, q)
			require.True(t, err == nil || errors.Is(err, installstore.ErrNotFound), "%v", err)
		case op == 2:
			c.Advance(time.Duration(r.IntN(20)) * time.Second)
		default:
			want, wantErr := truth.FetchInstallation(bg, q)
			got, err := s.FetchInstallation(bg, q)
			if wantErr != nil {
				require.ErrorIs(t, err, installstore.ErrNotFound, "step %d %+v", i, q)
				continue
			}
			require.NoError(t, err, "step %d %+v", i, q)
			storetest.Equal(t, want, got, "step %d %+v", i, q)
		}
	}
}

// TestRecordCacheConcurrentReadersSeeEveryFinishedWrite: readers racing
// writers through the layer never get a record older than the last write
// that finished before their read began.
func TestRecordCacheConcurrentReadersSeeEveryFinishedWrite(t *testing.T) {
	s := newStore(t, memory.New(), keyring(t, "k1", "k1"), crypto.WithDataKeyCache(time.Hour, 1000), crypto.WithRecordCache(time.Minute, 4))
	const teams, writes = 6, 150
	var done [teams]atomic.Int64 // the last tag stored, per team
	for i := range teams {
		require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "0")))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range teams {
		wg.Go(func() {
			for tag := int64(1); tag <= writes; tag++ {
				if err := s.StoreInstallation(bg, storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", fmt.Sprint(tag))); err != nil {
					t.Error(err)
					return
				}
				done[i].Store(tag)
			}
		})
	}
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := n % teams
				before := done[i].Load()
				got, err := s.FetchInstallation(bg, installstore.Query{TeamID: fmt.Sprintf("T%d", i)})
				if err != nil {
					t.Error(err)
					return
				}
				var tag int64
				_, err = fmt.Sscanf(got.Bot.Token.Reveal(), fmt.Sprintf("xoxb-test-T%d-%%d", i), &tag)
				if err != nil || tag < before {
					t.Errorf("T%d: read tag %d (%v) after tag %d was stored", i, tag, err, before)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
}

// refusing is a key provider whose GenerateDataKey fails while refuse is set.
type refusing struct {
	crypto.KeyProvider
	refuse atomic.Bool
}

func (r *refusing) GenerateDataKey(ctx context.Context, t installstore.Tenant) (*crypto.DataKey, error) {
	if r.refuse.Load() {
		return nil, fmt.Errorf("kms: %w", installstore.ErrUnavailable)
	}
	return r.KeyProvider.GenerateDataKey(ctx, t)
}

// TestRecordCacheInvalidatedByAFailedSeal: a write that fails before it
// reaches the backend (its data key could not be made) invalidates the
// tenant's entries too, as the godoc says of every write: the next fetch
// reads the backend, which still holds the record before the write.
func TestRecordCacheInvalidatedByAFailedSeal(t *testing.T) {
	c := newClock()
	inner := &reads{Store: memory.New()}
	keys := &refusing{KeyProvider: keyring(t, "k1", "k1")}
	s := newStore(t, inner, keys, crypto.WithClock(c.Now), crypto.WithDataKeyCache(time.Minute, 1), crypto.WithRecordCache(time.Minute, 100))
	q := installstore.Query{TeamID: "T1"}
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	for range 2 {
		_, err := s.FetchInstallation(bg, q)
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, inner.n.Load(), "cached")

	keys.refuse.Store(true)
	err := s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "b"))
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	got, err := s.FetchInstallation(bg, q)
	require.NoError(t, err)
	require.EqualValues(t, 2, inner.n.Load(), "the failed write invalidated the entry")
	require.True(t, got.Bot.Token.Equal(installstore.NewSecret("xoxb-test-T1-a")), "the backend's record, before the write")
}
