package memory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestHistoryConformance(t *testing.T) {
	storetest.RunHistory(t, func(*testing.T) installstore.FullStore { return memory.New(memory.WithHistory()) })
}

// A memory store is never shared: each app gets its own, which RunApps
// checks for ClientID and for what a store must keep to itself.
func TestAppsConformance(t *testing.T) {
	storetest.RunApps(t, func(_ *testing.T, id string) installstore.FullStore {
		if id == "" {
			return memory.New(memory.WithHistory())
		}
		return memory.New(memory.WithHistory(), memory.WithClientID(id))
	})
}

func TestHistoryOffByDefault(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	inst := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, s.StoreInstallation(ctx, inst))
	err := s.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error { return nil })
	require.ErrorIs(t, err, installstore.ErrHistoryOff)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorIs(t, s.PutHistory(ctx, inst), installstore.ErrHistoryOff)
}

func TestWithClientIDRefusesBadIDs(t *testing.T) {
	for _, id := range []string{"", "a b", "app:1", string(make([]byte, 65))} {
		require.Panics(t, func() { memory.WithClientID(id) }, "client ID %q", id)
	}
	require.Equal(t, "1234567890.0987654321", memory.New(memory.WithClientID("1234567890.0987654321")).ClientID())
	require.Empty(t, memory.New().ClientID())
}
