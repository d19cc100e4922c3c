package dynamo_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// newPlain returns a store over a fresh table that accepts the suite's
// plaintext fixtures.
func newPlain(t *testing.T, opts ...dynamo.Option) (*dynamo.Store, string) {
	t.Helper()
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	s, err := dynamo.New(client, table, append([]dynamo.Option{dynamo.WithPlaintextSecrets()}, opts...)...)
	require.NoError(t, err)
	return s, table
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, _ := newPlain(t)
		return s
	})
}

// A table made before the due index, upgraded with AddDueIndex, is as good
// as one made by CreateTable.
func TestConformanceOnUpgradedTable(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		client := dynamotest.Client(t)
		table := createLegacyTable(t, client, false)
		require.NoError(t, dynamo.AddDueIndex(t.Context(), client, table))
		s, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
		require.NoError(t, err)
		return s
	})
}
