package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
)

// The store refuses plaintext tokens before any request is made: wrap it
// with package crypto, which seals them.
func ExampleNew() {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	store, err := dynamo.New(client, "installations")
	if err != nil {
		log.Fatal(err)
	}
	err = store.StoreInstallation(context.Background(), &installstore.Installation{
		TeamID: "T0ACME",
		Bot:    &installstore.Bot{ID: "B1", Token: installstore.NewSecret("xoxb-test-plaintext")},
	})
	fmt.Println(errors.Is(err, installstore.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// dynamo: store tenant T0ACME: invalid: secret bot.token is not sealed by package crypto (wrap the store with crypto.NewStore, or use WithPlaintextSecrets for local experiments)
}

// Production setup: the table is created once (or by your infrastructure
// tooling, with the schema of the package documentation), and every replica
// opens the store over it.
func ExampleCreateTable() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg)
	if err := dynamo.CreateTable(ctx, client, "installvault"); err != nil {
		log.Fatal(err)
	}
	store, err := dynamo.New(client, "installvault")
	if err != nil {
		log.Fatal(err)
	}
	_ = store // wrap with crypto.NewStore(store, keys) before use
}

// A table made before the due index existed gets it online, filled in from
// the items' unsealed expiry attributes; running it again is harmless.
func ExampleAddDueIndex() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg)
	if err := dynamo.AddDueIndex(ctx, client, "installvault"); err != nil {
		// errors.Is(err, installstore.ErrCorrupt): the index is in place,
		// and err names the items that do not decode.
		log.Fatal(err)
	}
}

// Two Slack apps share one table: each store sees its own app's
// installations only, and keeps their history.
func ExampleWithClientID() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg)
	sales, err := dynamo.New(client, "installvault", dynamo.WithClientID("1234567890.1111111111"), dynamo.WithHistory())
	if err != nil {
		log.Fatal(err) // errors.Is(err, installstore.ErrInvalid): a malformed client ID
	}
	support, err := dynamo.New(client, "installvault", dynamo.WithClientID("1234567890.2222222222"), dynamo.WithHistory())
	if err != nil {
		log.Fatal(err)
	}
	_, _ = sales, support // wrap each with crypto.NewStore(store, keys) before use
}
