package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/backendtest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

func TestWithClientIDRefusesBadIDs(t *testing.T) {
	pool := pgtest.Pool(t, "")
	for _, id := range []string{"", "has space", "a/b", "x:y", string(make([]byte, 65))} {
		_, err := postgres.New(pool, postgres.WithClientID(id))
		require.ErrorIs(t, err, installstore.ErrInvalid, "%q", id)
	}
	s, err := postgres.New(pool, postgres.WithClientID("1234567890.0987654321"))
	require.NoError(t, err)
	require.Equal(t, "1234567890.0987654321", s.ClientID())
	s, err = postgres.New(pool)
	require.NoError(t, err)
	require.Empty(t, s.ClientID())
}

// TestAppsShareOneSchema: two apps and an unscoped store on one schema, the
// same tenant IDs in each. Each fetches, lists, lists as due, deletes,
// consumes, leases and lists history of its own only; the rows say whose
// they are, and the unscoped store's rows are laid out as before.
func TestAppsShareOneSchema(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewSchema(t))
	ids := []string{"1111.2222", "3333.4444", ""}
	stores := make([]installstore.FullStore, len(ids))
	now := time.Now()
	for i, id := range ids {
		opts := []postgres.Option{postgres.WithPlaintextSecrets(), postgres.WithHistory()}
		if id != "" {
			opts = append(opts, postgres.WithClientID(id))
		}
		s, err := postgres.New(pool, opts...)
		require.NoError(t, err)
		stores[i] = s
	}
	backendtest.SeedApps(t, stores, now)

	// The layout: scoped keys carry the client ID, unscoped ones do not.
	rows, err := pool.Query(ctx, `SELECT app || '|' || tenant FROM installvault_tenants ORDER BY 1`)
	require.NoError(t, err)
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"1111.2222|1111.2222/:T1", "1111.2222|1111.2222/:T2", "3333.4444|3333.4444/:T1", "3333.4444|3333.4444/:T2", "|:T1", "|:T2"}, keys)
	var legacyNonces, appNonces, legacyLeases, appLeases int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM installvault_nonces), (SELECT count(*) FROM installvault_app_nonces),
		(SELECT count(*) FROM installvault_leases), (SELECT count(*) FROM installvault_app_leases)`).Scan(&legacyNonces, &appNonces, &legacyLeases, &appLeases))
	require.Equal(t, []int{1, 2, 1, 2}, []int{legacyNonces, appNonces, legacyLeases, appLeases})

	backendtest.CheckAppsSeparated(t, stores, now)
}
