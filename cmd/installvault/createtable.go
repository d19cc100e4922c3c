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
