package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/redisstore"
)

func TestNewRefusesBadArguments(t *testing.T) {
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer single.Close()
	tests := map[string]struct {
		client redis.UniversalClient
		opts   []redisstore.Option
	}{
		"nil client":             {nil, nil},
		"empty prefix":           {single, []redisstore.Option{redisstore.WithKeyPrefix("")}},
		"brace in prefix":        {single, []redisstore.Option{redisstore.WithKeyPrefix("app{1}")}},
		"glob in prefix":         {single, []redisstore.Option{redisstore.WithKeyPrefix("app*")}},
		"space in prefix":        {single, []redisstore.Option{redisstore.WithKeyPrefix("my app")}},
		"very long prefix":       {single, []redisstore.Option{redisstore.WithKeyPrefix(strings.Repeat("p", 65))}},
		"nil clock":              {single, []redisstore.Option{redisstore.WithClock(nil)}},
		"ring":                   {redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}}), nil},
		"cluster ReadOnly":       {redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ReadOnly: true}), nil},
		"cluster RouteByLatency": {redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, RouteByLatency: true}), nil},
		"cluster RouteRandomly":  {redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, RouteRandomly: true}), nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.client != nil && tt.client != single {
				defer tt.client.Close()
			}
			s, err := redisstore.New(tt.client, tt.opts...)
			require.ErrorIs(t, err, installstore.ErrInvalid)
			require.Nil(t, s)
		})
	}
	s, err := redisstore.New(single, redisstore.WithKeyPrefix("app-1:prod/v2"))
	require.NoError(t, err, "New makes no call to Redis")
	require.NotNil(t, s)
}

func TestPlaintextSecretsAreRefused(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			client := d.client(t)
			prefix := redistest.Prefix(t, client)
			s, err := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
			require.NoError(t, err)
			inst := storetest.Fixture("", "T1", "U1", "a")
			err = s.StoreInstallation(ctx, inst)
			require.ErrorIs(t, err, installstore.ErrInvalid)
			require.Contains(t, err.Error(), "bot.token")
			require.NotContains(t, err.Error(), "xoxb-test")
			require.ErrorIs(t, s.UpdateInstallation(ctx, inst), installstore.ErrInvalid)
			keys, _, _ := rawValues(t, client, prefix)
			require.Empty(t, keys, "a refused write writes nothing")
		})
	}
}

func TestKeyPrefixesIsolateStores(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			client := d.client(t)
			a, _ := newPlain(t, client)
			b, _ := newPlain(t, client)
			inst := storetest.Fixture("", "T1", "U1", "a")
			require.NoError(t, a.StoreInstallation(ctx, inst))
			require.NoError(t, a.PutNonce(ctx, "nonce-1", time.Now().Add(time.Hour)))
			require.NoError(t, a.AcquireLease(ctx, "lease-1", "owner-a", time.Minute))

			_, err := b.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
			require.ErrorIs(t, err, installstore.ErrNotFound)
			require.NoError(t, b.ListInstallations(ctx, func(q installstore.Query, _ *installstore.Installation) error {
				t.Fatalf("store b lists a's record %+v", q)
				return nil
			}))
			require.NoError(t, b.ListDue(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), func(q installstore.Query, _ time.Time) error {
				t.Fatalf("store b lists a's due record %+v", q)
				return nil
			}))
			require.ErrorIs(t, b.ConsumeNonce(ctx, "nonce-1"), installstore.ErrNotFound)
			require.NoError(t, b.AcquireLease(ctx, "lease-1", "owner-b", time.Minute))
			require.NoError(t, b.PutNonce(ctx, "nonce-1", time.Now().Add(time.Hour)))
			require.NoError(t, a.ConsumeNonce(ctx, "nonce-1"), "a's nonce is a's")
		})
	}
}

// TestVersionsSurviveALostCounter: Versions stay above every Version given
// out even when the group's counter key is gone (deleted by hand, or
// evicted under a policy that should not be used).
func TestVersionsSurviveALostCounter(t *testing.T) {
	ctx := context.Background()
	client := redistest.Client(t)
	s, prefix := newPlain(t, client)
	first := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, s.StoreInstallation(ctx, first))
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.NoError(t, redistest.EachKey(ctx, client, prefix, func(c redis.Cmdable, key string) error {
		if strings.HasSuffix(key, ":seq") {
			return c.Del(ctx, key).Err()
		}
		return nil
	}))
	again := storetest.Fixture("", "T1", "U1", "b")
	require.NoError(t, s.StoreInstallation(ctx, again))
	require.Greater(t, again.Version, first.Version)
}

// TestGridMigrationConditionsOnTheExactTenant: a conditional delete names
// one tenant exactly; to purge the standalone record a fetch of (E, T)
// fell back to, the caller names that record's own tenant.
func TestGridMigrationConditionsOnTheExactTenant(t *testing.T) {
	ctx := context.Background()
	s, _ := newPlain(t, redistest.ClusterClient(t))
	grid := installstore.Query{EnterpriseID: "E1", TeamID: "T1"}
	standalone := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, s.StoreInstallation(ctx, standalone))
	seen, err := s.FetchInstallation(ctx, grid)
	require.NoError(t, err)
	require.Equal(t, standalone.Version, seen.Version)

	require.NoError(t, s.DeleteInstallationIf(ctx, grid, seen.Version), "(E1, T1) does not exist: nothing to delete")
	require.NoError(t, s.DeleteBot(ctx, grid))
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err, "the standalone record stays")
	require.NotNil(t, got.Bot)

	own := seen.Query()
	own.UserID = ""
	require.ErrorIs(t, s.DeleteBotIf(ctx, own, seen.Version-1), installstore.ErrConflict)
	require.NoError(t, s.DeleteBotIf(ctx, own, seen.Version))
	got, err = s.FetchInstallation(ctx, grid)
	require.NoError(t, err)
	require.Nil(t, got.Bot, "the record the fetch returned lost its bot")
	require.NoError(t, s.DeleteInstallationIf(ctx, own, got.Version))
	_, err = s.FetchInstallation(ctx, grid)
	require.ErrorIs(t, err, installstore.ErrNotFound)
}

// TestUnreachableServerIsUnavailable: every operation against a server that
// does not answer fails with ErrUnavailable, naming the operation, never a
// secret, and never as not found.
func TestUnreachableServerIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	ctx := context.Background()
	for name, client := range map[string]redis.UniversalClient{
		"standalone": redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1}),
		"cluster":    redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, MaxRedirects: 1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1}),
	} {
		t.Run(name, func(t *testing.T) {
			defer client.Close()
			s, err := redisstore.New(client, redisstore.WithPlaintextSecrets())
			require.NoError(t, err)
			inst := storetest.Fixture("", "T1", "U1", "a")
			q := installstore.Query{TeamID: "T1", UserID: "U1"}
			ops := map[string]func() error{
				"store": func() error { return s.StoreInstallation(ctx, inst.Clone()) },
				"fetch": func() error { _, err := s.FetchInstallation(ctx, q); return err },
				"fetch fallback": func() error {
					_, err := s.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T1"})
					return err
				},
				"update":        func() error { c := inst.Clone(); c.Version = 1; return s.UpdateInstallation(ctx, c) },
				"delete":        func() error { return s.DeleteInstallation(ctx, q) },
				"delete if":     func() error { return s.DeleteInstallationIf(ctx, q, 1) },
				"delete bot":    func() error { return s.DeleteBot(ctx, q) },
				"delete bot if": func() error { return s.DeleteBotIf(ctx, q, 1) },
				"list": func() error {
					return s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil })
				},
				"list due": func() error {
					return s.ListDue(ctx, time.Now(), func(installstore.Query, time.Time) error { return nil })
				},
				"put nonce":     func() error { return s.PutNonce(ctx, "nonce-secret-1", time.Now().Add(time.Hour)) },
				"consume nonce": func() error { return s.ConsumeNonce(ctx, "nonce-secret-1") },
				"acquire lease": func() error { return s.AcquireLease(ctx, "lease", "owner", time.Minute) },
				"release lease": func() error { return s.ReleaseLease(ctx, "lease", "owner") },
			}
			for op, call := range ops {
				err := call()
				require.ErrorIs(t, err, installstore.ErrUnavailable, op)
				require.False(t, errors.Is(err, installstore.ErrNotFound) || errors.Is(err, installstore.ErrCorrupt) || errors.Is(err, installstore.ErrConflict), "%s: %v", op, err)
				require.NotContains(t, err.Error(), "xox", op)
				require.NotContains(t, err.Error(), "nonce-secret", op)
			}
		})
	}
}

// TestCallerCancellationIsNotUnavailable: a cancelled context is the
// caller's; it is not reported as the server's fault.
func TestCallerCancellationIsNotUnavailable(t *testing.T) {
	s, _ := newPlain(t, redistest.Client(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, installstore.ErrUnavailable)
}

// TestUserOnlyTenantLivesWhileAUserTokenDoes: in a tenant without a bot,
// deleting the latest installer keeps the tenant while an earlier user's
// installation holds a user token, and removes it when none does.
func TestUserOnlyTenantLivesWhileAUserTokenDoes(t *testing.T) {
	ctx := context.Background()
	s, _ := newPlain(t, redistest.Client(t))
	install := func(team, user string, token bool) {
		inst := storetest.Fixture("", team, user, "a")
		inst.Bot = nil
		if !token {
			inst.User.Token, inst.User.RefreshToken = installstore.Secret{}, installstore.Secret{}
		}
		require.NoError(t, s.StoreInstallation(ctx, inst))
	}
	install("T1", "U1", true)
	install("T1", "U2", false)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"}))
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err, "U1's token keeps the tenant")
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U1-a"), got.User.Token)

	install("T2", "U1", false)
	install("T2", "U2", true)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T2", UserID: "U2"}))
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "no bot and no user token left")
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T2", UserID: "U1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
}

// TestNestedPrefixesNeverMeet: the keys of a prefix, of prefixes that
// extend it ("p:l", "p:n", "p:lease", "p:001") and of the stores scoped to a
// client ID on them ("p@l", "p:x@n", ...) are disjoint, whatever the lease
// names and nonces.
func TestNestedPrefixesNeverMeet(t *testing.T) {
	ctx := context.Background()
	client := redistest.Client(t)
	base := redistest.Prefix(t, client)
	open := func(prefix, clientID string) *redisstore.Store {
		opts := []redisstore.Option{redisstore.WithKeyPrefix(prefix), redisstore.WithPlaintextSecrets()}
		if clientID != "" {
			opts = append(opts, redisstore.WithClientID(clientID))
		}
		s, err := redisstore.New(client, opts...)
		require.NoError(t, err)
		return s
	}
	outer := open(base, "")
	require.NoError(t, outer.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	for _, name := range []string{"x", "lease:x", "l:x", "n:x"} {
		require.NoError(t, outer.AcquireLease(ctx, name, "outer", time.Minute))
		require.NoError(t, outer.PutNonce(ctx, name, time.Now().Add(time.Hour)))
	}
	for _, ext := range []struct{ prefix, clientID string }{
		{":l", ""}, {":n", ""}, {":lease", ""}, {":001", ""}, {":t", ""},
		{"", "l"}, {"", "n"}, {"", "001"}, {"", "t"}, {":l", "n"}, {":001", "x"},
	} {
		inner := open(base+ext.prefix, ext.clientID)
		what := fmt.Sprintf("prefix %q client %q", ext.prefix, ext.clientID)
		for _, name := range []string{"x", "lease:x", "l:x", "n:x"} {
			require.NoError(t, inner.AcquireLease(ctx, name, "inner", time.Minute), "%s lease %s", what, name)
			require.NoError(t, inner.PutNonce(ctx, name, time.Now().Add(time.Hour)), "%s nonce %s", what, name)
		}
		_, err := inner.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.ErrorIs(t, err, installstore.ErrNotFound)
		require.NoError(t, inner.ListInstallations(ctx, func(q installstore.Query, _ *installstore.Installation) error {
			t.Fatalf("%s lists %+v", what, q)
			return nil
		}))
	}
}
