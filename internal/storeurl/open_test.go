package storeurl

import (
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/postgres"
	"github.com/installvault/installvault/redisstore"
	"github.com/installvault/installvault/sqlite"
)

// roundTrip stores a fixture through crypto over s and reads it back.
func roundTrip(t *testing.T, s installstore.FullStore) {
	t.Helper()
	keys, err := crypto.ParseLocalKeyring(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")), "")
	require.NoError(t, err)
	sealed, err := crypto.NewStore(s, keys)
	require.NoError(t, err)
	ctx := context.Background()
	inst := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, sealed.StoreInstallation(ctx, inst.Clone()))
	got, err := sealed.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, inst.Bot.Token, got.Bot.Token)
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "installs.db")
	_, _, err := Open(ctx, "sqlite:"+path, Options{})
	require.ErrorIs(t, err, ErrNoSchema)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorContains(t, err, "does not exist")
	_, statErr := os.Stat(path)
	require.ErrorIs(t, statErr, os.ErrNotExist, "a store opened without Create makes no file")

	s, closeFn, err := Open(ctx, "sqlite:"+path, Options{Create: true})
	require.NoError(t, err)
	require.IsType(t, &sqlite.Store{}, s)
	roundTrip(t, s)
	require.NoError(t, closeFn())

	s, closeFn, err = Open(ctx, "sqlite://"+path, Options{}) // exists now
	require.NoError(t, err)
	n := 0
	require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { n++; return nil }))
	require.Equal(t, 2, n, "the latest installation and U1's, kept in the file")
	require.NoError(t, closeFn())

	_, _, err = Open(ctx, "sqlite:"+t.TempDir(), Options{})
	require.ErrorContains(t, err, "not a file")
}

// Options.History and Options.ClientID reach the backend: an app's store
// keeps history and its records are not the unscoped store's.
func TestOpenWithHistoryAndClientID(t *testing.T) {
	ctx := context.Background()
	path := "sqlite:" + filepath.Join(t.TempDir(), "installs.db")
	const app = "1234567890.0987654321"
	s, closeApp, err := Open(ctx, path, Options{Create: true, History: true, ClientID: app})
	require.NoError(t, err)
	defer closeApp()
	require.Equal(t, app, s.(installstore.AppScoped).ClientID())
	roundTrip(t, s)
	require.Len(t, storetest.History(t, s, installstore.Query{TeamID: "T1"}), 1)

	plain, closePlain, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer closePlain()
	require.Empty(t, plain.(installstore.AppScoped).ClientID())
	_, err = plain.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "the unscoped store does not see the app's record")
	err = plain.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error { return nil })
	require.ErrorIs(t, err, installstore.ErrHistoryOff)

	_, _, err = Open(ctx, path, Options{ClientID: "not an id"})
	require.ErrorIs(t, err, installstore.ErrInvalid)
}

// withSearchPath adds search_path=schema to a PostgreSQL URL.
func withSearchPath(u, schema string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "search_path=" + schema
}

func TestOpenPostgres(t *testing.T) {
	ctx := context.Background()
	base := pgtest.URL(t)
	empty := withSearchPath(base, pgtest.NewSchemaUnmigrated(t))
	_, _, err := Open(ctx, empty, Options{})
	require.ErrorIs(t, err, ErrNoSchema, "without Create an unmigrated schema is refused")
	require.ErrorIs(t, err, installstore.ErrInvalid)

	s, closeFn, err := Open(ctx, empty, Options{Create: true})
	require.NoError(t, err, "Create runs postgres.Migrate")
	require.IsType(t, &postgres.Store{}, s)
	roundTrip(t, s)
	require.NoError(t, closeFn())

	s, closeFn, err = Open(ctx, strings.Replace(empty, "postgres://", "postgresql://", 1), Options{})
	require.NoError(t, err, "migrated now")
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.NoError(t, closeFn())

	u, err := Parse(base)
	require.NoError(t, err)
	pu, err := url.Parse(base)
	require.NoError(t, err)
	if pw, ok := pu.User.Password(); ok {
		require.NotContains(t, u.String(), pw, "the test server's password")
	}
}

func TestOpenRedis(t *testing.T) {
	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t, client)
	s, closeFn, err := Open(ctx, "redis://"+redistest.Addr(t)+"/0?prefix="+prefix, Options{})
	require.NoError(t, err)
	require.IsType(t, &redisstore.Store{}, s)
	roundTrip(t, s)
	require.NoError(t, closeFn())
	keys := 0
	require.NoError(t, redistest.EachKey(ctx, client, prefix, func(redis.Cmdable, string) error { keys++; return nil }))
	require.NotZero(t, keys, "the store's keys carry the URL's prefix")
}

func TestOpenRedisCluster(t *testing.T) {
	ctx := context.Background()
	client := redistest.ClusterClient(t)
	prefix := redistest.Prefix(t, client)
	s, closeFn, err := Open(ctx, "redis-cluster://"+strings.Join(redistest.ClusterAddrs(t), ",")+"?prefix="+prefix, Options{})
	require.NoError(t, err)
	roundTrip(t, s)
	require.NoError(t, closeFn())
	keys := 0
	require.NoError(t, redistest.EachKey(ctx, client, prefix, func(redis.Cmdable, string) error { keys++; return nil }))
	require.NotZero(t, keys)
}

func TestOpenDynamoNeedsClient(t *testing.T) {
	_, _, err := Open(context.Background(), "dynamodb:installs", Options{})
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorContains(t, err, "no DynamoDB client")
}
