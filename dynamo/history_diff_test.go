package dynamo_test

import (
	"testing"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

// TestHistoryBehavesAsMemory: random stores (re-installs at a few install
// times, with and without a bot, Grid migrations), user and tenant deletes
// (plain and conditional), bot revocations, updates and PutHistory agree
// with package memory's history after every step, for every tenant and
// user.
func TestHistoryBehavesAsMemory(t *testing.T) {
	storetest.HistoryBehavesAsMemory(t, 3, 120, func(t *testing.T) installstore.FullStore {
		s, _ := newPlain(t, dynamo.WithHistory())
		return s
	})
}
