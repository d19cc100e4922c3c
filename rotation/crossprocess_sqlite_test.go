package rotation

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/sqlite"
)

// The single-machine stack: crypto.NewStore over one SQLite file, shared by
// the replicas (processes) of the storm. Needs no server.

const envXprocSQLite = "ROTATION_XPROC_SQLITE_PATH"

// sqliteKeys is a fixed test key, the same in every replica.
func sqliteKeys(t testing.TB) crypto.KeyProvider {
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"xproc": bytes.Repeat([]byte{7}, 32)}, "xproc")
	require.NoError(t, err)
	return keys
}

func openSQLite(t testing.TB, path string, opts ...sqlite.Option) installstore.FullStore {
	inner, err := sqlite.Open(context.Background(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inner.Close() })
	store, err := crypto.NewStore(inner, sqliteKeys(t))
	require.NoError(t, err)
	return store
}

func init() {
	testBackends["crypto+sqlite"] = func(e *env) installstore.FullStore {
		return openSQLite(e.t, filepath.Join(e.t.TempDir(), "rotation.db"), sqlite.WithClock(e.clock.now))
	}
	sharedBackends["crypto+sqlite"] = func(t testing.TB) *sharedBackend {
		path := os.Getenv(envXprocSQLite)
		if os.Getenv(envXprocChild) != "1" {
			path = filepath.Join(t.TempDir(), "shared.db")
		}
		return &sharedBackend{
			env:  []string{envXprocSQLite + "=" + path},
			open: func(t testing.TB) installstore.FullStore { return openSQLite(t, path) },
		}
	}
}
