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
// of the LATEST and USER# items (the transaction keeps the two from ever
// disagreeing, which a fetch with a user relies on). The LATEST item's
// condition only requires its version to be smaller than the new one; a
// writer whose clock is behind learns the stored version from the failed
// condition and writes above it.
//
// A nil Bot keeps the stored bot: the first attempt assumes there is none,
// and when there is, the failed condition returns it, so that the due index
// of the LATEST item covers it. A store over a deleted tenant whose items
// are still being swept (a tombstone) finishes the sweep first, so nothing of
// the tenant's previous life comes back with the new one.
//
// Storing a workspace of an enterprise (E, T) first reads (no enterprise, T)
// with one GetItem; if that standalone record exists, the same transaction
// turns it into a tombstone (it reads as gone from then on), and its items
// are swept after the store. A failure of that sweep is not the store's: the
// tombstone stays until the next write or delete of the team finishes it.
// With [WithHistory] that tombstone keeps the standalone history.
//
// With [WithHistory] the write is always a TransactWriteItems, which also
// puts the history entry of inst as stored (its key needs an InstalledAt
// in the years 1 to 9999, else [installstore.ErrInvalid]).
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
	if inst.Bot != nil && inst.Bot.InstalledAt.IsZero() {
		inst.Bot.InstalledAt = inst.InstalledAt
	}
	var hsk string
	if s.history {
		var err error
		if hsk, err = historySK("store", inst); err != nil {
			return err
		}
	}
	var old *standalone
	if t.EnterpriseID != "" && t.TeamID != "" {
		var err error
		if old, err = s.peekStandalone(ctx, t.TeamID); err != nil {
			return err
		}
	}
	rec := encodeRecord(inst)
	userOnly := inst.Clone()
	userOnly.Bot = nil
	var bot av
	if inst.Bot != nil {
		bot = encodeBot(inst.Bot)
	}
	var (
		known bool        // cur is the stored LATEST item (nil: absent)
		cur   *latestItem // as learnt from a failed condition
		floor int64
	)
	for range s.attempts {
		if known && cur != nil && cur.tomb {
			floor = max(floor, cur.version)
			if err := s.finishTomb(ctx, t, cur.version, cur.keep); err != nil {
				return fmt.Errorf("dynamo: store tenant %s: finishing its earlier delete: %w", t, err)
			}
			cur = nil // gone, unless installed meanwhile (the condition then says so)
		}
		due := userOnly.Clone()
		due.Bot = inst.Bot
		if inst.Bot == nil && known && cur != nil && !cur.tomb {
			due.Bot = cur.bot
		}
		if known && cur != nil {
			floor = max(floor, cur.version)
		}
		v := s.newVersion(floor)
		u := newUpd(s.sc.key(t, skLatest)).Set("#rec", ":rec", rec).Set("#v", ":v", nAV(v))
		if bot != nil {
			u.Set("#bot", ":bot", bot)
		}
		u.Due(s.sc.pk(t), due.RefreshAt()).Remove("#tomb")
		switch {
		case !known:
			cond := "attribute_not_exists(#tomb) AND (attribute_not_exists(#v) OR #v < :v)"
			if inst.Bot == nil {
				cond += " AND attribute_not_exists(#bot)"
			}
			u.If(cond, nil)
		case cur == nil:
			u.If("attribute_not_exists(#v)", nil)
		default:
			u.If("#v = :cur", map[string]av{":cur": nAV(cur.version)})
		}
		upd := u.build(s.table)
		items := []types.TransactWriteItem{{Update: upd}}
		if inst.User.ID != "" {
			item := s.sc.userItem(t, inst.User.ID, rec, v)
			putDue(item, s.sc.pk(t), userOnly.RefreshAt())
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: item}})
		}
		if s.history {
			stored := inst.Clone()
			stored.Version = v
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: s.sc.historyItem(stored, hsk, rec, v)}})
		}
		var tombV int64
		if old != nil && !old.tomb {
			tombV = s.newVersion(old.version)
			cond, vals := old.cond()
			items = append(items, types.TransactWriteItem{Update: s.tombstone(old.tenant, tombV, cond, vals, s.history)})
		}
		oldItem, failed, failedStandalone, err := s.writeAll(ctx, items, tombV != 0)
		switch {
		case failedStandalone:
			if old, err = s.peekStandalone(ctx, t.TeamID); err != nil {
				return err
			}
			continue
		case failed:
			known, cur = true, nil
			if len(oldItem) > 0 {
				if cur, err = s.sc.decodeLatest(t, oldItem); err != nil {
					return fmt.Errorf("dynamo: store tenant %s: %w (delete the tenant to install it again)", t, err)
				}
			}
			continue
		case err != nil:
			return wrap(ctx, "store", t, err)
		}
		inst.Version = v
		if old != nil {
			at, keep := old.version, old.keep
			if !old.tomb {
				at, keep = tombV, s.history
			}
			// Best effort: the standalone record already reads as gone.
			_ = s.finishTomb(ctx, old.tenant, at, keep)
		}
		return nil
	}
	return s.tooManyConflicts("store", t)
}

// writeAll writes items as one UpdateItem when there is one, else as one
// TransactWriteItems. It reports the old LATEST item when the first item's
// condition failed, and whether the last one's did when it is a standalone
// tombstone.
func (s *Store) writeAll(ctx context.Context, items []types.TransactWriteItem, standaloneLast bool) (old map[string]av, failed, failedStandalone bool, err error) {
	if len(items) == 1 && items[0].Update != nil {
		u := items[0].Update
		_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: u.TableName, Key: u.Key,
			UpdateExpression:                    u.UpdateExpression,
			ConditionExpression:                 u.ConditionExpression,
			ExpressionAttributeNames:            u.ExpressionAttributeNames,
			ExpressionAttributeValues:           u.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, retryConflicts)
		old, failed = conditionFailed(err)
		return old, failed, false, err
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}, retryConflicts)
	reasons := cancellation(err)
	if reasons == nil {
		return nil, false, false, err
	}
	if failedReason(reasons[0]) {
		return reasons[0].Item, true, false, err
	}
	if standaloneLast && len(reasons) == len(items) && failedReason(reasons[len(reasons)-1]) {
		return nil, false, true, err
	}
	return nil, false, false, err
}

func (sc scope) userItem(t installstore.Tenant, uid string, rec av, v int64) map[string]av {
	item := sc.key(t, userSK(uid))
	item[attrRecord] = rec
	item[attrVersion] = nAV(v)
	return item
}

// standalone is what a store of (E, T) saw of (no enterprise, T).
type standalone struct {
	tenant  installstore.Tenant
	version int64
	raw     av // the stored v, whatever its type (nil: none)
	tomb    bool
	keep    bool // a tombstone that keeps the standalone history
}

// cond is the condition that the standalone LATEST item is still the one
// seen.
func (o *standalone) cond() (string, map[string]av) {
	if o.raw == nil {
		return "attribute_exists(#pk) AND attribute_not_exists(#v)", nil
	}
	return "#v = :seen", map[string]av{":seen": o.raw}
}

// peekStandalone reads the LATEST item of the standalone tenant of team:
// nil when there is none.
func (s *Store) peekStandalone(ctx context.Context, team string) (*standalone, error) {
	t := installstore.Tenant{TeamID: team}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      s.sc.key(t, skLatest),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#v, #tomb, #keep"),
		ExpressionAttributeNames: map[string]string{"#v": attrVersion, "#tomb": attrTomb, "#keep": attrKeep},
	})
	if err != nil {
		return nil, wrap(ctx, "store (read standalone)", t, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	o := &standalone{tenant: t, raw: out.Item[attrVersion]}
	var derr error
	d := dec{m: out.Item, err: &derr}
	o.version, _ = d.n(attrVersion)
	o.tomb = d.b(attrTomb)
	o.keep = d.b(attrKeep)
	if derr != nil {
		o.version, o.tomb, o.keep = 0, false, false // corrupt: tombstone it whatever it holds
	}
	return o, nil
}

// FetchInstallation implements [installstore.Store]: one consistent GetItem
// of the LATEST item without q.UserID; with it, one TransactGetItems of the
// LATEST and USER# items, a snapshot that never pairs a user's record with a
// Version it was not written under (a transactional read costs twice a plain
// one, and is the price of an UpdateInstallation that cannot overwrite a
// newer user record). A workspace of an enterprise (E, T) with no record of
// its own then reads, in parallel, the standalone (no enterprise, T) and the
// org-wide (E) records, and answers with the first that exists.
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
		inst, err = s.fallback(ctx, q)
		if err != nil {
			return nil, err
		}
	}
	if inst == nil {
		return nil, notFound("fetch", q)
	}
	return inst, nil
}

// fallback reads the standalone and org-wide records a workspace of an
// enterprise falls back to.
func (s *Store) fallback(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	type answer struct {
		inst   *installstore.Installation
		exists bool
		err    error
	}
	var org answer
	done := make(chan struct{})
	go func() {
		defer close(done)
		org.inst, org.exists, org.err = s.fetch(ctx, installstore.Tenant{EnterpriseID: q.EnterpriseID}, q.UserID)
	}()
	var alone answer
	alone.inst, alone.exists, alone.err = s.fetch(ctx, installstore.Tenant{TeamID: q.TeamID}, q.UserID)
	<-done
	switch {
	case alone.err != nil:
		return nil, alone.err
	case alone.exists:
		return alone.inst, nil
	case org.err != nil:
		return nil, org.err
	}
	return org.inst, nil
}

// fetch reads tenant t's latest installation, or user uid's, and reports
// whether the tenant exists (a tombstone does not).
func (s *Store) fetch(ctx context.Context, t installstore.Tenant, uid string) (*installstore.Installation, bool, error) {
	latestRaw, userRaw, err := s.read(ctx, t, uid)
	if err != nil {
		return nil, false, wrap(ctx, "fetch", t, err)
	}
	if len(latestRaw) == 0 {
		return nil, false, nil
	}
	latest, err := s.sc.decodeLatest(t, latestRaw)
	if err != nil {
		return nil, true, fmt.Errorf("dynamo: fetch tenant %s: %w", t, err)
	}
	if latest.tomb {
		return nil, false, nil
	}
	if uid == "" {
		return latest.install(nil), true, nil
	}
	if len(userRaw) == 0 {
		return nil, true, nil
	}
	rec, err := s.sc.decodeUser(t, uid, userRaw)
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
			Key:            s.sc.key(t, skLatest),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, nil, err
		}
		return out.Item, nil, nil
	}
	out, err := s.client.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{
		TransactItems: []types.TransactGetItem{
			{Get: &types.Get{TableName: aws.String(s.table), Key: s.sc.key(t, skLatest)}},
			{Get: &types.Get{TableName: aws.String(s.table), Key: s.sc.key(t, userSK(uid))}},
		},
	}, retryConflicts)
	if err != nil {
		return nil, nil, err
	}
	if len(out.Responses) != 2 {
		return nil, nil, fmt.Errorf("TransactGetItems returned %d responses for 2 gets", len(out.Responses))
	}
	return out.Responses[0].Item, out.Responses[1].Item, nil
}

// readLatest is one consistent GetItem of tenant t's LATEST item, decoded
// (nil when absent).
func (s *Store) readLatest(ctx context.Context, op string, t installstore.Tenant) (*latestItem, error) {
	l, _, err := s.readLatestRaw(ctx, op, t)
	return l, err
}

// readLatestRaw is readLatest that also returns the raw item, which is all
// there is when it does not decode.
func (s *Store) readLatestRaw(ctx context.Context, op string, t installstore.Tenant) (*latestItem, map[string]av, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            s.sc.key(t, skLatest),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, nil, wrap(ctx, op, t, err)
	}
	if len(out.Item) == 0 {
		return nil, nil, nil
	}
	l, err := s.sc.decodeLatest(t, out.Item)
	if err != nil {
		return nil, out.Item, fmt.Errorf("dynamo: %s tenant %s: %w", op, t, err)
	}
	return l, out.Item, nil
}
