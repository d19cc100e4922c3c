package sqlite_test

import (
	"testing"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore { return newPlain(t) })
}
