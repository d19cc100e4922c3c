package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/backendtest"
	"github.com/installvault/installvault/sqlite"
)

func TestWithClientIDRefusesBadIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ids.db")
	for _, id := range []string{"", "has space", "a/b", "x:y", string(make([]byte, 65))} {
		_, err := sqlite.Open(ctx, path, sqlite.WithClientID(id))
		require.ErrorIs(t, err, installstore.ErrInvalid, "%q", id)
	}
	require.Equal(t, "1234567890.0987654321", openAt(t, path, sqlite.WithClientID("1234567890.0987654321")).ClientID())
	require.Empty(t, openAt(t, path).ClientID())
}

// TestAppsShareOneFile: two apps and an unscoped store on one file, the same
// tenant IDs in each. Each fetches, lists, lists as due, deletes, consumes,
// leases and lists history of its own only, and every row says whose it is.
func TestAppsShareOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.db")
	ids := []string{"1111.2222", "3333.4444", ""}
	stores := make([]installstore.FullStore, len(ids))
	now := time.Now()
	for i, id := range ids {
		opts := []sqlite.Option{sqlite.WithPlaintextSecrets(), sqlite.WithHistory()}
		if id != "" {
			opts = append(opts, sqlite.WithClientID(id))
		}
		stores[i] = openAt(t, path, opts...)
	}
	backendtest.SeedApps(t, stores, now)
	for _, table := range []string{"tenants", "users", "history", "nonces", "leases"} {
		require.Equal(t, ",1111.2222,3333.4444", rawString(t, path, "SELECT group_concat(app) FROM (SELECT DISTINCT app FROM "+table+" ORDER BY app)"), table)
	}

	backendtest.CheckAppsSeparated(t, stores, now)
}
