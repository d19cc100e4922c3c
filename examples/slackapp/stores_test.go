package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
	"github.com/installvault/installvault/sqlite"
)

// The demo over crypto + sqlite (INSTALLVAULT_STORE=sqlite:PATH): the file
// is created at start, holds sealed tokens only, keeps the installation
// after the app stops, and is closed by Close.
func TestDemoOnSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "installs.db")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d, err := startDemo(context.Background(), demoOptions{Listener: ln, TokenLifetime: fakeslack.DefaultTokenLifetime,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: "sqlite:" + path})
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			require.NoError(t, d.Close())
		}
	})
	_, isSQLite := d.Stores.Backend.(*sqlite.Store)
	require.True(t, isSQLite, "the backend is SQLite")
	require.Contains(t, d.Stores.Describe, "sqlite:"+path)

	const acme = "T0DEMO00001"
	_, bodies := installByHTTP(t, d, acme)
	inst, err := d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: acme})
	require.NoError(t, err)
	storetest.RequireSealedAtRest(t, d.Stores.Backend, installstore.Query{TeamID: acme}, inst)
	require.NoError(t, d.Slack.Mention(context.Background(), acme, "hi"))
	require.Equal(t, inst.Bot.Token, d.Slack.Messages(acme)[1].Token)
	requireNoSecret(t, d, bodies)

	closed = true
	require.NoError(t, d.Close())
	// The file outlives the process's store, and holds no plaintext token.
	s, err := sqlite.Open(context.Background(), path)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, 2, countRecordsAfter(t, s), "the latest installation and the installer's")
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		require.NotContains(t, string(data), inst.Bot.Token.Reveal(), f)
	}
}

// The app migrates a PostgreSQL schema at start (postgres.Migrate), so a
// fresh, empty schema serves at once.
func TestDemoOnPostgres(t *testing.T) {
	u := pgtest.URL(t)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	u += sep + "search_path=" + pgtest.NewSchemaUnmigrated(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d, err := startDemo(context.Background(), demoOptions{Listener: ln, TokenLifetime: fakeslack.DefaultTokenLifetime,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: u})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	_, isPostgres := d.Stores.Backend.(*postgres.Store)
	require.True(t, isPostgres, "the backend is PostgreSQL")
	require.NotContains(t, d.Stores.Describe, pgPassword(t, u), "the startup log holds no password")

	const acme = "T0DEMO00001"
	installByHTTP(t, d, acme)
	inst, err := d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: acme})
	require.NoError(t, err)
	storetest.RequireSealedAtRest(t, d.Stores.Backend, installstore.Query{TeamID: acme}, inst)
}

func pgPassword(t *testing.T, u string) string {
	pu, err := url.Parse(u)
	require.NoError(t, err)
	pw, _ := pu.User.Password()
	if pw == "" {
		return "\x00no password\x00"
	}
	return pw
}

func countRecordsAfter(t *testing.T, s installstore.Lister) int {
	t.Helper()
	n := 0
	require.NoError(t, s.ListInstallations(context.Background(), func(installstore.Query, *installstore.Installation) error { n++; return nil }))
	return n
}

// `slackapp` with INSTALLVAULT_STORE=sqlite:PATH logs the store it chose,
// serves, and closes the store when it stops.
func TestRunOnSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	e := validEnv()
	e[envStore] = "sqlite:" + path
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, e.get, &out, &logs) }()
	addrRE := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	require.Eventually(t, func() bool { return addrRE.MatchString(out.String()) }, 10*time.Second, 10*time.Millisecond, "no listening line: %q", out.String())
	require.Contains(t, logs.String(), "stored in sqlite:"+path)
	_, err := os.Stat(path)
	require.NoError(t, err, "the file is created at start")
	cancel()
	require.NoError(t, <-done)
}

func TestLoadConfigStore(t *testing.T) {
	e := validEnv()
	e[envStore] = "sqlite:installs.db"
	c, err := loadConfig(e.get)
	require.NoError(t, err)
	require.Equal(t, "installs.db", c.Store.Path)
	require.Empty(t, c.DynamoTable)

	e[envStore] = "dynamodb:installs"
	e[envDynamoEndpoint] = "http://127.0.0.1:8000"
	c, err = loadConfig(e.get)
	require.NoError(t, err)
	require.Nil(t, c.Store)
	require.Equal(t, "installs", c.DynamoTable, "dynamodb:TABLE is INSTALLVAULT_DYNAMODB_TABLE")

	e[envDynamoTable] = "installs"
	_, err = loadConfig(e.get)
	require.NoError(t, err, "both name the same table")

	const pw = "Pa55-w0rd-s3cr3t"
	for name, tc := range map[string]struct{ store, table, want string }{
		"two stores":     {"sqlite:x.db", "installs", "name different stores"},
		"two tables":     {"dynamodb:other", "installs", "name different stores"},
		"unknown scheme": {"mysql://u:" + pw + "@db/x", "", `unknown scheme "mysql"`},
		"bad URL":        {"postgres://u:" + pw + "%zz@db/x", "", "not a valid URL"},
		"bad redis":      {"redis://:" + pw + "@h:1/x", "", "invalid database number"},
	} {
		t.Run(name, func(t *testing.T) {
			e := validEnv()
			e[envStore], e[envDynamoTable] = tc.store, tc.table
			_, err := loadConfig(e.get)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, envStore)
			require.NotContains(t, err.Error(), pw)
			require.False(t, strings.Contains(err.Error(), "s3cr3t"))
		})
	}
}
