package sqlite_test

import (
	"testing"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

// TestBehavesAsMemory: random sequences of every write agree with package
// memory after each step (storetest.BehavesAsMemory).
func TestBehavesAsMemory(t *testing.T) {
	storetest.BehavesAsMemory(t, 8, 120, func(t *testing.T, now func() time.Time) installstore.FullStore {
		return newPlain(t, sqlite.WithClock(now))
	})
}
