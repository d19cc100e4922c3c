package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/installstore"
)

// UpdateInstallation implements [installstore.Updater]: one conditional
// write (UpdateItem of LATEST, or TransactWriteItems of LATEST and the
// user's USER# item) whose condition is the LATEST item's version equal to
// inst.Version. A USER# item is only replaced if it exists, so a deleted
// installation is never re-created ([installstore.ErrNotFound]); a deleted
// and re-installed tenant has larger Versions, so an update read before the
// uninstall gives [installstore.ErrConflict].
func (s *Store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	q := inst.Query()
	t := q.Tenant()
	if err := s.checkSecrets("update", inst); err != nil {
		return err
	}
	if err := ctxErr(ctx, "update", t); err != nil {
		return err
	}
	rec := encodeRecord(inst)
	var bot av
	if inst.Bot != nil {
		bot = encodeBot(inst.Bot)
	}
	v := s.newVersion(inst.Version)
	var err error
	if q.UserID == "" {
		err = s.updateLatestOnly(ctx, q, inst.Version, v, rec, bot)
	} else {
		err = s.updateUser(ctx, q, inst.Version, v, rec, bot)
	}
	if err != nil {
		return err
	}
	inst.Version = v
	return nil
}

// updateLatest returns the update of the LATEST item: version and bot, and
// the record when rec is non-nil, under condition cond.
func (s *Store) updateLatest(t installstore.Tenant, expected, v int64, rec, bot av, cond string, extra map[string]av) *types.Update {
	expr := "SET #v = :v"
	names := map[string]string{"#v": attrVersion, "#rec": attrRecord, "#user": "user", "#id": "id"}
	values := map[string]av{":v": nAV(v), ":exp": nAV(expected)}
	if rec != nil {
		expr += ", #rec = :rec"
		values[":rec"] = rec
	}
	if bot != nil {
		expr += ", #bot = :bot"
		names["#bot"] = attrBot
		values[":bot"] = bot
	}
	for k, x := range extra {
		values[k] = x
	}
	return &types.Update{
		TableName:                           aws.String(s.table),
		Key:                                 tenantKey(t, skLatest),
		UpdateExpression:                    aws.String(expr),
		ConditionExpression:                 aws.String("#v = :exp AND " + cond),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// conflictOrNotFound explains a failed condition on the LATEST item: the
// tenant is gone, or its version moved. ok is false when neither holds.
func conflictOrNotFound(q installstore.Query, expected int64, old map[string]av) (err error, ok bool) {
	t := q.Tenant()
	if len(old) == 0 {
		return notFound("update", q), true
	}
	stored, err := versionOf(t, old)
	if err != nil {
		return fmt.Errorf("dynamo: update tenant %s: %w", t, err), true
	}
	if stored != expected {
		return fmt.Errorf("dynamo: update tenant %s: %w (stored %d, expected %d)", t, installstore.ErrConflict, stored, expected), true
	}
	return nil, false
}

func (s *Store) updateLatestOnly(ctx context.Context, q installstore.Query, expected, v int64, rec, bot av) error {
	t := q.Tenant()
	u := s.updateLatest(t, expected, v, rec, bot, "attribute_not_exists(#rec.#user.#id)", nil)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
		ExpressionAttributeValues:           u.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: u.ReturnValuesOnConditionCheckFailure,
	}, retryConflicts)
	if old, failed := conditionFailed(err); failed {
		if err, ok := conflictOrNotFound(q, expected, old); ok {
			return err
		}
		return fmt.Errorf("dynamo: update tenant %s: %w: the latest installation belongs to a user; update it with that User.ID", t, installstore.ErrConflict)
	}
	if err != nil {
		return wrap("update", t, err)
	}
	return nil
}

func (s *Store) updateUser(ctx context.Context, q installstore.Query, expected, v int64, rec, bot av) error {
	t := q.Tenant()
	uidV := map[string]av{":uid": sAV(q.UserID)}
	putUser := &types.Put{
		TableName:                           aws.String(s.table),
		Item:                                userItem(t, q.UserID, rec),
		ConditionExpression:                 aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureNone,
	}
	// Usually the user installed last, and the LATEST record is theirs too.
	latestIsUser := true
	for range 3 {
		var upd *types.Update
		if latestIsUser {
			upd = s.updateLatest(t, expected, v, rec, bot, "#rec.#user.#id = :uid", uidV)
		} else {
			upd = s.updateLatest(t, expected, v, nil, bot, "(attribute_not_exists(#rec.#user.#id) OR #rec.#user.#id <> :uid)", uidV)
		}
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{{Update: upd}, {Put: putUser}},
		}, retryConflicts)
		reasons := cancellation(err)
		switch {
		case reasons == nil && err != nil:
			return wrap("update", t, err)
		case reasons == nil:
			return nil
		case failedReason(reasons[0]):
			if err, ok := conflictOrNotFound(q, expected, reasons[0].Item); ok {
				return err
			}
			latestIsUser = !latestIsUser // same version, other owner of LATEST
		case len(reasons) > 1 && failedReason(reasons[1]):
			return notFound("update", q)
		default:
			return wrap("update", t, err)
		}
	}
	// Unreachable while versions only grow: the owner of LATEST cannot
	// change without its version changing.
	return fmt.Errorf("dynamo: update tenant %s user %s: %w", t, q.UserID, installstore.ErrConflict)
}
