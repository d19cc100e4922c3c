package rotation

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// The production stack on PostgreSQL: crypto.NewStore over one schema of the
// server of scripts/postgres.sh (INSTALLVAULT_POSTGRES_URL; without it these
// skip, or fail under CI=true).

func postgresKeys(t testing.TB) crypto.KeyProvider {
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"xproc": bytes.Repeat([]byte{9}, 32)}, "xproc")
	require.NoError(t, err)
	return keys
}

func openPostgres(t testing.TB, schema string, opts ...postgres.Option) installstore.FullStore {
	inner, err := postgres.New(pgtest.Pool(t, schema), opts...)
	require.NoError(t, err)
	store, err := crypto.NewStore(inner, postgresKeys(t))
	require.NoError(t, err)
	return store
}

func init() {
	testBackends["crypto+postgres"] = func(e *env) installstore.FullStore {
		return openPostgres(e.t, pgtest.NewSchema(e.t), postgres.WithClock(e.clock.now), postgres.WithLeaseClock(e.clock.now))
	}
	sharedBackends["crypto+postgres"] = func(t testing.TB) *sharedBackend {
		schema, env := pgtest.SharedSchema(t)
		return &sharedBackend{env: env, open: func(t testing.TB) installstore.FullStore { return openPostgres(t, schema) }}
	}
}
