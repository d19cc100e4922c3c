package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/installstore"
)

// StoreInstallation implements [installstore.Store]: one UpdateItem of the
// tenant's LATEST item, or, when inst has a User.ID, one TransactWriteItems
// of the LATEST and USER# items. The LATEST item's condition only requires
// its version to be smaller than the new one; a writer whose clock is behind
// re-reads the version from the failed condition and writes version+1.
func (s *Store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	t := inst.Tenant()
	if err := s.checkSecrets("store", inst); err != nil {
		return err
	}
	if err := ctxErr(ctx, "store", t); err != nil {
		return err
	}
	if inst.InstalledAt.IsZero() {
		inst.InstalledAt = s.now()
	}
	rec := encodeRecord(inst)
	var bot av
	if inst.Bot != nil {
		bot = encodeBot(inst.Bot)
	}
	var floor int64
	for range s.attempts {
		v := s.newVersion(floor)
		upd := storeLatest(s.table, t, rec, bot, v)
		var old map[string]av
		var failed bool
		var err error
		if inst.User.ID == "" {
			_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: upd.TableName, Key: upd.Key,
				UpdateExpression:                    upd.UpdateExpression,
				ConditionExpression:                 upd.ConditionExpression,
				ExpressionAttributeNames:            upd.ExpressionAttributeNames,
				ExpressionAttributeValues:           upd.ExpressionAttributeValues,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}, retryConflicts)
			old, failed = conditionFailed(err)
		} else {
			_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
				TransactItems: []types.TransactWriteItem{
					{Update: upd},
					{Put: &types.Put{TableName: aws.String(s.table), Item: userItem(t, inst.User.ID, rec)}},
				},
			}, retryConflicts)
			if reasons := cancellation(err); reasons != nil && failedReason(reasons[0]) {
				old, failed = reasons[0].Item, true
			}
		}
		if failed {
			// Our clock is behind the tenant's version: retry above it.
			f, err := versionOf(t, old)
			if err != nil {
				return fmt.Errorf("dynamo: store tenant %s: %w", t, err)
			}
			floor = f
			continue
		}
		if err != nil {
			return wrap("store", t, err)
		}
		inst.Version = v
		return nil
	}
	return s.tooManyConflicts("store", t)
}

// storeLatest writes a tenant's latest record, its bot when bot is non-nil,
// and version v, provided the stored version is smaller.
func storeLatest(table string, t installstore.Tenant, rec, bot av, v int64) *types.Update {
	expr := "SET #rec = :rec, #v = :v"
	names := map[string]string{"#rec": attrRecord, "#v": attrVersion}
	values := map[string]av{":rec": rec, ":v": nAV(v)}
	if bot != nil {
		expr += ", #bot = :bot"
		names["#bot"] = attrBot
		values[":bot"] = bot
	}
	return &types.Update{
		TableName:                           aws.String(table),
		Key:                                 tenantKey(t, skLatest),
		UpdateExpression:                    aws.String(expr),
		ConditionExpression:                 aws.String("attribute_not_exists(#v) OR #v < :v"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

func userItem(t installstore.Tenant, uid string, rec av) map[string]av {
	item := tenantKey(t, userSK(uid))
	item[attrRecord] = rec
	return item
}

// versionOf returns the version of an old LATEST item returned by a failed
// condition; 0 when there is none.
func versionOf(t installstore.Tenant, item map[string]av) (int64, error) {
	if len(item) == 0 {
		return 0, nil
	}
	var err error
	v := dec{m: item, err: &err}.requireN(attrVersion)
	if err != nil {
		return 0, fmt.Errorf("LATEST item of tenant %s: %w", t, err)
	}
	return v, nil
}

// FetchInstallation implements [installstore.Store]: one consistent GetItem
// of the LATEST item without q.UserID; with it, one TransactGetItems of the
// LATEST and USER# items, a snapshot that never pairs a user's record with a
// Version it was not written under. The enterprise fallback costs a second
// read only when the workspace has no installation.
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx, "fetch", q.Tenant()); err != nil {
		return nil, err
	}
	inst, exists, err := s.fetch(ctx, q.Tenant(), q.UserID)
	if err != nil {
		return nil, err
	}
	if !exists && !q.IsEnterpriseInstall && q.EnterpriseID != "" {
		inst, _, err = s.fetch(ctx, installstore.Tenant{EnterpriseID: q.EnterpriseID}, q.UserID)
		if err != nil {
			return nil, err
		}
	}
	if inst == nil {
		return nil, notFound("fetch", q)
	}
	return inst, nil
}

// fetch reads tenant t's latest installation, or user uid's, and reports
// whether the tenant exists.
func (s *Store) fetch(ctx context.Context, t installstore.Tenant, uid string) (*installstore.Installation, bool, error) {
	latestRaw, userRaw, err := s.read(ctx, t, uid)
	if err != nil {
		return nil, false, wrap("fetch", t, err)
	}
	if len(latestRaw) == 0 {
		return nil, false, nil
	}
	latest, err := decodeLatest(t, latestRaw)
	if err != nil {
		return nil, true, fmt.Errorf("dynamo: fetch tenant %s: %w", t, err)
	}
	if uid == "" {
		return latest.install(nil), true, nil
	}
	if len(userRaw) == 0 {
		return nil, true, nil
	}
	rec, err := decodeUser(t, uid, userRaw)
	if err != nil {
		return nil, true, fmt.Errorf("dynamo: fetch tenant %s user %s: %w", t, uid, err)
	}
	return latest.install(rec), true, nil
}

// read returns the raw LATEST item and, when uid is set, USER# item of
// tenant t, read together.
func (s *Store) read(ctx context.Context, t installstore.Tenant, uid string) (latest, user map[string]av, err error) {
	if uid == "" {
		out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(s.table),
			Key:            tenantKey(t, skLatest),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, nil, err
		}
		return out.Item, nil, nil
	}
	out, err := s.client.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{
		TransactItems: []types.TransactGetItem{
			{Get: &types.Get{TableName: aws.String(s.table), Key: tenantKey(t, skLatest)}},
			{Get: &types.Get{TableName: aws.String(s.table), Key: tenantKey(t, userSK(uid))}},
		},
	}, retryConflicts)
	if err != nil {
		return nil, nil, err
	}
	if len(out.Responses) != 2 {
		return nil, nil, fmt.Errorf("%w: TransactGetItems returned %d responses for 2 gets", ErrMalformedItem, len(out.Responses))
	}
	return out.Responses[0].Item, out.Responses[1].Item, nil
}
