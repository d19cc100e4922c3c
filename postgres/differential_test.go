package postgres_test

import (
	"testing"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// TestBehavesAsMemory: random sequences of every write agree with package
// memory after each step (storetest.BehavesAsMemory), with listing pages of
// 3 rows so that keyset pagination crosses tenants and users.
func TestBehavesAsMemory(t *testing.T) {
	storetest.BehavesAsMemory(t, 6, 100, func(t *testing.T, now func() time.Time) installstore.FullStore {
		s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithClock(now), postgres.WithListPageSize(3))
		return s
	})
}
