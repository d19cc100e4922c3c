package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/backendtest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// newSealed returns crypto.NewStore over a default (sealed-only) store on a
// fresh schema, with a local keyring, and the pool.
func newSealed(t *testing.T, opts ...postgres.Option) (*crypto.Store, *pgxpool.Pool) {
	t.Helper()
	backend, pool := pgtest.Store(t, opts...)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	require.NoError(t, err)
	s, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)
	return s, pool
}

func TestConformanceThroughCrypto(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, _ := newSealed(t)
		return s
	})
}

// dumpText returns every value of every column of every table of the
// store's schema, as text (jsonb and bytea included).
func dumpText(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	require.NoError(t, err)
	type col struct{ Table, Column string }
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[col])
	require.NoError(t, err)
	require.NotEmpty(t, cols)
	var out []string
	for _, c := range cols {
		vals, err := pool.Query(ctx, "SELECT "+pgx.Identifier{c.Column}.Sanitize()+"::text FROM "+pgx.Identifier{c.Table}.Sanitize())
		require.NoError(t, err)
		got, err := pgx.CollectRows(vals, pgx.RowTo[*string])
		require.NoError(t, err)
		for _, v := range got {
			if v != nil {
				out = append(out, *v)
			}
		}
	}
	return out
}

// TestNoPlaintextInAnyColumnThroughCrypto: every column of every table,
// history included, holds sealed values only.
func TestNoPlaintextInAnyColumnThroughCrypto(t *testing.T) {
	s, pool := newSealed(t, postgres.WithHistory())
	plain := storetest.WriteSecrets(t, s)
	var entries, sealedEntries int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE bot_token LIKE 'ivsealed:%' OR user_token LIKE 'ivsealed:%')
FROM installvault_history`).Scan(&entries, &sealedEntries))
	require.Equal(t, 4, entries, "the scan covers history entries")
	require.Equal(t, entries, sealedEntries)

	vals := dumpText(t, pool)
	sealed := 0
	for _, v := range vals {
		for _, p := range plain {
			require.NotContains(t, v, p, "a column holds a plaintext secret")
		}
		if strings.HasPrefix(v, installstore.SealedPrefix) {
			sealed++
			continue // random base64, which may spell "xox" by chance
		}
		require.NotContains(t, v, "xox", "a column holds something token-like")
		require.NotContains(t, v, "hooks.slack", "a column holds a webhook URL")
	}
	require.GreaterOrEqual(t, sealed, 10, "the secrets are there, sealed")
}

// TestAppsThroughCrypto: apps sharing one schema stay apart through the
// encryption layer, which binds each store's client ID into what it seals.
func TestAppsThroughCrypto(t *testing.T) {
	scoped := appStores(true)
	storetest.RunApps(t, func(t *testing.T, id string) installstore.FullStore { return backendtest.Sealed(t, scoped(t, id)) })
}
