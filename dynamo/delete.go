package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

// sweepConcurrency bounds the parallel DeleteItem calls of one sweep.
const sweepConcurrency = 8

// DeleteInstallation implements [installstore.Store].
//
// Without q.UserID it deletes the whole tenant in three steps. First one
// UpdateItem turns the LATEST item into a tombstone (no record, no bot, a new
// version): from then on the tenant reads as gone, and a re-install writes
// above the tombstone's version. Then the tenant's other items are deleted
// one conditional DeleteItem each ("written before the tombstone"), so an
// item of a re-install that landed meanwhile is never touched. Last the
// tombstone is deleted, if it is still one. A failure after the first step
// leaves a tenant that reads as deleted and a tombstone that the retried
// delete, or the next install of the tenant, finishes; nothing of it can come
// back.
//
// With q.UserID it is one TransactWriteItems: delete the USER# item and bump
// the LATEST item's version, dropping the user from the latest record when
// that user installed last. When that leaves the tenant with no bot and no
// user holding a token (read with one Query, under the same version), the
// whole tenant is deleted instead.
//
// With [WithHistory], a user delete then deletes the user's history entries
// (one conditional DeleteItem each, written before the delete); a tenant
// delete's sweep removes the tenant's history with its other items.
//
// Deleting a workspace of an enterprise (E, T) then deletes the standalone
// (no enterprise, T) record the same way. A tenant whose LATEST item does not
// decode is deleted whole, whatever its items hold, even by a user delete
// (its records cannot be served anyway).
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	return s.delete(ctx, q, nil)
}

// DeleteInstallationIf implements [installstore.ConditionalDeleter]: as
// [Store.DeleteInstallation], but the step that commits the delete (the
// tombstone of a tenant delete, the transaction of a user delete) is
// conditioned on the LATEST item's version equal to version. When it moved,
// nothing is deleted and the error wraps [installstore.ErrConflict]. A
// tenant that is gone is not an error. For a workspace of an enterprise
// (E, T), the standalone (no enterprise, T) record is deleted too, once the
// condition on (E, T) held; when (E, T) does not exist, nothing is deleted
// (the condition names that tenant exactly: pass the Query of the record a
// fetch fell back to, inst.Query(), to delete that one). A LATEST item that does not decode
// gives [installstore.ErrCorrupt] (its version cannot be compared);
// [Store.DeleteInstallation] purges such a tenant.
func (s *Store) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	return s.delete(ctx, q, &version)
}

func (s *Store) delete(ctx context.Context, q installstore.Query, cond *int64) error {
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	if err := ctxErr(ctx, "delete", t); err != nil {
		return err
	}
	del := func(t installstore.Tenant, cond *int64) (bool, error) {
		if q.UserID != "" {
			return s.deleteUser(ctx, t, q.UserID, cond)
		}
		return s.deleteTenant(ctx, t, cond)
	}
	existed, err := del(t, cond)
	if err != nil || t.EnterpriseID == "" || t.TeamID == "" || (cond != nil && !existed) {
		return err
	}
	_, err = del(installstore.Tenant{TeamID: t.TeamID}, nil)
	return err
}

// deleteTenant deletes every item of tenant t (see DeleteInstallation),
// under the condition that its version is *cond when cond is non-nil. It
// reports whether the tenant existed.
func (s *Store) deleteTenant(ctx context.Context, t installstore.Tenant, cond *int64) (bool, error) {
	var floor int64
	var seen map[string]av // the LATEST item that failed the last condition
	for range s.attempts {
		tv := s.newVersion(floor)
		var c string
		var vals map[string]av
		switch {
		case cond != nil:
			c, vals = "attribute_not_exists(#tomb) AND #v = :want", map[string]av{":want": nAV(*cond)}
		case seen != nil:
			c, vals = rawVersionCond(seen)
		default:
			c = "attribute_exists(#pk) AND attribute_not_exists(#tomb) AND #v < :v"
		}
		u := s.tombstone(t, tv, c, vals, false)
		_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: u.TableName, Key: u.Key,
			UpdateExpression:                    u.UpdateExpression,
			ConditionExpression:                 u.ConditionExpression,
			ExpressionAttributeNames:            u.ExpressionAttributeNames,
			ExpressionAttributeValues:           u.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, retryConflicts)
		if old, failed := conditionFailed(err); failed {
			if len(old) == 0 {
				if cond != nil {
					return false, nil
				}
				return false, s.sweepOrphans(ctx, t)
			}
			l, derr := s.sc.decodeLatest(t, old)
			switch {
			case derr == nil && l.tomb && l.keep && cond == nil:
				// The standalone record a Grid migration superseded: its
				// tombstone keeps its history, which this delete purges.
				// Tombstone it again, without keep.
				seen, floor = old, l.version
				continue
			case derr == nil && l.tomb:
				// A delete in progress, or one that failed part-way: finish it.
				return false, s.finishTomb(ctx, t, l.version, l.keep)
			case cond != nil && derr != nil:
				return true, fmt.Errorf("dynamo: conditional delete tenant %s: %w (DeleteInstallation purges it)", t, derr)
			case cond != nil:
				return true, fmt.Errorf("dynamo: delete tenant %s: %w (stored %d, expected %d)", t, installstore.ErrConflict, l.version, *cond)
			case derr != nil:
				// Corrupt: tombstone it whatever it holds.
				seen = old
				var ignored error
				if v, ok := (dec{m: old, err: &ignored}).n(attrVersion); ok {
					floor = v
				}
				continue
			}
			seen, floor = nil, l.version
			continue
		}
		if err != nil {
			return true, wrap(ctx, "delete", t, err)
		}
		if err := s.finishTomb(ctx, t, tv, false); err != nil {
			return true, fmt.Errorf("%w (the tenant reads as deleted; retry to remove its remaining items)", err)
		}
		return true, nil
	}
	return true, s.tooManyConflicts("delete", t)
}

// rawVersionCond is the condition that the version attribute of a LATEST
// item is still what old holds, whatever its type.
func rawVersionCond(old map[string]av) (string, map[string]av) {
	if v, ok := old[attrVersion]; ok {
		return "#v = :seen", map[string]av{":seen": v}
	}
	return "attribute_exists(#pk) AND attribute_not_exists(#v)", nil
}

// tombstone returns the update that turns tenant t's LATEST item into a
// tombstone of version tv under condition cond; with keep, one whose sweep
// keeps the tenant's history (a Grid migration's).
func (s *Store) tombstone(t installstore.Tenant, tv int64, cond string, vals map[string]av, keep bool) *types.Update {
	u := newUpd(s.sc.key(t, skLatest)).
		Set("#v", ":v", nAV(tv)).
		Set("#tomb", ":true", &types.AttributeValueMemberBOOL{Value: true})
	u.Remove("#rec", "#bot", "#due", "#shard")
	if keep {
		u.Set("#keep", ":true", &types.AttributeValueMemberBOOL{Value: true})
	} else {
		u.Remove("#keep")
	}
	return u.If(cond, vals).build(s.table)
}

// finishTomb sweeps the items of tenant t written before its tombstone of
// version tv (but its history when keep), then deletes the tombstone if it
// is still that one.
func (s *Store) finishTomb(ctx context.Context, t installstore.Tenant, tv int64, keep bool) error {
	if err := s.sweep(ctx, t, tv, keep); err != nil {
		return err
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       s.sc.key(t, skLatest),
		ConditionExpression:       aws.String("#tomb = :true AND #v = :v"),
		ExpressionAttributeNames:  names("#tomb #v"),
		ExpressionAttributeValues: map[string]av{":true": &types.AttributeValueMemberBOOL{Value: true}, ":v": nAV(tv)},
	}, retryConflicts)
	if _, failed := conditionFailed(err); failed {
		return nil // re-installed meanwhile, or finished by another caller
	}
	if err != nil {
		return wrap(ctx, "delete (tombstone)", t, err)
	}
	return nil
}

// sweep deletes every item of tenant t but LATEST (and but its history
// entries, when keep) that was written before version tv (or carries no
// version, or one that does not decode). It pages through the partition, so
// memory stays bounded however many items (history entries) it holds.
func (s *Store) sweep(ctx context.Context, t installstore.Tenant, tv int64, keep bool) error {
	return s.partitionKeys(ctx, t, func(keys []map[string]av) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(sweepConcurrency)
		for _, k := range keys {
			if sk, _ := k[attrSK].(*types.AttributeValueMemberS); keep && sk != nil && strings.HasPrefix(sk.Value, skHist) {
				continue
			}
			g.Go(func() error { return s.sweepItem(gctx, "delete (sweep)", t, k, tv) })
		}
		return g.Wait()
	})
}

// sweepItem deletes the item of tenant t with key k if it was written
// before version tv.
func (s *Store) sweepItem(ctx context.Context, op string, t installstore.Tenant, k map[string]av, tv int64) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       k,
		ConditionExpression:       aws.String("attribute_not_exists(#v) OR NOT attribute_type(#v, :n) OR #v < :tv"),
		ExpressionAttributeNames:  names("#v"),
		ExpressionAttributeValues: map[string]av{":n": sAV("N"), ":tv": nAV(tv)},
	}, retryConflicts)
	if _, failed := conditionFailed(err); failed {
		return nil // written by a later install
	}
	if err != nil {
		return wrap(ctx, op, t, err)
	}
	return nil
}

// sweepOrphans removes the items of a tenant that has no LATEST item: the
// history of a standalone record a Grid migration superseded, or what a
// table writer other than this store left behind. It puts a tombstone
// first, so that an install landing meanwhile keeps its items.
func (s *Store) sweepOrphans(ctx context.Context, t installstore.Tenant) error {
	found := false
	err := s.partitionKeys(ctx, t, func(keys []map[string]av) error {
		found = true
		return errStop
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if err != nil || !found {
		return err
	}
	tv := s.newVersion(0)
	item := s.sc.key(t, skLatest)
	item[attrVersion] = nAV(tv)
	item[attrTomb] = &types.AttributeValueMemberBOOL{Value: true}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: names("#pk"),
	})
	if _, failed := conditionFailed(err); failed {
		return nil // installed meanwhile: its items are its own
	}
	if err != nil {
		return wrap(ctx, "delete (orphans)", t, err)
	}
	return s.finishTomb(ctx, t, tv, false)
}

// partitionKeys calls fn with the keys of the items of tenant t but
// LATEST, one consistent Query page at a time.
func (s *Store) partitionKeys(ctx context.Context, t installstore.Tenant, fn func([]map[string]av) error) error {
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeValues: map[string]av{":pk": sAV(s.sc.pk(t))},
	}
	return s.queryKeys(ctx, "delete (query)", t, in, func(sk string) bool { return sk != skLatest }, fn)
}

// queryKeys runs the key condition of in on the table, consistently,
// projecting the keys, and calls fn with the keys of each page's items
// whose sort key keep accepts; what names the operation in errors.
func (s *Store) queryKeys(ctx context.Context, what string, t installstore.Tenant, in *dynamodb.QueryInput, keep func(sk string) bool, fn func([]map[string]av) error) error {
	in.TableName = aws.String(s.table)
	in.ProjectionExpression = aws.String("#pk, #sk")
	in.ExpressionAttributeNames = names("#pk #sk")
	in.ConsistentRead = aws.Bool(true)
	p := dynamodb.NewQueryPaginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap(ctx, what, t, err)
		}
		keys := make([]map[string]av, 0, len(page.Items))
		for _, item := range page.Items {
			if sk, ok := item[attrSK].(*types.AttributeValueMemberS); ok && keep(sk.Value) {
				keys = append(keys, map[string]av{attrPK: item[attrPK], attrSK: item[attrSK]})
			}
		}
		if len(keys) > 0 {
			if err := fn(keys); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteUser deletes user uid of tenant t (see DeleteInstallation), under
// the condition that the tenant's version is *cond when cond is non-nil. It
// reports whether the tenant existed.
func (s *Store) deleteUser(ctx context.Context, t installstore.Tenant, uid string, cond *int64) (bool, error) {
	op := "delete user " + uid + " of"
	for range s.attempts {
		l, err := s.readLatest(ctx, op, t)
		switch {
		case errors.Is(err, installstore.ErrCorrupt) && cond == nil:
			return s.deleteTenant(ctx, t, nil)
		case err != nil:
			return true, err
		case l == nil && (cond != nil || !s.history):
			return false, nil
		case l == nil || l.tomb:
			if l != nil {
				if err := s.finishTomb(ctx, t, l.version, l.keep); err != nil || !l.keep || cond != nil || !s.history {
					return false, err
				}
			}
			// No record, but maybe history kept from before a Grid migration.
			purged, err := s.purgeOrphanUserHistory(ctx, op, t, uid)
			if err != nil || purged {
				return false, err
			}
			continue // installed meanwhile: decide again
		case cond != nil && l.version != *cond:
			return true, fmt.Errorf("dynamo: %s tenant %s: %w (stored %d, expected %d)", op, t, installstore.ErrConflict, l.version, *cond)
		}
		if l.bot == nil {
			exists, others, err := s.tokenHolders(ctx, t, uid)
			if err != nil {
				return true, err
			}
			if !exists {
				return true, s.userHistoryAfter(ctx, op, t, uid, l.version+1)
			}
			if !others && (l.rec.User.ID != "" || l.rec.User.Token.IsZero()) {
				// Nothing would be left holding a token: delete the tenant,
				// under the version all this was read at.
				_, err := s.deleteTenant(ctx, t, &l.version)
				if errors.Is(err, installstore.ErrConflict) && cond == nil {
					continue
				}
				return true, err
			}
		}
		v := s.newVersion(l.version)
		u := newUpd(s.sc.key(t, skLatest)).Set("#v", ":v", nAV(v)).
			If("attribute_not_exists(#tomb) AND #v = :cur", map[string]av{":cur": nAV(l.version)})
		if l.rec.User.ID == uid {
			after := l.install(nil)
			after.User = installstore.User{}
			u.Remove("#rec.#user").Due(s.sc.pk(t), after.RefreshAt())
		}
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{
				{Update: u.build(s.table)},
				{Delete: &types.Delete{
					TableName:                aws.String(s.table),
					Key:                      s.sc.key(t, userSK(uid)),
					ConditionExpression:      aws.String("attribute_exists(#pk)"),
					ExpressionAttributeNames: names("#pk"),
				}},
			},
		}, retryConflicts)
		reasons := cancellation(err)
		switch {
		case reasons == nil && err != nil:
			return true, wrap(ctx, op, t, err)
		case reasons == nil:
			return true, s.userHistoryAfter(ctx, op, t, uid, v)
		case failedReason(reasons[0]):
			continue // written meanwhile: decide again
		case len(reasons) > 1 && failedReason(reasons[1]):
			return true, s.userHistoryAfter(ctx, op, t, uid, l.version+1) // no such user
		default:
			return true, wrap(ctx, op, t, err)
		}
	}
	return true, s.tooManyConflicts(op, t)
}

// userHistoryAfter purges, with history on, user uid's history entries of
// tenant t written below version bound, once the user's records are gone.
func (s *Store) userHistoryAfter(ctx context.Context, op string, t installstore.Tenant, uid string, bound int64) error {
	if !s.history {
		return nil
	}
	if err := s.purgeUserHistory(ctx, op, t, uid, bound); err != nil {
		return fmt.Errorf("%w (the user's records are deleted; retry to remove the user's history)", err)
	}
	return nil
}

// tokenHolders reports whether user uid has an item in tenant t, and
// whether another user's item holds a user token, with one consistent
// Query (the token attribute is only checked for presence).
func (s *Store) tokenHolders(ctx context.Context, t installstore.Tenant, uid string) (exists, others bool, err error) {
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :u)"),
		ProjectionExpression:      aws.String("#sk, #rec.#user.#tok"),
		ExpressionAttributeNames:  names("#pk #sk #rec #user #tok"),
		ExpressionAttributeValues: map[string]av{":pk": sAV(s.sc.pk(t)), ":u": sAV(skUser)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, false, wrap(ctx, "delete user "+uid+" of (query)", t, err)
		}
		for _, item := range page.Items {
			if sk, ok := item[attrSK].(*types.AttributeValueMemberS); ok && sk.Value == userSK(uid) {
				exists = true
			} else if rec, ok := item[attrRecord].(*types.AttributeValueMemberM); ok {
				if u, ok := rec.Value["user"].(*types.AttributeValueMemberM); ok && u.Value["tok"] != nil {
					others = true
				}
			}
		}
	}
	return exists, others, nil
}

// DeleteBot implements [installstore.BotDeleter]: one consistent GetItem of
// the LATEST item (the due index then follows the latest record's user
// tokens alone), and one UpdateItem removing the bot, conditioned on the
// version read. A LATEST item that does not decode loses its bot attribute
// (and its due index entry) all the same, whatever it holds: a revoked bot
// token is never kept because its record is malformed. The record stays
// malformed ([installstore.ErrCorrupt] on fetch) until the tenant is deleted.
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	return s.deleteBot(ctx, q, nil)
}

// DeleteBotIf implements [installstore.ConditionalDeleter]: as
// [Store.DeleteBot], only while the tenant's version is version, else
// [installstore.ErrConflict]. A LATEST item that does not decode gives
// [installstore.ErrCorrupt]; [Store.DeleteBot] removes its bot.
func (s *Store) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	return s.deleteBot(ctx, q, &version)
}

func (s *Store) deleteBot(ctx context.Context, q installstore.Query, cond *int64) error {
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	const op = "delete bot of"
	if err := ctxErr(ctx, op, t); err != nil {
		return err
	}
	for range s.attempts {
		l, raw, err := s.readLatestRaw(ctx, op, t)
		switch {
		case errors.Is(err, installstore.ErrCorrupt) && cond == nil:
			return s.deleteCorruptBot(ctx, t, raw)
		case err != nil:
			return err
		case l == nil || l.tomb:
			return nil
		case cond != nil && l.version != *cond:
			return fmt.Errorf("dynamo: %s tenant %s: %w (stored %d, expected %d)", op, t, installstore.ErrConflict, l.version, *cond)
		case l.bot == nil:
			return nil
		}
		after := l.install(nil)
		after.Bot = nil
		u := newUpd(s.sc.key(t, skLatest)).Set("#v", ":v", nAV(s.newVersion(l.version))).Remove("#bot").
			Due(s.sc.pk(t), after.RefreshAt()).
			If("attribute_not_exists(#tomb) AND #v = :cur", map[string]av{":cur": nAV(l.version)}).build(s.table)
		_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: u.TableName, Key: u.Key,
			UpdateExpression:          u.UpdateExpression,
			ConditionExpression:       u.ConditionExpression,
			ExpressionAttributeNames:  u.ExpressionAttributeNames,
			ExpressionAttributeValues: u.ExpressionAttributeValues,
		}, retryConflicts)
		if _, failed := conditionFailed(err); failed {
			continue // written meanwhile: read again
		}
		if err != nil {
			return wrap(ctx, op, t, err)
		}
		return nil
	}
	return s.tooManyConflicts(op, t)
}

// deleteCorruptBot removes the bot and due index attributes of a LATEST
// item that does not decode, provided its version attribute is still what
// raw holds.
func (s *Store) deleteCorruptBot(ctx context.Context, t installstore.Tenant, raw map[string]av) error {
	cond, vals := rawVersionCond(raw)
	u := newUpd(s.sc.key(t, skLatest)).Remove("#bot", "#due", "#shard").If(cond, vals).build(s.table)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key,
		UpdateExpression:          u.UpdateExpression,
		ConditionExpression:       u.ConditionExpression,
		ExpressionAttributeNames:  u.ExpressionAttributeNames,
		ExpressionAttributeValues: u.ExpressionAttributeValues,
	}, retryConflicts)
	if _, failed := conditionFailed(err); failed {
		return fmt.Errorf("dynamo: delete bot of tenant %s: %w: its LATEST item changed while its bot was removed; retry", t, installstore.ErrConflict)
	}
	if err != nil {
		return wrap(ctx, "delete bot of", t, err)
	}
	return nil
}
