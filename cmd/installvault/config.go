package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/logging"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/storeurl"
)

// Environment variables.
const (
	envStore        = "INSTALLVAULT_STORE"
	envTable        = "INSTALLVAULT_DYNAMODB_TABLE"
	envClientID     = "INSTALLVAULT_CLIENT_ID"
	envEndpoint     = "INSTALLVAULT_DYNAMODB_ENDPOINT"
	envKMSKey       = "INSTALLVAULT_KMS_KEY_ID"
	envKMSEndpoint  = "INSTALLVAULT_KMS_ENDPOINT"
	envLocalKeys    = "INSTALLVAULT_LOCAL_KEYS"
	envLocalPrimary = "INSTALLVAULT_LOCAL_PRIMARY"
	envTenantKeys   = "INSTALLVAULT_KMS_TENANT_KEYS"
)

// tableConfig is where the store is: -store (a store URL, see package
// internal/storeurl) or -table (a DynamoDB table), falling back to the
// environment.
type tableConfig struct {
	e        *env
	store    string // -store
	table    string // -table, or the table of a dynamodb: URL once resolved
	endpoint string
	region   string
	// create lets the store be created (postgres.Migrate, a new SQLite
	// file): create-table only.
	create bool
	// history opens the store with installation history on (-history).
	history bool
	// clientID scopes the store to one Slack app (-client-id).
	clientID string
	// segments is the number of parallel Scan segments listing a DynamoDB
	// table (-scan-segments; 0: the dynamo package's default).
	segments int
	url      *storeurl.URL // set by resolve
}

// addScanFlag declares -scan-segments, for the commands that list the
// whole store.
func addScanFlag(fs *flag.FlagSet, c *tableConfig) {
	fs.IntVar(&c.segments, "scan-segments", 8, fmt.Sprintf("parallel Scan `segments` listing a dynamodb: table (1 to %d; more is faster, at a higher momentary read rate)", dynamo.MaxScanSegments))
}

// addHistoryFlag declares -history, for the commands that read or write
// installation history.
func addHistoryFlag(fs *flag.FlagSet, c *tableConfig, what string) {
	fs.BoolVar(&c.history, "history", false, "the store keeps installation history (the app's WithHistory): "+what)
}

func addTableFlags(fs *flag.FlagSet, e *env) *tableConfig {
	c := &tableConfig{e: e}
	fs.StringVar(&c.store, "store", "", "store `URL`: dynamodb:TABLE, postgres://..., sqlite:PATH, redis://HOST:PORT[/DB][?prefix=P], redis-cluster://H1:P1,H2:P2[?prefix=P] (default $"+envStore+")")
	fs.StringVar(&c.table, "table", "", "DynamoDB table `name`, the same as -store dynamodb:name (default $"+envTable+")")
	fs.StringVar(&c.endpoint, "endpoint", "", "DynamoDB endpoint `URL`, e.g. DynamoDB Local, for a dynamodb: store (default $"+envEndpoint+")")
	fs.StringVar(&c.region, "region", "", "AWS `region` (default: the SDK's chain, $AWS_REGION, the profile)")
	fs.StringVar(&c.clientID, "client-id", "", "the Slack app's client `ID` when several apps share the store (the app's WithClientID; default $"+envClientID+"; empty: unscoped)")
	return c
}

// resolve picks the store: -store, else -table, else $INSTALLVAULT_STORE or
// $INSTALLVAULT_DYNAMODB_TABLE (both set is refused unless they agree), and
// parses it. Errors never quote a password of the URL.
func (c *tableConfig) resolve() error {
	if c.url != nil {
		return nil
	}
	var spec string
	switch es, et := c.e.getenv(envStore), c.e.getenv(envTable); {
	case c.store != "" && c.table != "":
		return usagef("-store and -table both name a store: give one")
	case c.store != "":
		spec = c.store
	case c.table != "":
		spec = "dynamodb:" + c.table
	case es != "" && et != "":
		if u, err := storeurl.Parse(es); err != nil || u.Kind != storeurl.DynamoDB || u.Table != et {
			return usagef("%s and %s are both set, to different stores: unset one", envStore, envTable)
		}
		spec = es
	case es != "":
		spec = es
	case et != "":
		spec = "dynamodb:" + et
	default:
		return usagef("no store: set -store or %s (e.g. sqlite:installs.db, postgres://..., dynamodb:TABLE), or -table or %s", envStore, envTable)
	}
	u, err := storeurl.Parse(spec)
	if err != nil {
		return usagef("%v", err)
	}
	if u.Kind == storeurl.DynamoDB {
		c.table = u.Table
		if c.endpoint == "" {
			c.endpoint = c.e.getenv(envEndpoint)
		}
	} else if c.endpoint != "" {
		return usagef("-endpoint is for a dynamodb: store, not %s", u)
	}
	if c.clientID == "" {
		c.clientID = c.e.getenv(envClientID)
	}
	if c.clientID != "" {
		if err := installstore.CheckClientID(c.clientID); err != nil {
			return usagef("-client-id: %v", err)
		}
	}
	c.url = u
	return nil
}

// dynamoOnly fails, as a usage error, unless the store is a DynamoDB table.
func (c *tableConfig) dynamoOnly(cmd, others string) error {
	if err := c.resolve(); err != nil {
		return err
	}
	if c.url.Kind != storeurl.DynamoDB {
		return usagef("%s needs a dynamodb: store, not %s (%s)", cmd, c.url, others)
	}
	return nil
}

// desc names the store in messages: "table NAME" for DynamoDB, else
// "store URL" (password redacted).
func (c *tableConfig) desc() string {
	if c.url == nil {
		return "store"
	}
	if c.url.Kind == storeurl.DynamoDB {
		return "table " + c.table
	}
	return "store " + c.url.String()
}

// awsConfig loads the SDK's default configuration chain (environment,
// shared files, SSO, IMDS) with the region override. The SDK's own log
// output (such as its response-checksum warnings) is dropped: errors carry
// what matters. For a local endpoint (DynamoDB Local, a local KMS) a missing
// region defaults to us-east-1, and a failure to find credentials says
// which dummy ones to set.
func (c *tableConfig) awsConfig(ctx context.Context) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithLogger(logging.Nop{}),
		awsconfig.WithClientLogMode(0),
	}
	if c.region != "" {
		opts = append(opts, awsconfig.WithRegion(c.region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if c.localEndpoint() {
		if cfg.Region == "" {
			cfg.Region = "us-east-1" // a local server accepts any region
		}
		if cfg.Credentials != nil {
			cfg.Credentials = hintingCredentials{cfg.Credentials}
		}
	}
	return cfg, nil
}

// localEndpoint reports whether the DynamoDB or KMS endpoint is on this
// machine.
func (c *tableConfig) localEndpoint() bool {
	for _, e := range []string{c.endpoint, c.e.getenv(envEndpoint), c.e.getenv(envKMSEndpoint)} {
		u, err := url.Parse(e)
		if err != nil || e == "" {
			continue
		}
		switch h := u.Hostname(); {
		case h == "localhost", strings.HasSuffix(h, ".localhost"):
			return true
		default:
			if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
				return true
			}
		}
	}
	return false
}

// hintingCredentials adds to a failure to find AWS credentials, for a
// local endpoint, the dummy credentials that DynamoDB Local accepts.
type hintingCredentials struct{ aws.CredentialsProvider }

// Retrieve implements aws.CredentialsProvider.
func (h hintingCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := h.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return creds, fmt.Errorf("%w (a local endpoint accepts any credentials: set AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x)", err)
	}
	return creds, nil
}

// client returns a DynamoDB client for the table.
func (c *tableConfig) client(ctx context.Context) (*dynamodb.Client, error) {
	if err := c.dynamoOnly("this command", "a DynamoDB client"); err != nil {
		return nil, err
	}
	cfg, err := c.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	endpoint := c.endpoint
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// rawStore opens the store itself, below the encryption layer: secrets
// stay sealed. It is released when the command ends. A PostgreSQL schema
// or SQLite file that does not exist yet is an error (only create-table
// makes them), so a mistyped URL never makes an empty store.
func (c *tableConfig) rawStore(ctx context.Context) (installstore.FullStore, error) {
	if err := c.resolve(); err != nil {
		return nil, err
	}
	if c.segments < 0 || c.segments > dynamo.MaxScanSegments {
		return nil, usagef("-scan-segments must be 0 (the default of package dynamo) to %d", dynamo.MaxScanSegments)
	}
	s, closeFn, err := c.url.Open(ctx, storeurl.Options{
		Create: c.create, DynamoDB: c.client, History: c.history, ClientID: c.clientID, ScanSegments: c.segments,
	})
	switch {
	case errors.Is(err, storeurl.ErrNoSchema):
		return nil, fmt.Errorf("%w (create it with 'installvault create-table')", err)
	case err != nil && c.url.Kind == storeurl.DynamoDB:
		return nil, fmt.Errorf("open table %s: %w", c.table, err)
	case err != nil:
		return nil, err
	}
	c.e.onExit(closeFn)
	return s, nil
}

// keyConfig chooses the KeyProvider: AWS KMS or a development keyring.
type keyConfig struct {
	e            *env
	kmsKey       string
	kmsEndpoint  string
	localPrimary string
	tenantKeys   string
}

func addKeyFlags(fs *flag.FlagSet, e *env) *keyConfig {
	k := &keyConfig{e: e}
	fs.StringVar(&k.kmsKey, "kms-key", "", "AWS KMS key `ID`, ARN or alias sealing new data keys (default $"+envKMSKey+")")
	fs.StringVar(&k.kmsEndpoint, "kms-endpoint", "", "KMS endpoint `URL` (default $"+envKMSEndpoint+")")
	fs.StringVar(&k.tenantKeys, "kms-tenant-keys", "", "JSON `file` of per-tenant KMS keys {\"E1:T2\": \"arn:...\"} (crypto.WithTenantKey; default $"+envTenantKeys+")")
	fs.StringVar(&k.localPrimary, "local-primary", "", "keyring key `name` sealing new data keys, with $"+envLocalKeys+" (default $"+envLocalPrimary+")")
	return k
}

// provider returns the configured KeyProvider. It needs exactly one of a KMS
// key and a local keyring.
func (k *keyConfig) provider(ctx context.Context, tc *tableConfig) (crypto.KeyProvider, error) {
	if k.kmsKey == "" {
		k.kmsKey = k.e.getenv(envKMSKey)
	}
	if k.kmsEndpoint == "" {
		k.kmsEndpoint = k.e.getenv(envKMSEndpoint)
	}
	if k.localPrimary == "" {
		k.localPrimary = k.e.getenv(envLocalPrimary)
	}
	if k.tenantKeys == "" {
		k.tenantKeys = k.e.getenv(envTenantKeys)
	}
	local := k.e.getenv(envLocalKeys)
	switch {
	case k.kmsKey != "" && local != "":
		return nil, usagef("both a KMS key (-kms-key, %s) and %s are set: choose one", envKMSKey, envLocalKeys)
	case k.kmsKey == "" && local == "":
		return nil, usagef("no keys: set -kms-key or %s (AWS KMS), or %s (development keyring)", envKMSKey, envLocalKeys)
	case local != "" && k.tenantKeys != "":
		return nil, usagef("per-tenant KMS keys (-kms-tenant-keys, %s) need a KMS key, not %s", envTenantKeys, envLocalKeys)
	case local != "":
		// One parser for the CLI and the example app; its errors never
		// quote the variable, nor the primary's name (either may hold a key).
		p, err := crypto.ParseLocalKeyring(local, k.localPrimary)
		if err != nil {
			return nil, usagef("%s: %v (several keys need -local-primary or %s)", envLocalKeys, err, envLocalPrimary)
		}
		return p, nil
	}
	var opts []crypto.KMSOption
	if k.tenantKeys != "" {
		data, err := os.ReadFile(k.tenantKeys)
		if err != nil {
			return nil, usagef("per-tenant KMS keys: %v", err)
		}
		perTenant, err := parseTenantKeys(data)
		if err != nil {
			return nil, usagef("per-tenant KMS keys %s: %v", k.tenantKeys, err)
		}
		opts = append(opts, crypto.WithTenantKey(func(t installstore.Tenant) string { return perTenant[t] }))
	}
	cfg, err := tc.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	endpoint := k.kmsEndpoint
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	p, err := crypto.NewKMS(client, k.kmsKey, opts...)
	if err != nil {
		return nil, fmt.Errorf("KMS key %s: %w", k.kmsKey, err)
	}
	return p, nil
}

// sealedStore returns the encryption layer, with the configured keys, over
// inner (the raw store, or a layer over it).
func sealedStore(ctx context.Context, tc *tableConfig, kc *keyConfig, inner installstore.FullStore) (*crypto.Store, error) {
	keys, err := kc.provider(ctx, tc)
	if err != nil {
		return nil, err
	}
	s, err := crypto.NewStore(inner, keys)
	if err != nil {
		return nil, fmt.Errorf("encryption layer: %w", err)
	}
	return s, nil
}
