package postgres_test

import (
	"testing"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// TestHistoryBehavesAsMemory: random stores, Grid joins, deletes of tenants
// and users, conditional deletes, updates, bot revocations and PutHistory
// leave the same history as package memory after every step (listings
// paged two rows at a time).
func TestHistoryBehavesAsMemory(t *testing.T) {
	storetest.HistoryBehavesAsMemory(t, 4, 120, func(t *testing.T) installstore.FullStore {
		s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithHistory(), postgres.WithListPageSize(2))
		return s
	})
}
