package storeurl

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/redisstore"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in     string
		kind   Kind
		table  string
		path   string
		prefix string
		shown  string
	}{
		{in: "dynamodb:installs", kind: DynamoDB, table: "installs", shown: "dynamodb:installs"},
		{in: "dynamodb://my-table.v2", kind: DynamoDB, table: "my-table.v2", shown: "dynamodb:my-table.v2"},
		{in: "DynamoDB:Installs_1", kind: DynamoDB, table: "Installs_1", shown: "dynamodb:Installs_1"},
		{in: "sqlite:installs.db", kind: SQLite, path: "installs.db", shown: "sqlite:installs.db"},
		{in: "sqlite:/var/lib/app/i.db", kind: SQLite, path: "/var/lib/app/i.db", shown: "sqlite:/var/lib/app/i.db"},
		{in: "sqlite:///var/lib/app/i.db", kind: SQLite, path: "/var/lib/app/i.db", shown: "sqlite:/var/lib/app/i.db"},
		{in: "sqlite://rel/i.db", kind: SQLite, path: "rel/i.db", shown: "sqlite:rel/i.db"},
		{in: "  sqlite:a b.db\n", kind: SQLite, path: "a b.db", shown: "sqlite:a b.db"},
		{in: "postgres://app@db.internal:5432/installs", kind: Postgres, shown: "postgres://app@db.internal:5432/installs"},
		{in: "postgresql://app:pw@127.0.0.1/db?sslmode=disable", kind: Postgres, shown: "postgresql://app:xxxxx@127.0.0.1/db?sslmode=disable"},
		{in: "postgres:///db?host=/run/postgresql", kind: Postgres, shown: "postgres:///db?host=%2Frun%2Fpostgresql"},
		{in: "redis://127.0.0.1:6379", kind: Redis, prefix: redisstore.DefaultKeyPrefix, shown: "redis://127.0.0.1:6379"},
		{in: "redis://:pw@127.0.0.1:6379/2?prefix=app1", kind: Redis, prefix: "app1", shown: "redis://:xxxxx@127.0.0.1:6379/2?prefix=app1"},
		{in: "rediss://u:pw@cache:6380?prefix=a/b", kind: Redis, prefix: "a/b", shown: "rediss://u:xxxxx@cache:6380?prefix=a%2Fb"},
		{in: "redis-cluster://h1:7000,h2:7001,h3:7002?prefix=p", kind: RedisCluster, prefix: "p", shown: "redis-cluster://h1:7000,h2:7001,h3:7002?prefix=p"},
		{in: "redis-cluster://:pw@h1:7000/", kind: RedisCluster, prefix: redisstore.DefaultKeyPrefix, shown: "redis-cluster://:xxxxx@h1:7000"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.kind, u.Kind)
			require.Equal(t, tc.table, u.Table)
			require.Equal(t, tc.path, u.Path)
			require.Equal(t, tc.prefix, u.Prefix)
			require.Equal(t, tc.shown, u.String())
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty store URL"},
		{"installs", "no scheme"},
		{":installs", "no scheme"},
		{"mysql://db/x", `unknown scheme "mysql"`},
		{"Zm9vYmFyYmF6cXV4cXV1eA==:x", `unknown scheme "?"`},
		{"dynamodb:", "table name"},
		{"dynamodb:a b", "table name"},
		{"dynamodb:a/b/c", "table name"},
		{"dynamodb://" + strings.Repeat("t", 256), "table name"},
		{"sqlite:", "no file"},
		{"sqlite://", "no file"},
		{"sqlite::memory:", "plain file path"},
		{"sqlite:x.db?_pragma=foo", "plain file path"},
		{"postgres://u:p%zz@h/db", "not a valid URL"},
		{"redis://", "no host"},
		{"redis://h:6379/notanumber", "invalid database"},
		{"redis://h:6379?bogus=1", "bogus"},
		{"redis://h:6379?prefix=bad%20prefix", "key prefix \"bad prefix\" has a character"},
		{"redis://h:6379?prefix=", "key prefix must be 1 to 64 bytes"},
		{"redis-cluster://h1:1?prefix=a*b", "key prefix \"a*b\" has a character"},
		{"redis-cluster:h1:1", "want redis-cluster://"},
		{"redis-cluster://h1:1,,h2:2", "want redis-cluster://"},
		{"redis-cluster://h1:1,h2:2?bogus=1", "bogus"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			require.Error(t, err)
			require.ErrorIs(t, err, installstore.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "store URL"), err.Error())
		})
	}
}

// No message — String, a parse error, an open error — holds the password,
// whatever the URL's shape, raw or percent-encoded.
func TestPasswordIsNeverShown(t *testing.T) {
	const pw = "Pa55-w0rd-s3cr3t"
	enc := "Pa55-w0rd-s3cr3t%21%40%23" // Pa55-w0rd-s3cr3t!@#
	for _, in := range []string{
		"postgres://app:" + pw + "@127.0.0.1:1/db?connect_timeout=1",
		"postgres://app:" + enc + "@127.0.0.1:1/db?connect_timeout=1",
		"postgres://app@127.0.0.1:1/db?password=" + pw + "&connect_timeout=1",
		"postgres://app:" + pw + "@127.0.0.1:1/db?sslmode=bogus",
		"postgres://app:" + pw + "@127.0.0.1:1/db?pool_max_conns=-4",
		"postgres://app:" + pw + "@127.0.0.1:1/db?connect_timeout=x",
		"postgres://app:" + pw + "%zz@127.0.0.1:1/db",
		"postgres://app:" + pw + "@[::1/db",
		"redis://:" + pw + "@127.0.0.1:1/0?dial_timeout=1s",
		"redis://user:" + enc + "@127.0.0.1:1",
		"redis://:" + pw + "@127.0.0.1:1/x",
		"redis://:" + pw + "@127.0.0.1:1?bogus=" + pw,
		"redis://:" + pw + "@127.0.0.1:1?prefix=bad%20prefix",
		"redis://127.0.0.1:1?password=" + pw,
		"redis-cluster://:" + pw + "@127.0.0.1:1,127.0.0.1:2?dial_timeout=1s",
		"redis-cluster://u:" + enc + "@127.0.0.1:1",
		"redis-cluster://:" + pw + "@127.0.0.1:1?bogus=1",
		"redis-cluster://:" + pw + "%zz@127.0.0.1:1",
		"redis-cluster://127.0.0.1:1?password=" + pw,
	} {
		t.Run(strings.SplitN(in, ":", 2)[0], func(t *testing.T) {
			var msgs []string
			u, err := Parse(in)
			if err != nil {
				require.ErrorIs(t, err, installstore.ErrInvalid)
				msgs = append(msgs, err.Error())
			} else {
				msgs = append(msgs, u.String(), fmtURL(u))
				ctx, cancel := context.WithTimeout(context.Background(), 5e9)
				defer cancel()
				_, _, err := u.Open(ctx, Options{})
				require.Error(t, err, "nothing listens on port 1")
				require.True(t, errors.Is(err, installstore.ErrInvalid) || errors.Is(err, installstore.ErrUnavailable), "%v", err)
				msgs = append(msgs, err.Error())
			}
			for _, m := range msgs {
				t.Log(m)
				for _, s := range []string{pw, enc, "s3cr3t"} {
					require.NotContains(t, m, s)
				}
			}
		})
	}
}

func fmtURL(u *URL) string { return strings.Join([]string{u.String(), u.Table, u.Path, u.Prefix}, " ") }
