package dynamo_test

import (
	"testing"
	"time"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

// TestBehavesAsMemory: random sequences of every write agree with package
// memory after each step (storetest.BehavesAsMemory), on DynamoDB Local.
func TestBehavesAsMemory(t *testing.T) {
	storetest.BehavesAsMemory(t, 2, 60, func(t *testing.T, now func() time.Time) installstore.FullStore {
		s, _ := newPlain(t, dynamo.WithClock(now))
		return s
	})
}
