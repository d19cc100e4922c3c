package redisstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
)

// bothDeployments runs fn on the standalone server and on the Cluster.
func bothDeployments(t *testing.T, fn func(t *testing.T, client redis.UniversalClient)) {
	for name, client := range map[string]func(testing.TB) redis.UniversalClient{
		"standalone": func(t testing.TB) redis.UniversalClient { return redistest.Client(t) },
		"cluster":    func(t testing.TB) redis.UniversalClient { return redistest.ClusterClient(t) },
	} {
		t.Run(name, func(t *testing.T) { fn(t, client(t)) })
	}
}

func newWith(t *testing.T, client redis.UniversalClient, opts ...Option) *Store {
	t.Helper()
	s, err := New(client, append([]Option{WithKeyPrefix(redistest.Prefix(t, client)), WithPlaintextSecrets()}, opts...)...)
	require.NoError(t, err)
	return s
}

func listHistory(t *testing.T, s *Store, q installstore.Query) ([]*installstore.Installation, error) {
	t.Helper()
	var out []*installstore.Installation
	err := s.ListHistory(context.Background(), q, func(inst *installstore.Installation) error {
		out = append(out, inst)
		return nil
	})
	return out, err
}

// TestEntryFieldsOrderByInstallTime: the field of an entry sorts as its
// install time, at full precision, for any time, and parses back.
func TestEntryFieldsOrderByInstallTime(t *testing.T) {
	base := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 0).UTC(),
		time.Unix(0, 1).UTC(),
		base, base.Add(time.Nanosecond), base.Add(time.Second),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	var fields []string
	for _, at := range times {
		f := entryField(at.In(time.FixedZone("X", 3600)), "U1")
		got, uid, ok := parseEntryField(f)
		require.True(t, ok, f)
		require.Equal(t, "U1", uid)
		require.True(t, got.Equal(at), "%s: %v != %v", f, got, at)
		fields = append(fields, f)
	}
	require.True(t, sort.StringsAreSorted(fields), "fields sort as their times: %v", fields)
	_, uid, ok := parseEntryField(entryField(base, ""))
	require.True(t, ok)
	require.Empty(t, uid)
	for _, bad := range []string{"", "U1", strings.Repeat("0", 24) + "U1", strings.Repeat("g", 24) + ":U1", "80000000000000003b9aca00:U1", strings.Repeat("0", 24) + ":U 1"} {
		_, _, ok := parseEntryField(bad)
		require.False(t, ok, "%q", bad)
	}
}

// TestHistoryOffWritesNothing: without WithHistory, history calls give
// ErrHistoryOff and a store writes no history key.
func TestHistoryOffWritesNothing(t *testing.T) {
	bothDeployments(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		s := newWith(t, client)
		inst := storetest.Fixture("", "T1", "U1", "a")
		require.NoError(t, s.StoreInstallation(ctx, inst))
		_, err := listHistory(t, s, inst.Query())
		require.ErrorIs(t, err, installstore.ErrHistoryOff)
		require.ErrorIs(t, err, installstore.ErrInvalid)
		require.ErrorIs(t, s.PutHistory(ctx, inst), installstore.ErrHistoryOff)
		k := s.groupOf(inst.Tenant())
		n, err := client.Exists(ctx, k.history(inst.Tenant()), k.historyIndex(inst.Tenant())).Result()
		require.NoError(t, err)
		require.Zero(t, n, "history off writes no history key")
	})
}

// TestStoreWithHistoryIsOneWrite: a store whose history keys hold another
// type fails before writing anything (no record, no entry, no index
// entry); concurrent stores each leave exactly their entry, with the
// Version the store returned.
func TestStoreWithHistoryIsOneWrite(t *testing.T) {
	bothDeployments(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		s := newWith(t, client, WithHistory())
		tn := installstore.Tenant{TeamID: "T1"}
		k := s.groupOf(tn)

		// A fault: the history index holds a string.
		require.NoError(t, client.Set(ctx, k.historyIndex(tn), "junk", 0).Err())
		inst := storetest.Fixture("", "T1", "U1", "a")
		err := s.StoreInstallation(ctx, inst)
		require.ErrorIs(t, err, installstore.ErrCorrupt)
		require.NotErrorIs(t, err, installstore.ErrUnavailable)
		require.Contains(t, err.Error(), "store tenant T1")
		require.NotContains(t, err.Error(), "xox")
		_, err = s.FetchInstallation(ctx, inst.Query())
		require.ErrorIs(t, err, installstore.ErrNotFound, "the refused store wrote no record")
		for _, key := range []string{k.tenant(tn), k.history(tn), k.due(), k.tenants(), k.seq()} {
			n, err := client.Exists(ctx, key).Result()
			require.NoError(t, err)
			require.Zero(t, n, "the refused store wrote %s", key)
		}
		_, err = listHistory(t, s, inst.Query())
		require.ErrorIs(t, err, installstore.ErrCorrupt, "a history key of another type is reported")
		require.ErrorIs(t, s.PutHistory(ctx, inst), installstore.ErrCorrupt)

		// Deleting the tenant removes it whatever it holds; then stores work.
		require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
		require.NoError(t, s.StoreInstallation(ctx, inst))

		// A fault of the server: nothing of the call lands.
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
		defer dead.Close()
		ds, err := New(dead, WithKeyPrefix(s.prefix), WithPlaintextSecrets(), WithHistory())
		require.NoError(t, err)
		later := storetest.Fixture("", "T1", "U2", "b")
		later.InstalledAt = later.InstalledAt.Add(time.Hour)
		require.ErrorIs(t, ds.StoreInstallation(ctx, later), installstore.ErrUnavailable)

		// Concurrent stores of one tenant: each acknowledged store has its
		// entry, carrying the Version it returned.
		const writers = 8
		versions := make([]int64, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := storetest.Fixture("", "T1", fmt.Sprintf("UC%d", i), "c")
				w.InstalledAt = w.InstalledAt.Add(time.Duration(i+1) * time.Minute)
				if err := s.StoreInstallation(ctx, w); err != nil {
					t.Error(err)
					return
				}
				versions[i] = w.Version
			}()
		}
		wg.Wait()
		hs, err := listHistory(t, s, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
		require.Len(t, hs, writers+1, "one entry per store, none of the failed ones")
		byUser := map[string]int64{}
		for _, h := range hs {
			byUser[h.User.ID] = h.Version
		}
		for i, v := range versions {
			require.Equal(t, v, byUser[fmt.Sprintf("UC%d", i)], "the entry of writer %d has the Version its store set", i)
		}
		require.NotContains(t, byUser, "U2", "the store that failed left no entry")
	})
}

// TestCorruptHistoryEntriesAreSkipped: entries that do not decode, name
// another user or time, or come from an unknown format are skipped and
// named (tenant, user, never content); the others are listed; deleting
// the tenant removes them all.
func TestCorruptHistoryEntriesAreSkipped(t *testing.T) {
	bothDeployments(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		s := newWith(t, client, WithHistory())
		tn := installstore.Tenant{TeamID: "T1"}
		k := s.groupOf(tn)
		good := storetest.Fixture("", "T1", "U1", "a")
		require.NoError(t, s.StoreInstallation(ctx, good))

		at := good.InstalledAt.Add(time.Hour)
		other := storetest.Fixture("", "T1", "U9", "secret")
		other.InstalledAt = at
		wrongTime := storetest.Fixture("", "T1", "U5", "secret")
		wrongTime.InstalledAt = at.Add(time.Minute)
		future := strings.Replace(encodeEntry(other), `"f":1`, `"f":2`, 1)
		corrupt := map[string]string{
			entryField(at, "U2"):                       `{"f":1,"ver":1,"rec":{"team":"T1","hook":{"url":"xoxb-test-secret`,
			entryField(at, "U3"):                       encodeEntry(other), // names U9
			entryField(at, "U4"):                       future,
			entryField(at.Add(2*time.Minute), "U5"):    encodeEntry(wrongTime),
			entryField(at, "U6"):                       `{"f":1,"ver":1}`,
			"not-an-entry:U7":                          encodeEntry(other),
			entryField(at.Add(3*time.Minute), "UGONE"): "", // index member without entry: left out silently
		}
		for f, v := range corrupt {
			if v != "" {
				require.NoError(t, client.HSet(ctx, k.history(tn), f, v).Err())
			}
			require.NoError(t, client.ZAdd(ctx, k.historyIndex(tn), redis.Z{Member: f}).Err())
		}

		hs, err := listHistory(t, s, installstore.Query{TeamID: "T1"})
		require.ErrorIs(t, err, installstore.ErrCorrupt)
		require.Len(t, hs, 1)
		storetest.Equal(t, good, hs[0])
		msg := err.Error()
		require.Contains(t, msg, "skipped 6 records")
		skippedN, complete := installstore.CountSkipped(err)
		require.Equal(t, 6, skippedN)
		require.True(t, complete)
		for _, u := range []string{"U2", "U3", "U4", "U5", "U6"} {
			require.Contains(t, msg, "user "+u+" at ", "the error names %s's entry", u)
		}
		require.NotContains(t, msg, "xox", "the error quotes no content")
		require.NotContains(t, msg, "secret")

		u3, err := listHistory(t, s, installstore.Query{TeamID: "T1", UserID: "U3"})
		require.ErrorIs(t, err, installstore.ErrCorrupt)
		require.Empty(t, u3)
		u1, err := listHistory(t, s, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.ErrorIs(t, err, installstore.ErrCorrupt, "the index member that is not an entry is reported to every listing")
		require.Len(t, u1, 1)

		require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
		n, err := client.Exists(ctx, k.history(tn), k.historyIndex(tn)).Result()
		require.NoError(t, err)
		require.Zero(t, n, "an uninstall deletes every entry, corrupt or not")
	})
}

// TestHistoryPagesAndUserDeletes: a history of several pages is listed
// whole, newest first, for the tenant and for one user; a user delete
// removes that user's entries only (also of the standalone twin of a
// workspace of an enterprise), and the user delete that leaves the tenant
// with no token purges the rest.
func TestHistoryPagesAndUserDeletes(t *testing.T) {
	bothDeployments(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		s := newWith(t, client, WithHistory())
		base := storetest.Fixture("", "T1", "U1", "a").InstalledAt
		const n = 2*pageSize + 17
		for i := range n {
			e := storetest.Fixture("", "T1", fmt.Sprintf("U%d", i%3), "a")
			e.InstalledAt = base.Add(time.Duration(i) * time.Nanosecond)
			e.Version = int64(i + 1)
			require.NoError(t, s.PutHistory(ctx, e))
		}
		hs, err := listHistory(t, s, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
		require.Len(t, hs, n)
		for i, h := range hs {
			require.Equal(t, int64(n-i), h.Version, "newest first, at nanosecond precision")
		}
		u1, err := listHistory(t, s, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
		require.Len(t, u1, (n+1)/3)

		require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}))
		u1, err = listHistory(t, s, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
		require.Empty(t, u1, "a user delete deletes that user's entries")
		hs, err = listHistory(t, s, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
		require.Len(t, hs, n-(n+1)/3, "and only those")

		// Grid: the standalone twin's history, kept by the migration, loses
		// the user's entries when the user is deleted under the enterprise.
		standalone := storetest.Fixture("", "T5", "U1", "before")
		require.NoError(t, s.StoreInstallation(ctx, standalone))
		standalone2 := storetest.Fixture("", "T5", "U2", "before")
		require.NoError(t, s.StoreInstallation(ctx, standalone2))
		joined := storetest.Fixture("E1", "T5", "U1", "after")
		joined.InstalledAt = joined.InstalledAt.Add(time.Hour)
		require.NoError(t, s.StoreInstallation(ctx, joined))
		require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T5", UserID: "U1"}))
		old, err := listHistory(t, s, installstore.Query{TeamID: "T5"})
		require.NoError(t, err)
		require.Len(t, old, 1)
		require.Equal(t, "U2", old[0].User.ID)

		// A user-only tenant whose last user leaves is gone, history too.
		only := storetest.Fixture("", "T6", "U1", "a")
		only.Bot = nil
		require.NoError(t, s.StoreInstallation(ctx, only))
		e := storetest.Fixture("", "T6", "U2", "restored")
		require.NoError(t, s.PutHistory(ctx, e))
		require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T6", UserID: "U1"}))
		_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T6"})
		require.ErrorIs(t, err, installstore.ErrNotFound)
		left, err := listHistory(t, s, installstore.Query{TeamID: "T6"})
		require.NoError(t, err)
		require.Empty(t, left, "the user delete that drops the tenant purges its history")
	})
}
