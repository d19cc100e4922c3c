package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/postgres"
	"github.com/installvault/installvault/redisstore"
	"github.com/installvault/installvault/sqlite"
)

// Options configure [URL.Open].
type Options struct {
	// Create lets Open create or upgrade the schema: postgres.Migrate for
	// PostgreSQL, a new file for SQLite. Without it, Open checks a
	// PostgreSQL schema (postgres.CheckSchema) and needs an existing SQLite
	// file (sqlite.Open still upgrades an older file's schema), and fails
	// with [ErrNoSchema] otherwise. DynamoDB tables and Redis need nothing.
	Create bool
	// DynamoDB returns the client of a dynamodb: URL's table (the caller
	// owns the AWS configuration: region, endpoint, credentials). It is
	// required for dynamodb: URLs only.
	DynamoDB func(ctx context.Context) (*dynamodb.Client, error)
	// History opens the store with installation history on (each
	// backend's WithHistory).
	History bool
	// ClientID scopes the store to one Slack app of several sharing the
	// table (each backend's WithClientID); "" opens it unscoped.
	ClientID string
	// ScanSegments sets the parallel Scan segments of a dynamodb: store's
	// listings (dynamo.WithScanSegments); 0 keeps package dynamo's default.
	// Other backends ignore it.
	ScanSegments int
}

// Open parses s and opens it: [Parse] then [URL.Open].
func Open(ctx context.Context, s string, o Options) (installstore.FullStore, func() error, error) {
	u, err := Parse(s)
	if err != nil {
		return nil, nil, err
	}
	return u.Open(ctx, o)
}

// Open connects to the backend and returns it with the function that
// releases it (close the pool, the file, the client; call it once, when
// done). The store holds sealed values only: wrap it with crypto.NewStore.
// Errors never hold the URL's password.
func (u *URL) Open(ctx context.Context, o Options) (installstore.FullStore, func() error, error) {
	s, closeFn, err := u.open(ctx, o)
	if err != nil {
		return nil, nil, u.scrub(fmt.Errorf("open store %s: %w", u, err))
	}
	return s, func() error { return u.scrub(closeFn()) }, nil
}

func (u *URL) open(ctx context.Context, o Options) (installstore.FullStore, func() error, error) {
	nothing := func() error { return nil }
	switch u.Kind {
	case DynamoDB:
		if o.DynamoDB == nil {
			return nil, nil, fmt.Errorf("%w: no DynamoDB client configured", installstore.ErrInvalid)
		}
		client, err := o.DynamoDB(ctx)
		if err != nil {
			return nil, nil, err
		}
		var opts []dynamo.Option
		if o.History {
			opts = append(opts, dynamo.WithHistory())
		}
		if o.ClientID != "" {
			opts = append(opts, dynamo.WithClientID(o.ClientID))
		}
		if o.ScanSegments != 0 {
			opts = append(opts, dynamo.WithScanSegments(o.ScanSegments))
		}
		s, err := dynamo.New(client, u.Table, opts...)
		if err != nil {
			return nil, nil, err
		}
		return s, nothing, nil
	case Postgres:
		cfg, err := pgxpool.ParseConfig(u.raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", installstore.ErrInvalid, err)
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", installstore.ErrInvalid, err)
		}
		if o.Create {
			err = postgres.Migrate(ctx, pool)
		} else if err = postgres.CheckSchema(ctx, pool); errors.Is(err, installstore.ErrInvalid) {
			err = fmt.Errorf("%w: %w", ErrNoSchema, err)
		}
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		var opts []postgres.Option
		if o.History {
			opts = append(opts, postgres.WithHistory())
		}
		if o.ClientID != "" {
			opts = append(opts, postgres.WithClientID(o.ClientID))
		}
		s, err := postgres.New(pool, opts...)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return s, func() error { pool.Close(); return nil }, nil
	case SQLite:
		if !o.Create {
			fi, err := os.Stat(u.Path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil, nil, fmt.Errorf("%w: %w: %s does not exist", installstore.ErrInvalid, ErrNoSchema, u.Path)
			case err != nil:
				return nil, nil, err
			case !fi.Mode().IsRegular():
				return nil, nil, fmt.Errorf("%w: %s is not a file", installstore.ErrInvalid, u.Path)
			}
		}
		var opts []sqlite.Option
		if o.History {
			opts = append(opts, sqlite.WithHistory())
		}
		if o.ClientID != "" {
			opts = append(opts, sqlite.WithClientID(o.ClientID))
		}
		s, err := sqlite.Open(ctx, u.Path, opts...)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case Redis, RedisCluster:
		var client redis.UniversalClient
		if u.Kind == Redis {
			opts, err := redisOptions(u)
			if err != nil {
				return nil, nil, err
			}
			client = redis.NewClient(opts)
		} else {
			opts, err := clusterOptions(u)
			if err != nil {
				return nil, nil, err
			}
			client = redis.NewClusterClient(opts)
		}
		opts := []redisstore.Option{redisstore.WithKeyPrefix(u.Prefix)}
		if o.History {
			opts = append(opts, redisstore.WithHistory())
		}
		if o.ClientID != "" {
			opts = append(opts, redisstore.WithClientID(o.ClientID))
		}
		s, err := redisstore.New(client, opts...)
		if err == nil {
			if perr := client.Ping(ctx).Err(); perr != nil {
				err = fmt.Errorf("%w: ping: %w", installstore.ErrUnavailable, perr)
			}
		}
		if err != nil {
			_ = client.Close()
			return nil, nil, err
		}
		return s, client.Close, nil
	}
	return nil, nil, fmt.Errorf("%w: unknown kind %q", installstore.ErrInvalid, u.Kind)
}

func redisOptions(u *URL) (*redis.Options, error) {
	o, err := redis.ParseURL(u.raw)
	if err != nil {
		return nil, u.scrub(invalid(u.redacted, "%v", err))
	}
	return o, nil
}

func clusterOptions(u *URL) (*redis.ClusterOptions, error) {
	o, err := redis.ParseClusterURL(u.raw)
	if err != nil {
		return nil, u.scrub(invalid(u.redacted, "%v", err))
	}
	return o, nil
}

// scrub returns err with every form of the URL's password replaced in its
// message; errors.Is and errors.As see err's chain unchanged.
func (u *URL) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if len(u.secrets) == 0 || u.raw == "" {
		return err
	}
	// The whole raw URL first: a parser may quote it.
	clean := strings.ReplaceAll(msg, u.raw, u.redacted)
	for _, s := range u.secrets {
		clean = strings.ReplaceAll(clean, s, redactedPassword)
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

// scrubbed is an error whose message had a password removed.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
