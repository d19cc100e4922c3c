package postgres_test

import (
	"context"
	"encoding/base64"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/postgres"
)

// The production stack on PostgreSQL: migrate at start-up (safe from every
// replica at once), then the encryption layer over the backend.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL")) // e.g. postgres://app@db:5432/app?search_path=installvault
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool); err != nil {
		log.Fatal(err)
	}
	backend, err := postgres.New(pool)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": loadKey()}, "k1") // or crypto.NewKMS
	if err != nil {
		log.Fatal(err)
	}
	store, err := crypto.NewStore(backend, keys)
	if err != nil {
		log.Fatal(err)
	}
	inst, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T123"})
	if err != nil {
		log.Fatal(err)
	}
	_ = inst.Bot.Token // sealed in the database, opened here
}

// loadKey returns the app's 32-byte master key (openssl rand -base64 32),
// from wherever the app keeps secrets.
func loadKey() []byte {
	key, err := base64.StdEncoding.DecodeString(os.Getenv("APP_MASTER_KEY"))
	if err != nil {
		log.Fatal("APP_MASTER_KEY is not base64")
	}
	return key
}

// Two Slack apps in one schema, each with its installation history: every
// replica of an app builds its store with the app's client ID, and an
// uninstall purges the workspace's history with its records.
func ExampleWithClientID() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool); err != nil {
		log.Fatal(err)
	}
	backend, err := postgres.New(pool, postgres.WithClientID(os.Getenv("SLACK_CLIENT_ID")), postgres.WithHistory())
	if err != nil {
		log.Fatal(err) // a malformed client ID: installstore.ErrInvalid
	}
	err = backend.ListHistory(ctx, installstore.Query{TeamID: "T123"}, func(inst *installstore.Installation) error {
		log.Printf("installed by %s at %s", inst.User.ID, inst.InstalledAt)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
