package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
)

func TestClientIDIsChecked(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, bad := range []string{"", "a:b", "a{b}", "a b", "a@b", strings.Repeat("1", 65)} {
		s, err := New(c, WithClientID(bad))
		require.ErrorIs(t, err, installstore.ErrInvalid, "%q", bad)
		require.Nil(t, s)
	}
	s, err := New(c, WithClientID("1234567890.0987654321"), WithKeyPrefix("app"))
	require.NoError(t, err)
	require.Equal(t, "1234567890.0987654321", s.ClientID())
	var scoped installstore.AppScoped = s
	require.Equal(t, "1234567890.0987654321", scoped.ClientID())
}

// TestKeyLayoutOfApps: an unscoped store's keys are exactly those of the
// previous release; a scoped store's hash tags name prefix@clientID, which
// no prefix can spell.
func TestKeyLayoutOfApps(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	plain, err := New(c, WithKeyPrefix("app"))
	require.NoError(t, err)
	scoped, err := New(c, WithKeyPrefix("app"), WithClientID("A1.B2"))
	require.NoError(t, err)
	tn := installstore.Tenant{EnterpriseID: "E1", TeamID: "T1"}
	g := groupOf(tn)
	tag := func(base string) string { return fmt.Sprintf("{%s:%03x}", base, g) }
	require.Equal(t, tag("app")+":t:E1:T1", plain.groupOf(tn).tenant(tn), "the unscoped layout is unchanged")
	require.Equal(t, tag("app")+":seq", plain.groupOf(tn).seq())
	require.Equal(t, tag("app")+":due", plain.groupOf(tn).due())
	require.Equal(t, tag("app")+":tenants", plain.groupOf(tn).tenants())
	require.True(t, strings.HasPrefix(plain.nonceKey("n"), "{app:n:"))
	require.True(t, strings.HasPrefix(plain.leaseKey("l"), "{app:l:"))

	require.Equal(t, tag("app@A1.B2")+":t:E1:T1", scoped.groupOf(tn).tenant(tn))
	require.Equal(t, tag("app@A1.B2")+":h:E1:T1", scoped.groupOf(tn).history(tn))
	require.Equal(t, tag("app@A1.B2")+":hi:E1:T1", scoped.groupOf(tn).historyIndex(tn))
	require.True(t, strings.HasPrefix(scoped.nonceKey("n"), "{app@A1.B2:n:"))
	require.True(t, strings.HasPrefix(scoped.leaseKey("l"), "{app@A1.B2:l:"))
	ks, _ := scoped.tenantKeys(tn)
	for _, k := range ks {
		require.True(t, strings.HasPrefix(k, tag("app@A1.B2")), "every key of a tenant script shares the group's hash tag: %s", k)
	}
}

// TestAppsShareOneKeyspace: two apps and an unscoped store on one key
// prefix, with the same tenants, users, nonces and lease names: each
// fetches, lists, lists as due, deletes, consumes, leases and lists
// history of its own only, on a standalone server and on the Cluster.
func TestAppsShareOneKeyspace(t *testing.T) {
	bothDeployments(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		prefix := redistest.Prefix(t, client)
		ids := []string{"1111.aaaa", "2222.bbbb", ""}
		stores := make([]*Store, len(ids))
		for i, id := range ids {
			opts := []Option{WithKeyPrefix(prefix), WithPlaintextSecrets(), WithHistory()}
			if id != "" {
				opts = append(opts, WithClientID(id))
			}
			s, err := New(client, opts...)
			require.NoError(t, err)
			stores[i] = s
		}
		tag := func(i int) string { return []string{"appA", "appB", "plain"}[i] }
		due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, s := range stores {
			for _, inst := range []*installstore.Installation{
				storetest.Fixture("", "T1", "U1", tag(i)),
				storetest.Fixture("E1", "T2", "U1", tag(i)),
				storetest.OrgFixture("E2", "U1", tag(i)),
			} {
				inst.Bot.ExpiresAt = due.Add(time.Duration(i) * time.Minute)
				require.NoError(t, s.StoreInstallation(ctx, inst))
			}
			require.NoError(t, s.PutNonce(ctx, "state", time.Now().Add(time.Hour)))
			require.NoError(t, s.AcquireLease(ctx, "refresh:T1", tag(i), time.Minute))
		}
		for i, s := range stores {
			got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
			require.NoError(t, err)
			require.Contains(t, got.Bot.Token.Reveal(), tag(i))
			n := 0
			require.NoError(t, s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
				n++
				require.Contains(t, inst.User.Token.Reveal(), tag(i), "%s lists another app's %+v", tag(i), q)
				return nil
			}))
			require.Equal(t, 6, n, "%s lists its 6 records", tag(i))
			dues := 0
			require.NoError(t, s.ListDue(ctx, due.Add(time.Hour), func(q installstore.Query, at time.Time) error {
				dues++
				require.True(t, at.Equal(due.Add(time.Duration(i)*time.Minute)), "%s lists another app's due %+v at %v", tag(i), q, at)
				return nil
			}))
			require.Equal(t, 3, dues)
			hs, err := listHistory(t, s, installstore.Query{TeamID: "T1"})
			require.NoError(t, err)
			require.Len(t, hs, 1)
			require.Contains(t, hs[0].User.Token.Reveal(), tag(i))
			require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld)
		}

		// App A uninstalls T1, consumes its nonce, releases its lease.
		a := stores[0]
		require.NoError(t, a.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
		require.NoError(t, a.ConsumeNonce(ctx, "state"))
		require.NoError(t, a.ReleaseLease(ctx, "refresh:T1", tag(0)))
		require.NoError(t, a.AcquireLease(ctx, "refresh:T1", "next", time.Minute))
		_, err := a.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.ErrorIs(t, err, installstore.ErrNotFound)
		hs, err := listHistory(t, a, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
		require.Empty(t, hs)
		for i, s := range stores[1:] {
			got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
			require.NoError(t, err, "%s keeps T1", tag(i+1))
			require.Contains(t, got.Bot.Token.Reveal(), tag(i+1))
			hs, err := listHistory(t, s, installstore.Query{TeamID: "T1"})
			require.NoError(t, err)
			require.Len(t, hs, 1, "%s keeps its history", tag(i+1))
			require.NoError(t, s.ConsumeNonce(ctx, "state"), "%s's nonce is its own", tag(i+1))
			require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "next", time.Minute), installstore.ErrLeaseHeld)
		}

		// The unscoped store's update with app B's Version never lands in
		// app B's record, and the conditional delete of one app cannot match
		// another's tenant.
		b, plain := stores[1], stores[2]
		fromB, err := b.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T2", UserID: "U1"})
		require.NoError(t, err)
		fromB.User.Token = installstore.NewSecret("xoxp-test-moved")
		err = plain.UpdateInstallation(ctx, fromB)
		require.True(t, errors.Is(err, installstore.ErrConflict) || errors.Is(err, installstore.ErrNotFound), "%v", err)
		require.ErrorIs(t, plain.DeleteInstallationIf(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T2"}, fromB.Version), installstore.ErrConflict)
		got, err := b.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T2", UserID: "U1"})
		require.NoError(t, err)
		require.Contains(t, got.User.Token.Reveal(), tag(1))

		// Every key of the prefix belongs to exactly one of the three.
		require.NoError(t, redistest.EachKey(ctx, client, prefix, func(_ redis.Cmdable, key string) error {
			owners := 0
			for _, base := range []string{"{" + prefix + "@1111.aaaa:", "{" + prefix + "@2222.bbbb:", "{" + prefix + ":"} {
				if strings.HasPrefix(key, base) {
					owners++
				}
			}
			require.Equal(t, 1, owners, "key %s", key)
			return nil
		}))
	})
}
