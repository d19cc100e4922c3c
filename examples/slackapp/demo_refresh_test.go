package main

import (
	"testing"
	"time"

	"github.com/installvault/installvault/rotation"
)

// TestDemoRefreshMarginFitsTheTokenLifetime: a short -demo-token-lifetime
// gets a margin inside it, so the demo does not refresh on every use.
func TestDemoRefreshMarginFitsTheTokenLifetime(t *testing.T) {
	for lifetime, want := range map[time.Duration]time.Duration{
		12 * time.Hour:  rotation.DefaultRefreshBefore,
		24 * time.Hour:  rotation.DefaultRefreshBefore,
		time.Hour:       10 * time.Minute,
		6 * time.Minute: time.Minute,
	} {
		if got := refreshBeforeFor(lifetime); got != want || got >= lifetime {
			t.Errorf("refreshBeforeFor(%v) = %v, want %v (inside the lifetime)", lifetime, got, want)
		}
	}
}
