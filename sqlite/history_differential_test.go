package sqlite_test

import (
	"testing"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

// TestHistoryBehavesAsMemory: random stores, Grid joins, deletes of tenants
// and users, conditional deletes, updates, bot revocations and PutHistory
// leave the same history as package memory after every step.
func TestHistoryBehavesAsMemory(t *testing.T) {
	storetest.HistoryBehavesAsMemory(t, 4, 120, func(t *testing.T) installstore.FullStore {
		return newPlain(t, sqlite.WithHistory())
	})
}
