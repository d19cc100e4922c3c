package crypto_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestWithoutCacheEveryOperationAsksTheProvider(t *testing.T) {
	keys := &counting{KeyProvider: keyring(t, "k1", "k1")}
	s := newStore(t, memory.New(), keys)
	for i := range 3 {
		require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", fmt.Sprint(i))))
	}
	require.EqualValues(t, 3, keys.generated.Load())
	for range 4 {
		_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
	}
	require.EqualValues(t, 4, keys.unwrapped.Load(), "one unwrap per fetch: the record's values share a data key")

	// A record without secrets needs no data key.
	require.NoError(t, s.StoreInstallation(bg, &installstore.Installation{TeamID: "T2"}))
	require.EqualValues(t, 3, keys.generated.Load())

	// A user record whose bot was sealed by a later write holds two data keys.
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U2", "x")))
	keys.unwrapped.Store(0)
	_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	require.EqualValues(t, 2, keys.unwrapped.Load())
}

func TestCacheLimits(t *testing.T) {
	keys := &counting{KeyProvider: keyring(t, "k1", "k1")}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := crypto.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	inner := memory.New()
	s := newStore(t, inner, keys, clock, crypto.WithDataKeyCache(time.Minute, 2))

	// Per tenant: maxUses records per data key.
	for i := range 5 {
		require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", fmt.Sprint(i))))
	}
	require.EqualValues(t, 3, keys.generated.Load(), "5 writes, 2 uses each")
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "a")))
	require.EqualValues(t, 4, keys.generated.Load(), "tenants never share a data key")

	// Reads are served by the writer's keys.
	for range 10 {
		_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
	}
	require.Zero(t, keys.unwrapped.Load())

	// maxAge: the write key is replaced, the read key unwrapped again.
	advance(time.Minute)
	_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.EqualValues(t, 1, keys.unwrapped.Load())
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.EqualValues(t, 1, keys.unwrapped.Load(), "cached again")
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "late")))
	require.EqualValues(t, 5, keys.generated.Load())
}

// TestCacheExpiresOnTheRealClock is TestCacheLimits's maxAge with the
// default clock (time.Now), which the cache reads through the monotonic
// clock: in a synctest bubble, whose time moves only when every goroutine
// sleeps. A data key is used for reads and writes up to maxAge after it
// came from the provider, never at maxAge.
func TestCacheExpiresOnTheRealClock(t *testing.T) {
	keys := &counting{KeyProvider: keyring(t, "k1", "k1")}
	synctest.Test(t, func(t *testing.T) {
		inner := memory.New()
		writer := newStore(t, inner, keys, crypto.WithDataKeyCache(time.Minute, 1000))
		reader := newStore(t, inner, keys, crypto.WithDataKeyCache(time.Minute, 1000))
		write := func(v string) {
			t.Helper()
			require.NoError(t, writer.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", v)))
		}
		read := func() {
			t.Helper()
			_, err := reader.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
			require.NoError(t, err)
		}
		write("a")
		read()
		read()
		require.EqualValues(t, 1, keys.generated.Load())
		require.EqualValues(t, 1, keys.unwrapped.Load(), "the reader unwraps once")

		time.Sleep(time.Minute - time.Nanosecond)
		read()
		write("b") // sealed with the cached write key: the reader's key still opens it
		read()
		require.EqualValues(t, 1, keys.generated.Load(), "just before maxAge: the write key is used")
		require.EqualValues(t, 1, keys.unwrapped.Load(), "just before maxAge: the read key is used")

		time.Sleep(time.Nanosecond)
		read()
		require.EqualValues(t, 2, keys.unwrapped.Load(), "at maxAge: unwrapped again")
		write("c")
		require.EqualValues(t, 2, keys.generated.Load(), "at maxAge: a new write key")
	})
}

func TestCacheCapacity(t *testing.T) {
	keys := &counting{KeyProvider: keyring(t, "k1", "k1")}
	inner := memory.New()
	w := newStore(t, inner, keys)
	for i := range 3 {
		require.NoError(t, w.StoreInstallation(bg, storetest.Fixture("", fmt.Sprint("T", i), "U1", "a")))
	}
	s := newStore(t, inner, keys, crypto.WithDataKeyCache(time.Hour, 10), crypto.WithDataKeyCacheCapacity(2))
	for round := range 3 {
		for i := range 3 {
			_, err := s.FetchInstallation(bg, installstore.Query{TeamID: fmt.Sprint("T", i)})
			require.NoError(t, err, "round %d", round)
		}
	}
	// Three keys never fit in two slots: some are unwrapped again, but never more than once per fetch.
	require.Greater(t, keys.unwrapped.Load(), int64(3))
	require.LessOrEqual(t, keys.unwrapped.Load(), int64(9))
}

func TestCacheConcurrent(t *testing.T) {
	keys := &counting{KeyProvider: keyring(t, "k1", "k1")}
	s := newStore(t, memory.New(), keys, crypto.WithDataKeyCache(time.Hour, 1000), crypto.WithDataKeyCacheCapacity(8))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				team := fmt.Sprint("T", (g+i)%12)
				if i%3 == 0 {
					if err := s.StoreInstallation(bg, storetest.Fixture("", team, "U1", fmt.Sprint(g))); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				got, err := s.FetchInstallation(bg, installstore.Query{TeamID: team})
				if err == nil && got.TeamID != team {
					t.Errorf("got %s for %s", got.TeamID, team)
				}
				if err != nil && !isNotFound(err) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, installstore.ErrNotFound) }

func TestConcurrentMissesShareOneUnwrap(t *testing.T) {
	srv, client := newKMS(t)
	keys, err := crypto.NewKMS(client, srv.CreateKey("k").ID)
	require.NoError(t, err)
	inner := memory.New()
	require.NoError(t, newStore(t, inner, keys).StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	srv.ResetCalls()
	srv.SetLatency(20 * time.Millisecond) // keep the first unwrap in flight while the others arrive

	s := newStore(t, inner, keys, crypto.WithDataKeyCache(time.Hour, 10))
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
			if err != nil || got.Bot.Token.Reveal() != "xoxb-test-T1-a" {
				t.Errorf("fetch: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, srv.Calls("Decrypt"), "32 concurrent cold fetches, one KMS Decrypt")
}

func TestCacheKeepsTheHotTenantsKey(t *testing.T) {
	keys := &counting{KeyProvider: keyring(t, "k1", "k1")}
	inner := memory.New()
	w := newStore(t, inner, keys)
	for i := range 50 {
		require.NoError(t, w.StoreInstallation(bg, storetest.Fixture("", fmt.Sprint("T", i), "U1", "a")))
	}
	s := newStore(t, inner, keys, crypto.WithDataKeyCache(time.Hour, 10), crypto.WithDataKeyCacheCapacity(2))
	keys.unwrapped.Store(0)
	for i := 1; i < 50; i++ {
		for _, team := range []string{"T0", fmt.Sprint("T", i)} { // one hot tenant, a stream of cold ones
			_, err := s.FetchInstallation(bg, installstore.Query{TeamID: team})
			require.NoError(t, err)
		}
	}
	require.EqualValues(t, 1+49, keys.unwrapped.Load(), "the hot tenant's data key is unwrapped once, each cold one once")
}
