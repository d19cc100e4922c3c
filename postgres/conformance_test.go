package postgres_test

import (
	"testing"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/postgres"
	"github.com/installvault/installvault/postgres/pgtest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets())
		return s
	})
}
