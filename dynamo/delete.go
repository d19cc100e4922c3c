package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/installstore"
)

// DeleteInstallation implements [installstore.Store].
//
// With q.UserID it is one TransactWriteItems: delete the USER# item and bump
// the LATEST item's version, dropping the user from the latest record when
// that user installed last.
//
// Without, it removes every item of the tenant: a consistent Query of the
// tenant's partition, BatchWriteItem deletes of every USER# item (25 a
// request, unprocessed items retried with backoff), then a conditional
// delete of the LATEST item on the version the Query saw. A write that
// raced in between moved that version, and the whole pass runs again, so
// nothing written before the delete returns is left behind; the LATEST item
// goes last, so a failure part-way leaves a tenant that a retry finishes,
// never orphaned user items that a re-install could bring back.
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if err := ctxErr(ctx, "delete", q.Tenant()); err != nil {
		return err
	}
	if q.UserID != "" {
		return s.deleteUser(ctx, q)
	}
	return s.deleteTenant(ctx, q.Tenant())
}

// latestOwner returns the user ID of the record in an old LATEST item.
func latestOwner(item map[string]av) string {
	var err error
	rec, _ := dec{m: item, err: &err}.sub(attrRecord)
	u, _ := rec.sub("user")
	return u.s("id")
}

func (s *Store) deleteUser(ctx context.Context, q installstore.Query) error {
	t := q.Tenant()
	names := map[string]string{"#v": attrVersion, "#rec": attrRecord, "#user": "user", "#id": "id"}
	latestIsUser := true
	var floor int64
	for range s.attempts {
		v := s.newVersion(floor)
		values := map[string]av{":v": nAV(v), ":uid": sAV(q.UserID)}
		upd := &types.Update{
			TableName:                           aws.String(s.table),
			Key:                                 tenantKey(t, skLatest),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}
		del := &types.Delete{TableName: aws.String(s.table), Key: tenantKey(t, userSK(q.UserID))}
		if latestIsUser {
			upd.UpdateExpression = aws.String("REMOVE #rec.#user SET #v = :v")
			upd.ConditionExpression = aws.String("#v < :v AND #rec.#user.#id = :uid")
		} else {
			upd.UpdateExpression = aws.String("SET #v = :v")
			upd.ConditionExpression = aws.String("#v < :v AND (attribute_not_exists(#rec.#user.#id) OR #rec.#user.#id <> :uid)")
			del.ConditionExpression = aws.String("attribute_exists(#pk)")
			del.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
		}
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{{Update: upd}, {Delete: del}},
		}, retryConflicts)
		reasons := cancellation(err)
		switch {
		case reasons == nil && err != nil:
			return wrap("delete user "+q.UserID+" of", t, err)
		case reasons == nil:
			return nil
		case failedReason(reasons[0]):
			old := reasons[0].Item
			if len(old) == 0 {
				return nil // no such tenant
			}
			f, err := versionOf(t, old)
			if err != nil {
				return fmt.Errorf("dynamo: delete tenant %s user %s: %w", t, q.UserID, err)
			}
			floor = max(floor, f)
			latestIsUser = latestOwner(old) == q.UserID
		case len(reasons) > 1 && failedReason(reasons[1]):
			return nil // no such user
		default:
			return wrap("delete user "+q.UserID+" of", t, err)
		}
	}
	return s.tooManyConflicts("delete user "+q.UserID+" of", t)
}

func (s *Store) deleteTenant(ctx context.Context, t installstore.Tenant) error {
	for range s.attempts {
		keys, version, hasLatest, err := s.tenantKeys(ctx, t)
		if err != nil {
			return err
		}
		if err := s.batchDelete(ctx, t, keys); err != nil {
			return err
		}
		if !hasLatest {
			return nil
		}
		_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                           aws.String(s.table),
			Key:                                 tenantKey(t, skLatest),
			ConditionExpression:                 aws.String("#v = :v"),
			ExpressionAttributeNames:            map[string]string{"#v": attrVersion},
			ExpressionAttributeValues:           map[string]av{":v": nAV(version)},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, retryConflicts)
		if old, failed := conditionFailed(err); failed {
			if len(old) == 0 {
				return nil // deleted by someone else meanwhile
			}
			continue // written meanwhile: delete what it wrote too
		}
		if err != nil {
			return wrap("delete", t, err)
		}
		return nil
	}
	return s.tooManyConflicts("delete", t)
}

// tenantKeys returns the keys of every item of tenant t but LATEST, and the
// LATEST item's version if it exists.
func (s *Store) tenantKeys(ctx context.Context, t installstore.Tenant) (keys []map[string]av, version int64, hasLatest bool, err error) {
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ProjectionExpression:      aws.String("#pk, #sk, #v"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK, "#v": attrVersion},
		ExpressionAttributeValues: map[string]av{":pk": sAV(tenantPK(t))},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, 0, false, wrap("delete (query)", t, err)
		}
		for _, item := range page.Items {
			var derr error
			d := dec{m: item, err: &derr}
			sk := d.requireS(attrSK)
			if derr == nil && sk == skLatest {
				version = d.requireN(attrVersion)
				hasLatest = true
			} else if derr == nil {
				keys = append(keys, map[string]av{attrPK: item[attrPK], attrSK: item[attrSK]})
			}
			if derr != nil {
				return nil, 0, false, fmt.Errorf("dynamo: delete tenant %s: %w", t, derr)
			}
		}
	}
	return keys, version, hasLatest, nil
}

// DeleteBot implements [installstore.BotDeleter]: one conditional UpdateItem
// removing the LATEST item's bot and bumping its version.
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	if err := ctxErr(ctx, "delete bot", t); err != nil {
		return err
	}
	var floor int64
	for range s.attempts {
		v := s.newVersion(floor)
		_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           aws.String(s.table),
			Key:                                 tenantKey(t, skLatest),
			UpdateExpression:                    aws.String("REMOVE #bot SET #v = :v"),
			ConditionExpression:                 aws.String("attribute_exists(#bot) AND #v < :v"),
			ExpressionAttributeNames:            map[string]string{"#bot": attrBot, "#v": attrVersion},
			ExpressionAttributeValues:           map[string]av{":v": nAV(v)},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, retryConflicts)
		if old, failed := conditionFailed(err); failed {
			if _, hasBot := old[attrBot]; !hasBot {
				return nil // no tenant, or no bot: nothing to revoke
			}
			if floor, err = versionOf(t, old); err != nil {
				return fmt.Errorf("dynamo: delete bot of tenant %s: %w", t, err)
			}
			continue
		}
		if err != nil {
			return wrap("delete bot of", t, err)
		}
		return nil
	}
	return s.tooManyConflicts("delete bot of", t)
}
