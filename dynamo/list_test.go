package dynamo_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// A listing reads each tenant with one Query; a user whose record an
// earlier write wrote is read again with the LATEST item, so that every
// listed record carries the Version it is current under, and an update
// based on it lands.
func TestListPairsUsersWithTheirVersion(t *testing.T) {
	ctx := context.Background()
	var calls dynamotest.Counter
	client := dynamotest.Client(t, calls.Option())
	table := dynamotest.NewTable(t, client)
	s, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets(), dynamo.WithScanSegments(1))
	require.NoError(t, err)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "one")))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "a")))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U2", "b"))) // U1's item is older than T2's version
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T3", "U1", "c")))
	require.NoError(t, s.DeleteBot(ctx, installstore.Query{TeamID: "T3"})) // a version without a user write

	calls.Reset()
	listed := map[installstore.Query]*installstore.Installation{}
	require.NoError(t, s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		listed[q] = inst
		return nil
	}))
	require.Len(t, listed, 7)
	got := calls.Calls()
	require.Equal(t, 3, got["Query"], "one Query per tenant")
	require.Equal(t, 2, got["TransactGetItems"], "T2's U1 and T3's U1 are read again")
	for q, inst := range listed {
		cur, err := s.FetchInstallation(ctx, q)
		require.NoError(t, err)
		storetest.Equal(t, cur, inst, "%+v is what a fetch returns", q)
		require.Equal(t, cur.Version, inst.Version, "%+v carries the tenant's current Version", q)
	}
	u1 := listed[installstore.Query{TeamID: "T2", UserID: "U1"}]
	u1.User.Token = installstore.NewSecret("xoxp-test-T2-U1-refreshed")
	require.NoError(t, s.UpdateInstallation(ctx, u1), "an update based on a listed record lands")
	stale := listed[installstore.Query{TeamID: "T2", UserID: "U2"}]
	require.ErrorIs(t, s.UpdateInstallation(ctx, stale), installstore.ErrConflict, "and moves the tenant on")
}
