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
//
// The first attempt assumes the user installed last (the LATEST record is
// theirs too) and, for a nil Bot, that the tenant has no bot. When that is
// wrong, the failed condition returns the LATEST item, and a second attempt,
// conditioned on the same version, writes what the due index needs (the
// other record's or the kept bot's refresh time).
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
	userOnly := inst.Clone()
	userOnly.Bot = nil
	expected := inst.Version
	v := s.newVersion(expected)

	var old *latestItem // the LATEST item at version expected, once known
	for range 2 {
		mine := old == nil || old.rec.User.ID == q.UserID // the LATEST record is this record
		due := userOnly.Clone()
		if !mine {
			due = old.rec.Clone()
		}
		due.Bot = inst.Bot
		if inst.Bot == nil && old != nil {
			due.Bot = old.bot
		}
		u := newUpd(s.sc.key(t, skLatest)).Set("#v", ":v", nAV(v))
		if mine {
			u.Set("#rec", ":rec", rec)
		}
		if bot != nil {
			u.Set("#bot", ":bot", bot)
		}
		u.Due(s.sc.pk(t), due.RefreshAt())
		cond := "attribute_not_exists(#tomb) AND #v = :exp"
		vals := map[string]av{":exp": nAV(expected), ":uid": sAV(q.UserID)}
		if old == nil {
			if q.UserID == "" {
				cond += " AND attribute_not_exists(#rec.#user.#id)"
			} else {
				cond += " AND #rec.#user.#id = :uid"
			}
			if inst.Bot == nil {
				cond += " AND attribute_not_exists(#bot)"
			}
		}
		items := []types.TransactWriteItem{{Update: u.If(cond, vals).build(s.table)}}
		if q.UserID != "" {
			item := s.sc.userItem(t, q.UserID, rec, v)
			putDue(item, s.sc.pk(t), userOnly.RefreshAt())
			items = append(items, types.TransactWriteItem{Put: &types.Put{
				TableName:                aws.String(s.table),
				Item:                     item,
				ConditionExpression:      aws.String("attribute_exists(#pk)"),
				ExpressionAttributeNames: names("#pk"),
			}})
		}
		oldItem, failed, failedUser, err := s.writeUpdate(ctx, items)
		switch {
		case failedUser:
			return notFound("update", q)
		case failed:
			l, err := s.explain(q, expected, oldItem)
			if err != nil {
				return err
			}
			if q.UserID == "" && l.rec.User.ID != "" {
				return fmt.Errorf("dynamo: update tenant %s: %w: the latest installation belongs to a user; update it with that User.ID", t, installstore.ErrConflict)
			}
			old = l
			continue
		case err != nil:
			return wrap(ctx, "update", t, err)
		}
		inst.Version = v
		return nil
	}
	// Unreachable while versions only grow: the LATEST item cannot change
	// without its version changing.
	return fmt.Errorf("dynamo: update tenant %s: %w", t, installstore.ErrConflict)
}

// writeUpdate writes the items of an update, reporting whether the LATEST
// item's condition failed (with the old item) or the USER# item's did.
func (s *Store) writeUpdate(ctx context.Context, items []types.TransactWriteItem) (old map[string]av, failed, failedUser bool, err error) {
	if len(items) == 1 {
		old, failed, _, err = s.writeAll(ctx, items, false)
		return old, failed, false, err
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}, retryConflicts)
	reasons := cancellation(err)
	switch {
	case reasons == nil:
		return nil, false, false, err
	case failedReason(reasons[0]):
		return reasons[0].Item, true, false, err
	case len(reasons) > 1 && failedReason(reasons[1]):
		return nil, false, true, err
	}
	return nil, false, false, err
}

// explain decodes the LATEST item returned by a failed update condition: an
// error when the tenant is gone or its version moved, else the item at the
// expected version.
func (s *Store) explain(q installstore.Query, expected int64, old map[string]av) (*latestItem, error) {
	t := q.Tenant()
	if len(old) == 0 {
		return nil, notFound("update", q)
	}
	l, err := s.sc.decodeLatest(t, old)
	if err != nil {
		return nil, fmt.Errorf("dynamo: update tenant %s: %w", t, err)
	}
	if l.tomb {
		return nil, notFound("update", q)
	}
	if l.version != expected {
		return nil, fmt.Errorf("dynamo: update tenant %s: %w (stored %d, expected %d)", t, installstore.ErrConflict, l.version, expected)
	}
	return l, nil
}
