package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/storeurl"
)

func purgeCommand() *command {
	return &command{
		name:    "purge",
		args:    "-team T [-enterprise E] | -enterprise E -org [-store URL]",
		summary: "delete one tenant: its latest installation, bot and every user installation",
		help: `Deletes everything of one tenant, as an app_uninstalled event would, without
asking: a workspace (-team, with -enterprise when it belongs to an Enterprise
Grid organization) or an organization's org-wide install (-enterprise -org).
Nothing of any other tenant is touched: purging a workspace of an organization
leaves the organization's org-wide install, and purging the org-wide install
leaves the workspaces' own installations. It prints what it deleted; a tenant
with no records is an error (exit 1), so a mistyped ID does not pass silently.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			var q installstore.Query
			fs.StringVar(&q.TeamID, "team", "", "workspace `ID` (T...)")
			fs.StringVar(&q.EnterpriseID, "enterprise", "", "Enterprise Grid organization `ID` (E...)")
			fs.BoolVar(&q.IsEnterpriseInstall, "org", false, "purge the organization's org-wide install (needs -enterprise)")
			return func(ctx context.Context) error {
				switch {
				case q.IsEnterpriseInstall && q.TeamID != "":
					return usagef("-org purges an organization: give -enterprise, not -team")
				case q.IsEnterpriseInstall && q.EnterpriseID == "":
					return usagef("-org needs -enterprise")
				case !q.IsEnterpriseInstall && q.TeamID == "":
					return usagef("give -team (or -enterprise with -org)")
				}
				if err := q.Validate(); err != nil {
					return usagef("%v", err)
				}
				if err := tc.resolve(); err != nil {
					return err
				}
				if tc.url.Kind != storeurl.DynamoDB {
					raw, err := tc.rawStore(ctx)
					if err != nil {
						return err
					}
					return purgeListed(ctx, e, raw, q)
				}
				client, err := tc.client(ctx)
				if err != nil {
					return err
				}
				raw, err := dynamo.New(client, tc.table)
				if err != nil {
					return fmt.Errorf("open table %s: %w", tc.table, err)
				}
				return purge(ctx, e, client, raw, tc.table, q)
			}
		},
	}
}

func purge(ctx context.Context, e *env, client *dynamodb.Client, raw *dynamo.Store, table string, q installstore.Query) error {
	t := q.Tenant()
	latest, users, err := tenantItems(ctx, client, table, t)
	if err != nil {
		return fmt.Errorf("purge tenant %s: list its items: %w", t, err)
	}
	return deleteTenant(ctx, e, raw, q, latest, users)
}

// purgeListed is purge for the stores other than DynamoDB: the tenant's
// records are found by listing the store (which names, not shows, the
// records it skips: DeleteInstallation deletes them too).
func purgeListed(ctx context.Context, e *env, raw installstore.FullStore, q installstore.Query) error {
	t := q.Tenant()
	var latest bool
	var users []string
	err := raw.ListInstallations(ctx, func(rq installstore.Query, _ *installstore.Installation) error {
		switch {
		case rq.Tenant() != t:
		case rq.UserID == "":
			latest = true
		default:
			users = append(users, rq.UserID)
		}
		return nil
	})
	if _, complete := countSkipped(err); !complete {
		return fmt.Errorf("purge tenant %s: list its records: %w", t, err)
	}
	slices.Sort(users)
	return deleteTenant(ctx, e, raw, q, latest, users)
}

func deleteTenant(ctx context.Context, e *env, raw installstore.Store, q installstore.Query, latest bool, users []string) error {
	t := q.Tenant()
	if !latest && len(users) == 0 {
		return fmt.Errorf("purge tenant %s: %w: the store holds no record of it", t, installstore.ErrNotFound)
	}
	if err := raw.DeleteInstallation(ctx, q); err != nil {
		return fmt.Errorf("purge tenant %s: %w", t, err)
	}
	if latest {
		fmt.Fprintf(e.stdout, "deleted tenant %s latest installation (and its bot)\n", t)
	}
	for _, u := range users {
		fmt.Fprintf(e.stdout, "deleted tenant %s user %s\n", t, u)
	}
	fmt.Fprintf(e.stdout, "purged %d records of tenant %s\n", len(users)+btoi(latest), t)
	return nil
}

// tenantItems reads the keys (only) of a tenant's items, per the table
// schema documented by package dynamo: partition "T#<tenant>", sort keys
// "LATEST" and "USER#<uid>".
func tenantItems(ctx context.Context, client *dynamodb.Client, table string, t installstore.Tenant) (latest bool, users []string, err error) {
	p := dynamodb.NewQueryPaginator(client, &dynamodb.QueryInput{
		TableName:                aws.String(table),
		KeyConditionExpression:   aws.String("#pk = :pk"),
		ProjectionExpression:     aws.String("#sk"),
		ExpressionAttributeNames: map[string]string{"#pk": "PK", "#sk": "SK"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "T#" + t.Key()},
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, nil, err
		}
		for _, item := range page.Items {
			sk, _ := item["SK"].(*types.AttributeValueMemberS)
			switch {
			case sk == nil:
			case sk.Value == "LATEST":
				latest = true
			case strings.HasPrefix(sk.Value, "USER#"):
				users = append(users, strings.TrimPrefix(sk.Value, "USER#"))
			}
		}
	}
	slices.Sort(users)
	return latest, users, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
