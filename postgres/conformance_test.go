package postgres_test

import (
	"context"
	"fmt"
	"sync"
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
			storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
				cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
				require.NoError(t, err)
				cfg.ConnConfig.RuntimeParams["search_path"] = pgtest.NewSchema(t)
				cfg.ConnConfig.DefaultQueryExecMode = mode
				pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
				require.NoError(t, err)
				t.Cleanup(pool.Close)
				s, err := postgres.New(pool, postgres.WithPlaintextSecrets(), postgres.WithHistory(), postgres.WithClientID("1111.2222"), postgres.WithListPageSize(2))
				require.NoError(t, err)
				return s
			})
		})
	}
}

func TestConformanceHistory(t *testing.T) {
	storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
		s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithHistory(), postgres.WithListPageSize(2))
		return s
	})
}

// TestConformanceApps: stores of two apps and an unscoped one share one
// schema (one per subtest), with and without history.
func TestConformanceApps(t *testing.T) {
	for _, history := range []bool{false, true} {
		t.Run(fmt.Sprintf("history=%v", history), func(t *testing.T) {
			storetest.RunApps(t, appStores(history))
		})
	}
}

// appStores returns a RunApps factory: for one t, stores over one schema.
func appStores(history bool) func(t *testing.T, clientID string) installstore.FullStore {
	var mu sync.Mutex
	pools := map[*testing.T]*pgxpool.Pool{}
	return func(t *testing.T, clientID string) installstore.FullStore {
		mu.Lock()
		pool, ok := pools[t]
		if !ok {
			pool = pgtest.Pool(t, pgtest.NewSchema(t))
			pools[t] = pool
		}
		mu.Unlock()
		opts := []postgres.Option{postgres.WithPlaintextSecrets(), postgres.WithListPageSize(2)}
		if history {
			opts = append(opts, postgres.WithHistory())
		}
		if clientID != "" {
			opts = append(opts, postgres.WithClientID(clientID))
		}
		s, err := postgres.New(pool, opts...)
		require.NoError(t, err)
		return s
	}
}
