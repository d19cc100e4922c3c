package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/sqlite"
)

// open returns a store over a new file in t's temporary directory, closed
// when t ends, and the file's path.
func open(t testing.TB, opts ...sqlite.Option) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "installvault.db")
	return openAt(t, path, opts...), path
}

// openAt opens a store over path, closed when t ends.
func openAt(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newPlain returns a store over a new file that accepts the suite's
// plaintext fixtures.
func newPlain(t testing.TB, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, _ := open(t, append([]sqlite.Option{sqlite.WithPlaintextSecrets()}, opts...)...)
	return s
}

// rawExec runs statements on the file around the store, as a person with
// the sqlite3 shell (or a bug elsewhere) could.
func rawExec(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
}

// rawCount returns the integer the query selects, read around the store.
func rawCount(t testing.TB, path, query string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow(query).Scan(&n), query)
	return n
}

// rawString returns the text the query selects, read around the store.
func rawString(t testing.TB, path, query string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	var s string
	require.NoError(t, db.QueryRow(query).Scan(&s), query)
	return s
}
