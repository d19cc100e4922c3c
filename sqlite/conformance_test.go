package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

// open returns a store over a new file in t's temporary directory, closed
// when t ends, and the file's path.
func open(t testing.TB, opts ...sqlite.Option) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "installvault.db")
	s, err := sqlite.Open(context.Background(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, path
}

// newPlain returns a store over a new file that accepts the suite's
// plaintext fixtures.
func newPlain(t testing.TB, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, _ := open(t, append([]sqlite.Option{sqlite.WithPlaintextSecrets()}, opts...)...)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore { return newPlain(t) })
}
