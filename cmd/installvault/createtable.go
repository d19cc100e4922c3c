package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/installvault/installvault/dynamo"
)

func createTableCommand() *command {
	return &command{
		name:    "create-table",
		args:    "[-table name] [-endpoint URL]",
		summary: "create the DynamoDB table with installvault's schema (dynamo.CreateTable)",
		help: `Creates the table (PK/SK string keys, on-demand capacity, TTL on "ttl") and waits
until it is active. It fails if the table exists.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			return func(ctx context.Context) error {
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
		},
	}
}

func addDueIndexCommand() *command {
	return &command{
		name:    "add-due-index",
		args:    "[-table name] [-endpoint URL]",
		summary: "add the due index to a table made before it, and fill it in (dynamo.AddDueIndex)",
		help: `Tables made by create-table have the due index that the background refresh
reads (a sparse global secondary index "due"). For a table made before it, this
adds the index online (UpdateTable: the table keeps serving), waits until
DynamoDB has built it (minutes on a large table; Ctrl-C stops the wait, and a
later run picks up where the index is), then sets the unsealed due attributes
on every item holding a rotating token, opening nothing. It is idempotent: run
it again at any time, for instance once every replica runs a version that
maintains the index, to repair what older versions wrote. Corrupt items are
left alone, named on stderr, and make it exit 1.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			return func(ctx context.Context) error {
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
