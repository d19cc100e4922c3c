package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore { return newPlain(t) })
}

func TestConformanceHistory(t *testing.T) {
	storetest.RunHistory(t, func(t *testing.T) installstore.FullStore { return newPlain(t, sqlite.WithHistory()) })
}

// TestConformanceApps: stores of two apps and an unscoped one share one
// file (one per subtest), with and without history.
func TestConformanceApps(t *testing.T) {
	for _, history := range []bool{false, true} {
		t.Run(fmt.Sprintf("history=%v", history), func(t *testing.T) {
			storetest.RunApps(t, appStores(history))
		})
	}
}

// appStores returns a RunApps factory: for one t, stores over one file.
func appStores(history bool) func(t *testing.T, clientID string) installstore.FullStore {
	var mu sync.Mutex
	paths := map[*testing.T]string{}
	return func(t *testing.T, clientID string) installstore.FullStore {
		mu.Lock()
		path, ok := paths[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "apps.db")
			paths[t] = path
		}
		mu.Unlock()
		opts := []sqlite.Option{sqlite.WithPlaintextSecrets()}
		if history {
			opts = append(opts, sqlite.WithHistory())
		}
		if clientID != "" {
			opts = append(opts, sqlite.WithClientID(clientID))
		}
		return openAt(t, path, opts...)
	}
}
