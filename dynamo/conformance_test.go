package dynamo_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/dynamo/dynamotest"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
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
