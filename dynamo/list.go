package dynamo

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/installstore"
)

// transactGetLimit is TransactGetItems' limit on items per request.
const transactGetLimit = 100

// ListInstallations implements [installstore.Lister]. A consistent Scan
// finds the tenants' LATEST items; per tenant, a Query lists its USER# keys
// and TransactGetItems reads them with the LATEST item (99 users a request),
// so that every listed user record carries the Version it was current
// under: an [installstore.Updater] write based on a listed record never
// overwrites a newer one.
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	p := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          aws.String("#sk = :latest AND begins_with(#pk, :t)"),
		ProjectionExpression:      aws.String("#pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]av{":latest": sAV(skLatest), ":t": sAV(pkTenant)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrapKey("list (scan)", err)
		}
		for _, item := range page.Items {
			var derr error
			pk := dec{m: item, err: &derr}.requireS(attrPK)
			t, ok := parseTenantPK(pk)
			if derr == nil && !ok {
				derr = fmt.Errorf("%w: attribute %s: not a tenant key", ErrMalformedItem, attrPK)
			}
			if derr != nil {
				return fmt.Errorf("dynamo: list: %w", derr)
			}
			if err := s.listTenant(ctx, t, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseTenantPK is the inverse of tenantPK.
func parseTenantPK(pk string) (installstore.Tenant, bool) {
	rest, ok := strings.CutPrefix(pk, pkTenant)
	if !ok {
		return installstore.Tenant{}, false
	}
	ent, team, ok := strings.Cut(rest, ":")
	if !ok || (ent == "" && team == "") || strings.Contains(team, ":") {
		return installstore.Tenant{}, false
	}
	return installstore.Tenant{EnterpriseID: ent, TeamID: team}, true
}

func (s *Store) listTenant(ctx context.Context, t installstore.Tenant, fn func(installstore.Query, *installstore.Installation) error) error {
	base := installstore.Query{EnterpriseID: t.EnterpriseID, TeamID: t.TeamID, IsEnterpriseInstall: t.IsEnterprise()}
	users, err := s.userIDs(ctx, t)
	if err != nil {
		return err
	}
	first := true
	for start := 0; first || start < len(users); start += transactGetLimit - 1 {
		chunk := users[start:min(start+transactGetLimit-1, len(users))]
		gets := []types.TransactGetItem{{Get: &types.Get{TableName: aws.String(s.table), Key: tenantKey(t, skLatest)}}}
		for _, uid := range chunk {
			gets = append(gets, types.TransactGetItem{Get: &types.Get{TableName: aws.String(s.table), Key: tenantKey(t, userSK(uid))}})
		}
		out, err := s.client.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets}, retryConflicts)
		if err != nil {
			return wrap("list", t, err)
		}
		if len(out.Responses) != len(gets) {
			return fmt.Errorf("dynamo: list tenant %s: %w: TransactGetItems returned %d responses for %d gets", t, ErrMalformedItem, len(out.Responses), len(gets))
		}
		if len(out.Responses[0].Item) == 0 {
			return nil // deleted meanwhile
		}
		latest, err := decodeLatest(t, out.Responses[0].Item)
		if err != nil {
			return fmt.Errorf("dynamo: list tenant %s: %w", t, err)
		}
		if first {
			first = false
			if err := fn(base, latest.install(nil)); err != nil {
				return err
			}
		}
		for i, uid := range chunk {
			item := out.Responses[i+1].Item
			if len(item) == 0 {
				continue // deleted meanwhile
			}
			rec, err := decodeUser(t, uid, item)
			if err != nil {
				return fmt.Errorf("dynamo: list tenant %s user %s: %w", t, uid, err)
			}
			uq := base
			uq.UserID = uid
			if err := fn(uq, latest.install(rec)); err != nil {
				return err
			}
		}
	}
	return nil
}

// userIDs returns the IDs of tenant t's USER# items.
func (s *Store) userIDs(ctx context.Context, t installstore.Tenant) ([]string, error) {
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :u)"),
		ProjectionExpression:      aws.String("#sk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]av{":pk": sAV(tenantPK(t)), ":u": sAV(skUser)},
		ConsistentRead:            aws.Bool(true),
	})
	var ids []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap("list (query)", t, err)
		}
		for _, item := range page.Items {
			var derr error
			sk := dec{m: item, err: &derr}.requireS(attrSK)
			if derr != nil {
				return nil, fmt.Errorf("dynamo: list tenant %s: %w", t, derr)
			}
			ids = append(ids, strings.TrimPrefix(sk, skUser))
		}
	}
	return ids, nil
}
