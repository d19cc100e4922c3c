package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/storeurl"
	"github.com/installvault/installvault/memory"
)

// Data-key cache limits: one data key seals at most this many records and
// lives at most this long, like the AWS Encryption SDK's caching CMM.
const (
	dataKeyMaxAge  = 5 * time.Minute
	dataKeyMaxUses = 1000
)

// storeStack is the store the app uses (sealed over a backend) and, for
// tests and the demo, the backend itself.
type storeStack struct {
	// Sealed opens and seals every secret; the app only uses this.
	Sealed *crypto.Store
	// Backend holds sealed values only.
	Backend installstore.FullStore
	// Describe says what was chosen, for the startup log (no password).
	Describe string
	// Close releases the backend (pool, file, client) once the app has
	// stopped using it.
	Close func() error
}

// openStores builds crypto over the configured backend: INSTALLVAULT_STORE
// (PostgreSQL, SQLite, Redis; their schema is created or upgraded here, at
// start: postgres.Migrate, which replicas may run at once, or a new SQLite
// file), a DynamoDB table (created first with createTable), or memory.
func openStores(ctx context.Context, c *config, createTable bool) (*storeStack, error) {
	var awsCfg *aws.Config
	loadAWS := func() (aws.Config, error) {
		if awsCfg != nil {
			return *awsCfg, nil
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
		}
		awsCfg = &cfg
		return cfg, nil
	}

	var keys crypto.KeyProvider
	var keyDesc string
	if c.KMSKeyID != "" {
		cfg, err := loadAWS()
		if err != nil {
			return nil, err
		}
		keys, err = crypto.NewKMS(kms.NewFromConfig(cfg), c.KMSKeyID)
		if err != nil {
			return nil, fmt.Errorf("KMS key provider: %w", err)
		}
		keyDesc = "AWS KMS key " + c.KMSKeyID
	} else {
		var err error
		if keys, err = localKeyring(c); err != nil {
			return nil, err
		}
		keyDesc = "a local key (development only)"
	}

	var backend installstore.FullStore
	var backDesc string
	closeBackend := func() error { return nil }
	if c.Store != nil {
		s, closeFn, err := c.Store.Open(ctx, storeurl.Options{Create: true})
		if err != nil {
			return nil, err
		}
		backend, backDesc, closeBackend = s, c.Store.String(), closeFn
	} else if c.DynamoTable == "" {
		backend, backDesc = memory.New(), "memory (installations are lost when the process exits)"
	} else {
		cfg, err := loadAWS()
		if err != nil {
			return nil, err
		}
		client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
			if c.DynamoEndpoint != "" {
				o.BaseEndpoint = aws.String(c.DynamoEndpoint)
				if o.Region == "" {
					o.Region = "us-east-1"
				}
				if c.DynamoLocalCredentials {
					// DynamoDB Local accepts any credentials.
					o.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
				}
			}
		})
		if createTable {
			if err := dynamo.CreateTable(ctx, client, c.DynamoTable); err != nil {
				return nil, fmt.Errorf("create DynamoDB table %s: %w", c.DynamoTable, err)
			}
		}
		store, err := dynamo.New(client, c.DynamoTable)
		if err != nil {
			return nil, fmt.Errorf("DynamoDB store: %w", err)
		}
		backend, backDesc = store, "DynamoDB table "+c.DynamoTable
	}

	sealed, err := crypto.NewStore(backend, keys, crypto.WithDataKeyCache(dataKeyMaxAge, dataKeyMaxUses))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("encryption layer: %w", err), closeBackend())
	}
	return &storeStack{Sealed: sealed, Backend: backend, Close: closeBackend,
		Describe: "tokens sealed with " + keyDesc + ", stored in " + backDesc}, nil
}
