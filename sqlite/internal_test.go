package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// plan returns SQLite's query plan of query, one line per step.
func plan(t *testing.T, s *Store, query string) string {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, make([]any, appParam)...)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		lines = append(lines, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}

// Every statement finds its rows through a key or an index: no operation
// reads the whole table, except a listing's first page, which starts at
// the table's beginning in key order and stops after a page.
func TestStatementsUseKeysOrIndexes(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "plan.db"))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	firstPages := map[string]bool{sqlListLatestFirst: true, sqlListUsersFirst: true}
	for _, q := range append(append([]string{}, readQueries...), writeQueries...) {
		p := plan(t, s, q)
		if firstPages[q] {
			require.NotContains(t, p, "TEMP B-TREE", "%s\n=> %s", q, p)
			continue
		}
		for _, line := range strings.Split(p, "\n") {
			require.False(t, strings.HasPrefix(line, "SCAN"), "%s\n=> %s", q, p)
		}
	}
	// The due listings read the partial indexes: a tick costs what is due.
	// (SQLite reads a generated column's row even when the index holds it:
	// one lookup per due tenant, none when nothing is due.)
	require.Contains(t, plan(t, s, sqlTenantsDue), "USING INDEX tenants_due")
	require.Contains(t, plan(t, s, sqlUsersDue), "USING COVERING INDEX users_due")
}

// Every connection runs with the settings the package documentation
// promises.
func TestConnectionSettings(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "pragmas.db"), WithBusyTimeout(1234*time.Millisecond))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	for db, want := range map[*sql.DB]map[string]string{
		s.w: {"journal_mode": "wal", "synchronous": "2", "busy_timeout": "1234", "foreign_keys": "1", "query_only": "0"},
		s.r: {"journal_mode": "wal", "synchronous": "2", "busy_timeout": "1234", "foreign_keys": "1", "query_only": "1"},
	} {
		for pragma, value := range want {
			var got string
			require.NoError(t, db.QueryRowContext(context.Background(), "PRAGMA "+pragma).Scan(&got))
			require.Equal(t, value, got, pragma)
		}
	}
}

// A full disk (here: the writer's page limit reached, which SQLite reports
// as SQLITE_FULL, as it does a full file system) is ErrUnavailable: the
// write is rolled back, and succeeds once there is room again.
func TestFullDiskIsUnavailableAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "full.db"), WithPlaintextSecrets())
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	small := &installstore.Installation{TeamID: "T1", Bot: &installstore.Bot{ID: "B1", Token: installstore.NewSecret("xoxb-test-small")}}
	require.NoError(t, s.StoreInstallation(ctx, small))
	var pages int64
	require.NoError(t, s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages))
	_, err = s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)) // the writer's one connection
	require.NoError(t, err)

	big := &installstore.Installation{TeamID: "T2", TeamName: strings.Repeat("x", 64<<10), Bot: &installstore.Bot{ID: "B2", Token: installstore.NewSecret("xoxb-test-big")}}
	err = s.StoreInstallation(ctx, big)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.Contains(t, err.Error(), "store tenant T2")
	require.Contains(t, err.Error(), "disk is full (13)") // SQLITE_FULL
	require.NotContains(t, err.Error(), "xoxb")
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "nothing was written")
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, small.Version, got.Version)

	_, err = s.w.ExecContext(ctx, "PRAGMA max_page_count = 1073741823")
	require.NoError(t, err)
	require.NoError(t, s.StoreInstallation(ctx, big))
	require.Greater(t, big.Version, small.Version)
}

// Every statement numbers its own parameters below appParam, and those on
// keyed tables name the client ID parameter, so no store reads or writes
// across apps.
func TestStatementsNameTheirApp(t *testing.T) {
	for _, q := range append(append([]string{}, readQueries...), writeQueries...) {
		for n := appParam + 1; n < appParam+10; n++ {
			require.NotContains(t, q, fmt.Sprintf("?%d", n), q)
		}
		if q == sqlBump {
			continue // the file's version counter, shared by all apps
		}
		require.Contains(t, q, fmt.Sprintf("?%d", appParam), q)
	}
}
