package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
)

// findKey returns the one key of prefix ending in suffix, and the client of
// its node.
func findKey(t *testing.T, client redis.UniversalClient, prefix, suffix string) (redis.Cmdable, string) {
	t.Helper()
	var node redis.Cmdable
	var found []string
	require.NoError(t, redistest.EachKey(context.Background(), client, prefix, func(c redis.Cmdable, key string) error {
		if strings.HasSuffix(key, suffix) {
			node, found = c, append(found, key)
		}
		return nil
	}))
	require.Len(t, found, 1, "keys ending in %q", suffix)
	return node, found[0]
}

// TestCorruptRecordsAreContained: whatever a tenant's key holds, a fetch
// of the damaged record gives ErrCorrupt (never another tenant's or a
// half record), a listing goes past it and names it, other tenants are
// unaffected, and deleting the tenant removes it and its index entries.
func TestCorruptRecordsAreContained(t *testing.T) {
	// T1 is installed by U1, then by U2: U2's installation is the latest
	// one, U1's is kept on its own.
	latest := installstore.Query{TeamID: "T1"}
	latestUser := installstore.Query{TeamID: "T1", UserID: "U2"}
	user := installstore.Query{TeamID: "T1", UserID: "U1"}
	corruptions := []struct {
		name    string
		damage  func(ctx context.Context, c redis.Cmdable, key string) error
		corrupt []installstore.Query // fetches that give ErrCorrupt
	}{
		{"latest record not JSON", hset("lrec", "{not json"), []installstore.Query{latest, latestUser}},
		{"latest record of another tenant", hset("lrec", `{"team":"T2"}`), []installstore.Query{latest, latestUser}},
		{"latest installer not JSON", hset("luser", "]"), []installstore.Query{latest, latestUser}},
		{"latest record missing", hdel("lrec"), []installstore.Query{latest, latestUser}},
		{"latest installer of another user", hset("luser", `{"id":"U3"}`), []installstore.Query{latestUser}},
		{"bad install time", hset("lrec", `{"team":"T1","at":"yesterday"}`), []installstore.Query{latest, latestUser}},
		{"Version not a number", hset("v", "seven"), []installstore.Query{latest, latestUser, user}},
		{"Version missing", hdel("v"), []installstore.Query{latest, latestUser, user}},
		{"bot not JSON", hset("bot", "xoxb-test-raw-secret"), []installstore.Query{latest, latestUser, user}},
		{"user record not JSON", hset("r:U1", "{"), []installstore.Query{user}},
		{"user record of another user", hset("p:U1", `{"id":"U2"}`), []installstore.Query{user}},
		{"user of another tenant", hset("r:U1", `{"team":"T9"}`), []installstore.Query{user}},
		{"user record without user", hdel("p:U1"), []installstore.Query{user}},
		{"user not JSON", hset("p:U1", "xoxp-test-raw-secret"), []installstore.Query{user}},
		{"key holds a string", func(ctx context.Context, c redis.Cmdable, key string) error {
			return c.Set(ctx, key, "xoxb-test-raw-secret", 0).Err()
		}, []installstore.Query{latest, latestUser, user}},
		{"key holds a list", func(ctx context.Context, c redis.Cmdable, key string) error {
			if err := c.Del(ctx, key).Err(); err != nil {
				return err
			}
			return c.RPush(ctx, key, "x").Err()
		}, []installstore.Query{latest, latestUser, user}},
	}
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			for _, tc := range corruptions {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					s, prefix := newPlain(t, client)
					due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
					for _, team := range []string{"T1", "T2"} {
						for _, u := range []string{"U1", "U2"} {
							inst := storetest.Fixture("", team, u, "a")
							inst.Bot.ExpiresAt, inst.User.ExpiresAt = due, due
							require.NoError(t, s.StoreInstallation(ctx, inst))
						}
					}
					node, key := findKey(t, client, prefix, ":t::T1")
					require.NoError(t, tc.damage(ctx, node, key))

					for _, q := range tc.corrupt {
						got, err := s.FetchInstallation(ctx, q)
						require.ErrorIs(t, err, installstore.ErrCorrupt, "fetch %+v", q)
						require.NotErrorIs(t, err, installstore.ErrUnavailable)
						require.Nil(t, got)
						require.NotContains(t, err.Error(), "xox", "the error quotes a value")
					}
					other, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T2", UserID: "U1"})
					require.NoError(t, err, "another tenant is unaffected")
					require.Equal(t, installstore.NewSecret("xoxb-test-T2-a"), other.Bot.Token)

					listed := map[installstore.Query]bool{}
					err = s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
						listed[q] = true
						require.Equal(t, q.TeamID, inst.TeamID)
						return nil
					})
					require.ErrorIs(t, err, installstore.ErrCorrupt)
					require.Contains(t, err.Error(), "tenant T1")
					require.NotContains(t, err.Error(), "xox")
					for _, q := range []installstore.Query{{TeamID: "T2"}, {TeamID: "T2", UserID: "U1"}, {TeamID: "T2", UserID: "U2"}} {
						require.True(t, listed[q], "the listing goes past the corrupt records to %+v: %v", q, listed)
					}
					for _, q := range tc.corrupt {
						require.False(t, listed[q], "a corrupt record is never handed out: %+v", q)
					}

					require.NoError(t, s.DeleteInstallation(ctx, latest), "a corrupt tenant can be deleted")
					_, err = s.FetchInstallation(ctx, latest)
					require.ErrorIs(t, err, installstore.ErrNotFound)
					require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }))
					dueNow := map[installstore.Query]bool{}
					require.NoError(t, s.ListDue(ctx, due, func(q installstore.Query, _ time.Time) error { dueNow[q] = true; return nil }))
					require.Equal(t, map[installstore.Query]bool{{TeamID: "T2"}: true, {TeamID: "T2", UserID: "U1"}: true, {TeamID: "T2", UserID: "U2"}: true}, dueNow, "the deleted tenant left the due index")
					// A re-install works over what is left.
					require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "b")))
					_, err = s.FetchInstallation(ctx, user)
					require.NoError(t, err)
				})
			}
		})
	}
}

func hset(field, value string) func(ctx context.Context, c redis.Cmdable, key string) error {
	return func(ctx context.Context, c redis.Cmdable, key string) error {
		return c.HSet(ctx, key, field, value).Err()
	}
}

func hdel(field string) func(ctx context.Context, c redis.Cmdable, key string) error {
	return func(ctx context.Context, c redis.Cmdable, key string) error { return c.HDel(ctx, key, field).Err() }
}

// TestCorruptKeysOverwriteNothing: a user delete, a bot delete and a store
// over a tenant whose key holds another type work (the key goes or is
// replaced), and an index key of another type stops a write before it
// writes anything.
func TestCorruptKeysOverwriteNothing(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			client := d.client(t)
			s, prefix := newPlain(t, client)
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
			node, key := findKey(t, client, prefix, ":t::T1")
			require.NoError(t, node.Set(ctx, key, "garbage", 0).Err())
			require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}))
			_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
			require.ErrorIs(t, err, installstore.ErrNotFound, "a user delete of an unreadable tenant removes it")

			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "b")))
			require.NoError(t, node.Set(ctx, key, "garbage", 0).Err())
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "c")), "a store replaces an unreadable key")
			got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
			require.NoError(t, err)
			require.Equal(t, installstore.NewSecret("xoxb-test-T1-c"), got.Bot.Token)

			// The group's due index is not a sorted set: nothing is written.
			before := got.Version
			dnode, dkey := findKey(t, client, prefix, ":due")
			require.NoError(t, dnode.Del(ctx, dkey).Err())
			require.NoError(t, dnode.Set(ctx, dkey, "garbage", 0).Err())
			err = s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "d"))
			require.ErrorIs(t, err, installstore.ErrCorrupt)
			_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"})
			require.ErrorIs(t, err, installstore.ErrNotFound, "a refused script wrote nothing")
			got, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
			require.NoError(t, err)
			require.Equal(t, before, got.Version, "the tenant's Version did not move")
			require.Equal(t, "U1", got.User.ID)
		})
	}
}

// TestCorruptIndexEntriesAreSkipped: index members that name no tenant of
// their group are skipped and reported; the rest is listed.
func TestCorruptIndexEntriesAreSkipped(t *testing.T) {
	ctx := context.Background()
	client := redistest.Client(t)
	s, prefix := newPlain(t, client)
	due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	inst := storetest.Fixture("", "T1", "U1", "a")
	inst.Bot.ExpiresAt, inst.User.ExpiresAt = due, due
	require.NoError(t, s.StoreInstallation(ctx, inst))
	node, dkey := findKey(t, client, prefix, ":due")
	require.NoError(t, node.ZAdd(ctx, dkey, redis.Z{Score: 1, Member: "no-colon"}, redis.Z{Score: 1, Member: ":TOTHERGROUPX"}).Err())
	_, tkey := findKey(t, client, prefix, ":tenants")
	require.NoError(t, node.ZAdd(ctx, tkey, redis.Z{Member: "bad member"}).Err())

	n := 0
	err := s.ListDue(ctx, due, func(installstore.Query, time.Time) error { n++; return nil })
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.Equal(t, 2, n, "the real records are listed")
	skippedN, complete := installstore.CountSkipped(err)
	require.Equal(t, 2, skippedN, "each skipped entry is its own ErrCorrupt: %v", err)
	require.True(t, complete)
	n = 0
	err = s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { n++; return nil })
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.Equal(t, 2, n)
	skippedN, complete = installstore.CountSkipped(err)
	require.Equal(t, 1, skippedN, "%v", err)
	require.True(t, complete)
}
