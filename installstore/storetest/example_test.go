package storetest_test

import (
	"testing"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// Every backend and layer runs the suite from its own test, with a
// constructor that returns a fresh, empty store per subtest.
func ExampleRun() {
	_ = func(t *testing.T) {
		storetest.Run(t, func(*testing.T) installstore.FullStore { return memory.New() })
	}
}

// TestRunOnMemory keeps the suite itself honest: it passes on the reference backend.
func TestRunOnMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) installstore.FullStore { return memory.New() })
}
