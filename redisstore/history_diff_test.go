package redisstore_test

import (
	"testing"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/redisstore"
)

// TestHistoryBehavesAsMemory: random stores, Grid migrations, deletes,
// conditional deletes, bot revocations, updates and PutHistory leave the
// same history as package memory's after every step, on a standalone
// server and on the Cluster.
func TestHistoryBehavesAsMemory(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			storetest.HistoryBehavesAsMemory(t, 3, 120, func(t *testing.T) installstore.FullStore {
				s, _ := newPlain(t, client, redisstore.WithHistory())
				return s
			})
		})
	}
}
