package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/internal/storeurl"
)

func createTableCommand() *command {
	return &command{
		name:    "create-table",
		args:    "[-store URL] [-endpoint URL]",
		summary: "create the store: the DynamoDB table (dynamo.CreateTable), PostgreSQL schema (postgres.Migrate) or SQLite file",
		help: `For a dynamodb: store, creates the table (PK/SK string keys, on-demand capacity,
TTL on "ttl", the due index) and waits until it is active. It fails if the
table exists.

For a postgres:// store, runs postgres.Migrate: creates or upgrades the schema
in the first schema of the connection's search_path (add ?search_path=NAME to
the URL for another than public). It is idempotent, and safe beside running
replicas. For a sqlite: store, creates the file (mode 0600) or upgrades its
schema. Other commands never create a schema or file: a mistyped URL fails
instead of making an empty store. A redis:// store needs nothing: this checks
that the server answers.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			return func(ctx context.Context) error {
				if err := tc.resolve(); err != nil {
					return err
				}
				switch tc.url.Kind {
				case storeurl.DynamoDB:
					client, err := tc.client(ctx)
					if err != nil {
						return err
					}
					if err := dynamo.CreateTable(ctx, client, tc.table); err != nil {
						return fmt.Errorf("create table %s: %w", tc.table, err)
					}
					fmt.Fprintf(e.stdout, "created table %s\n", tc.table)
					return nil
				}
				tc.create = true
				if _, err := tc.rawStore(ctx); err != nil {
					return fmt.Errorf("create %s: %w", tc.desc(), err)
				}
				switch tc.url.Kind {
				case storeurl.Postgres:
					fmt.Fprintf(e.stdout, "%s has the current schema (postgres.Migrate)\n", tc.desc())
				case storeurl.SQLite:
					fmt.Fprintf(e.stdout, "%s has the current schema\n", tc.desc())
				default:
					fmt.Fprintf(e.stdout, "%s answers; Redis needs no table: nothing to create\n", tc.desc())
				}
				return nil
			}
		},
	}
}

func addDueIndexCommand() *command {
	return &command{
		name:    "add-due-index",
		args:    "[-store dynamodb:TABLE] [-endpoint URL]",
		summary: "add the due index to a table made before it, and fill it in (dynamo.AddDueIndex)",
		help: `Tables made by create-table have the due index that the background refresh
reads (a sparse global secondary index "due"). For a table made before it, this
adds the index online (UpdateTable: the table keeps serving), waits until
DynamoDB has built it (minutes on a large table; Ctrl-C stops the wait, and a
later run picks up where the index is), then sets the unsealed due attributes
on every item holding a rotating token, opening nothing. It is idempotent: run
it again at any time, for instance once every replica runs a version that
maintains the index, to repair what older versions wrote. Corrupt items are
left alone, named on stderr, and make it exit 1. It is for dynamodb: stores
only: PostgreSQL, SQLite and Redis stores have their due index from the start
(a postgres:// schema made before it gets it from create-table).`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			return func(ctx context.Context) error {
				if err := tc.dynamoOnly("add-due-index", "PostgreSQL, SQLite and Redis stores have their due index from the start; for postgres:// run create-table to upgrade a schema"); err != nil {
					return err
				}
				client, err := tc.client(ctx)
				if err != nil {
					return err
				}
				err = dynamo.AddDueIndex(ctx, client, tc.table)
				if _, complete := countSkipped(err); !complete {
					return fmt.Errorf("add due index to table %s: %w", tc.table, err)
				}
				fmt.Fprintf(e.stdout, "table %s has the due index, filled in\n", tc.table)
				return skippedRecords(e, "add due index to table "+tc.table, err)
			}
		},
	}
}
