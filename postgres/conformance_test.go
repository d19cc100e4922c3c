package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets())
		return s
	})
}

// TestConformanceWithoutPreparedStatements: the store works where prepared
// statements cannot be used (PgBouncer in transaction mode, some proxies):
// pgx's exec and simple-protocol modes.
func TestConformanceWithoutPreparedStatements(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) installstore.FullStore {
				cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
				require.NoError(t, err)
				cfg.ConnConfig.RuntimeParams["search_path"] = pgtest.NewSchema(t)
				cfg.ConnConfig.DefaultQueryExecMode = mode
				pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
				require.NoError(t, err)
				t.Cleanup(pool.Close)
				s, err := postgres.New(pool, postgres.WithPlaintextSecrets())
				require.NoError(t, err)
				return s
			})
		})
	}
}
