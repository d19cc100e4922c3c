package redisstore_test

import (
	"testing"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/redisstore"
)

// TestBehavesAsMemory: random sequences of every write agree with package
// memory after each step (storetest.BehavesAsMemory), on a standalone
// server and on the Cluster.
func TestBehavesAsMemory(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			storetest.BehavesAsMemory(t, 3, 80, func(t *testing.T, now func() time.Time) installstore.FullStore {
				s, _ := newPlain(t, client, redisstore.WithClock(now))
				return s
			})
		})
	}
}
