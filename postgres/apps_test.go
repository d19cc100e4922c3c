package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
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
	stores := make([]*postgres.Store, len(ids))
	now := time.Now()
	for i, id := range ids {
		opts := []postgres.Option{postgres.WithPlaintextSecrets(), postgres.WithHistory()}
		if id != "" {
			opts = append(opts, postgres.WithClientID(id))
		}
		s, err := postgres.New(pool, opts...)
		require.NoError(t, err)
		stores[i] = s
		tag := "app" + string(rune('A'+i))
		for _, team := range []string{"T1", "T2"} {
			inst := storetest.Fixture("", team, "U1", tag)
			inst.Bot.ExpiresAt = now.Add(time.Duration(i+1) * time.Minute)
			require.NoError(t, s.StoreInstallation(ctx, inst))
		}
		require.NoError(t, s.PutNonce(ctx, "state-1", now.Add(time.Hour)))
		require.NoError(t, s.AcquireLease(ctx, "refresh:T1", tag, time.Minute))
	}

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

	for i, s := range stores {
		tag := "app" + string(rune('A'+i))
		got, err := s.FetchInstallation(ctx, q("", "T1", "U1"))
		require.NoError(t, err)
		require.Contains(t, got.Bot.Token.Reveal(), tag)
		n := 0
		require.NoError(t, s.ListInstallations(ctx, func(_ installstore.Query, inst *installstore.Installation) error {
			require.Contains(t, inst.Bot.Token.Reveal(), tag)
			n++
			return nil
		}))
		require.Equal(t, 4, n, tag)
		due := 0
		require.NoError(t, s.ListDue(ctx, now.Add(time.Hour), func(_ installstore.Query, at time.Time) error {
			require.Equal(t, now.Add(time.Duration(i+1)*time.Minute).UnixNano(), at.UnixNano(), "%s lists its own due time", tag)
			due++
			return nil
		}))
		require.Equal(t, 2, due, tag)
		hs := storetest.History(t, s, q("", "T1", ""))
		require.Len(t, hs, 1, tag)
		require.Contains(t, hs[0].Bot.Token.Reveal(), tag)
		require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld, tag)
	}

	// App A's uninstall, nonce and lease release touch app A's only.
	a := stores[0]
	require.NoError(t, a.DeleteInstallation(ctx, q("", "T1", "")))
	require.NoError(t, a.ConsumeNonce(ctx, "state-1"))
	require.NoError(t, a.ReleaseLease(ctx, "refresh:T1", "appA"))
	_, err = a.FetchInstallation(ctx, q("", "T1", ""))
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.Empty(t, storetest.History(t, a, q("", "T1", "")))
	for i, s := range stores[1:] {
		tag := "app" + string(rune('B'+i))
		_, err := s.FetchInstallation(ctx, q("", "T1", ""))
		require.NoError(t, err, tag)
		require.Len(t, storetest.History(t, s, q("", "T1", "")), 1, tag)
		require.NoError(t, s.ConsumeNonce(ctx, "state-1"), tag)
		require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld, tag)
	}
}
