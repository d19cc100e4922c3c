package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// A replica whose clock is behind another's still writes growing Versions:
// its first attempt fails the "v < new" condition and it retries above the
// stored version.
func TestVersionsGrowDespiteClockSkew(t *testing.T) {
	ctx := context.Background()
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	ahead, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets(), dynamo.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	require.NoError(t, err)
	behind, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
	require.NoError(t, err)

	last := int64(0)
	grew := func(s installstore.Store, q installstore.Query) {
		t.Helper()
		got, err := s.FetchInstallation(ctx, q)
		require.NoError(t, err)
		require.Greater(t, got.Version, last)
		last = got.Version
	}
	q := installstore.Query{TeamID: "T1"}
	require.NoError(t, ahead.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	grew(behind, q)
	require.NoError(t, behind.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "b")), "transaction path")
	grew(behind, q)
	require.NoError(t, ahead.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "c")))
	grew(behind, q)
	noUser := storetest.Fixture("", "T1", "", "d")
	require.NoError(t, behind.StoreInstallation(ctx, noUser), "single-item path")
	require.Equal(t, noUser.Version, last+1)
	grew(behind, q)
	require.NoError(t, ahead.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "e")))
	grew(behind, q)
	require.NoError(t, behind.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"}), "user delete, not the latest installer")
	grew(behind, q)
	require.NoError(t, ahead.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "f")))
	require.NoError(t, behind.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}), "user delete, the latest installer")
	grew(behind, q)
	got, err := behind.FetchInstallation(ctx, q)
	require.NoError(t, err)
	require.Empty(t, got.User.ID)
	require.NoError(t, ahead.StoreInstallation(ctx, storetest.Fixture("", "T1", "U3", "g")))
	require.NoError(t, behind.DeleteBot(ctx, q))
	grew(behind, q)
	got, err = behind.FetchInstallation(ctx, q)
	require.NoError(t, err)
	require.Nil(t, got.Bot)
	require.NoError(t, behind.UpdateInstallation(ctx, got))
	grew(behind, q)
}
