package crypto_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

// TestConformanceAppsOverSQLite: encryption layers of two apps and an
// unscoped one, each over its own app-scoped SQLite store of one shared
// file, with one master key: they never see each other's items
// (storetest.RunApps), and a record sealed for one app does not open for
// another when moved below the layers.
func TestConformanceAppsOverSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("SQLite files")
	}
	keys := keyring(t, "k1", "k1")
	var mu sync.Mutex
	paths := map[*testing.T]string{}
	open := func(t *testing.T, clientID string) (*crypto.Store, *sqlite.Store) {
		mu.Lock()
		path, ok := paths[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "apps.db")
			paths[t] = path
		}
		mu.Unlock()
		opts := []sqlite.Option{sqlite.WithHistory()}
		if clientID != "" {
			opts = append(opts, sqlite.WithClientID(clientID))
		}
		backend, err := sqlite.Open(context.Background(), path, opts...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = backend.Close() })
		s := newStore(t, backend, keys)
		require.Equal(t, clientID, s.ClientID())
		return s, backend
	}
	storetest.RunApps(t, func(t *testing.T, clientID string) installstore.FullStore {
		s, _ := open(t, clientID)
		return s
	})

	t.Run("MovedBetweenAppsDoesNotOpen", func(t *testing.T) {
		a, backendA := open(t, appA)
		b, backendB := open(t, appB)
		require.NoError(t, a.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
		raw, err := backendA.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
		raw.Version = 0
		require.NoError(t, backendB.StoreInstallation(bg, raw)) // the sealed record, copied into app B's rows
		_, err = b.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
		require.ErrorIs(t, err, crypto.ErrDecrypt)
		got, err := a.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
		require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
	})
}
