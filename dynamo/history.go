package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

// histTime is the install time in a history entry's sort key: UTC at
// nanosecond precision, fixed width, so that the sort key orders entries by
// install time.
const histTime = "2006-01-02T15:04:05.000000000Z"

// historySK returns the sort key of inst's history entry:
// "H#<install time>#<user ID>" (an ID holds no '#').
func historySK(op string, inst *installstore.Installation) (string, error) {
	at := inst.InstalledAt.UTC()
	if at.Year() < 1 || at.Year() > 9999 {
		return "", fmt.Errorf("dynamo: %s tenant %s: %w: install time outside the years 1 to 9999", op, inst.Tenant(), installstore.ErrInvalid)
	}
	return skHist + at.Format(histTime) + "#" + inst.User.ID, nil
}

// parseHistorySK returns the install time and user ID a history entry's
// sort key names.
func parseHistorySK(sk string) (time.Time, string, bool) {
	rest, ok := strings.CutPrefix(sk, skHist)
	if !ok || len(rest) < len(histTime)+1 || rest[len(histTime)] != '#' {
		return time.Time{}, "", false
	}
	at, err := time.Parse(histTime, rest[:len(histTime)])
	if err != nil {
		return time.Time{}, "", false
	}
	uid := rest[len(histTime)+1:]
	if (installstore.Query{TeamID: "T", UserID: uid}).Validate() != nil {
		return time.Time{}, "", false
	}
	return at, uid, true
}

// historyItem returns inst's history entry: its record and bot encoded as
// a LATEST item's, v the version its sweeps compare (the version of the
// store that wrote it), and hv inst.Version when that differs from v.
func (sc scope) historyItem(inst *installstore.Installation, sk string, rec av, v int64) map[string]av {
	item := sc.key(inst.Tenant(), sk)
	item[attrVersion] = nAV(v)
	if inst.Version != v {
		item[attrHistVer] = nAV(inst.Version)
	}
	item[attrRecord] = rec
	if inst.Bot != nil {
		item[attrBot] = encodeBot(inst.Bot)
	}
	return item
}

// decodeHistory decodes the history entry item of tenant t, whose sort key
// names install time at and user uid.
func (sc scope) decodeHistory(t installstore.Tenant, at time.Time, uid string, item map[string]av) (*installstore.Installation, error) {
	var err error
	d := dec{m: item, err: &err}
	if pk := d.requireS(attrPK); err == nil && pk != sc.pk(t) {
		d.fail(attrPK, "not the tenant's key")
	}
	v := d.requireN(attrVersion)
	if hv, ok := d.n(attrHistVer); ok {
		v = hv
	}
	r, ok := d.sub(attrRecord)
	if !ok {
		d.fail(attrRecord, "missing")
	}
	inst := decodeRecord(r)
	if b, ok := d.sub(attrBot); ok {
		inst.Bot = decodeBot(b)
	}
	inst.Version = v
	if err == nil && (inst.Tenant() != t || inst.User.ID != uid || !inst.InstalledAt.Equal(at)) {
		d.fail(attrRecord, "holds a record of another tenant, user or install time than its key")
	}
	if err != nil {
		return nil, err
	}
	return inst, nil
}

// ListHistory implements [installstore.History]: one consistent Query of
// the tenant's partition, sort keys from "H#" to "LATEST" in descending
// order, paged (DynamoDB's 1 MB pages: memory stays bounded however long
// the history). The LATEST item comes first: when it is the tombstone of
// a delete in progress, the tenant's history reads as deleted already. With
// q.UserID the same Query is filtered by the user ID in each sort key, so
// it reads the whole tenant's history. Entries that do not decode are
// skipped, and the returned error wraps [installstore.ErrCorrupt] naming
// them (tenant, user and install time; never content). History is
// addressed exactly: no Grid fallback. A store built without
// [WithHistory] gives [installstore.ErrHistoryOff].
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	const op = "list history of"
	if !s.history {
		return fmt.Errorf("dynamo: %s tenant %s: %w", op, t, installstore.ErrHistoryOff)
	}
	if err := ctxErr(ctx, op, t); err != nil {
		return err
	}
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk BETWEEN :h AND :latest"),
		ExpressionAttributeNames:  names("#pk #sk"),
		ExpressionAttributeValues: map[string]av{":pk": sAV(s.sc.pk(t)), ":h": sAV(skHist), ":latest": sAV(skLatest)},
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(true),
	})
	var bad skipped
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap(ctx, op+" (query)", t, err)
		}
		for _, item := range page.Items {
			sk, _ := item[attrSK].(*types.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			if sk.Value == skLatest {
				if isBool(item, attrTomb) && !isBool(item, attrKeep) {
					return nil // deleted: its sweep is under way, or was cut short
				}
				continue
			}
			at, uid, ok := parseHistorySK(sk.Value)
			switch {
			case !ok:
				bad.add("tenant %s history item with key %s (names no user and install time)", t, keyName(item))
				continue
			case q.UserID != "" && uid != q.UserID:
				continue
			}
			inst, err := s.sc.decodeHistory(t, at, uid, item)
			if err != nil {
				bad.add("tenant %s user %s history entry of %s (%v)", t, uid, at.Format(time.RFC3339Nano), err)
				continue
			}
			if err := fn(inst); err != nil {
				return err
			}
		}
	}
	return bad.err(fmt.Sprintf("%s tenant %s", op, t))
}

func isBool(item map[string]av, name string) bool {
	b, ok := item[name].(*types.AttributeValueMemberBOOL)
	return ok && b.Value
}

// PutHistory implements [installstore.History]: one PutItem of the entry,
// replacing the entry of the same tenant, user and install time; no record
// is read or written. It keeps inst.Version; the version deletes compare it
// with (the v attribute) is inst.Version too, but never above the writer's
// clock, so that the next uninstall of the tenant deletes it. inst is validated as a
// store validates it (and its secrets must be sealed, as for a store), and
// needs a non-zero InstalledAt ([installstore.ErrInvalid]). A store built
// without [WithHistory] gives [installstore.ErrHistoryOff].
func (s *Store) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	t := inst.Tenant()
	const op = "put history of"
	if inst.InstalledAt.IsZero() {
		return fmt.Errorf("dynamo: %s tenant %s: %w: a history entry needs its InstalledAt", op, t, installstore.ErrInvalid)
	}
	if !s.history {
		return fmt.Errorf("dynamo: %s tenant %s: %w", op, t, installstore.ErrHistoryOff)
	}
	sk, err := historySK(op, inst)
	if err != nil {
		return err
	}
	if err := s.checkSecrets(op, inst); err != nil {
		return err
	}
	if err := ctxErr(ctx, op, t); err != nil {
		return err
	}
	// The version sweeps compare: the entry's Version, but never above the
	// writer's clock (so the next uninstall deletes it), nor negative.
	v := min(max(inst.Version, 0), s.now().UnixMicro())
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      s.sc.historyItem(inst, sk, encodeRecord(inst), v),
	})
	if err != nil {
		return wrap(ctx, op, t, err)
	}
	return nil
}

// historyKeys calls fn with the keys of tenant t's history entries (of user
// uid only, when set), one Query page at a time.
func (s *Store) historyKeys(ctx context.Context, op string, t installstore.Tenant, uid string, fn func([]map[string]av) error) error {
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :h)"),
		ExpressionAttributeValues: map[string]av{":pk": sAV(s.sc.pk(t)), ":h": sAV(skHist)},
	}
	return s.queryKeys(ctx, op+" (query history)", t, in, func(sk string) bool {
		if uid == "" {
			return true
		}
		_, u, ok := parseHistorySK(sk)
		return ok && u == uid
	}, fn)
}

// purgeUserHistory deletes user uid's history entries of tenant t that
// were written below version bound (one conditional DeleteItem each, 8 at
// once): an entry of a re-install that landed meanwhile stays.
func (s *Store) purgeUserHistory(ctx context.Context, op string, t installstore.Tenant, uid string, bound int64) error {
	return s.historyKeys(ctx, op, t, uid, func(keys []map[string]av) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(sweepConcurrency)
		for _, k := range keys {
			g.Go(func() error { return s.sweepItem(gctx, op+" (history)", t, k, bound) })
		}
		return g.Wait()
	})
}

// purgeOrphanUserHistory deletes user uid's history entries of tenant t,
// which has no record (nor a tombstone keeping its history): the history of
// the standalone record a Grid migration superseded. Each
// TransactWriteItems deletes up to 99 entries under a ConditionCheck that
// the tenant still has no record, so an install landing meanwhile keeps
// its entry. It reports false when that condition failed.
func (s *Store) purgeOrphanUserHistory(ctx context.Context, op string, t installstore.Tenant, uid string) (bool, error) {
	installed := false
	err := s.historyKeys(ctx, op, t, uid, func(keys []map[string]av) error {
		for len(keys) > 0 {
			n := min(len(keys), transactWriteLimit-1)
			items := []types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{
				TableName:                 aws.String(s.table),
				Key:                       s.sc.key(t, skLatest),
				ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #tomb = :true"),
				ExpressionAttributeNames:  names("#pk #tomb"),
				ExpressionAttributeValues: map[string]av{":true": &types.AttributeValueMemberBOOL{Value: true}},
			}}}
			for _, k := range keys[:n] {
				items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: k}})
			}
			keys = keys[n:]
			_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}, retryConflicts)
			if reasons := cancellation(err); reasons != nil && failedReason(reasons[0]) {
				installed = true
				return errStop
			}
			if err != nil {
				return wrap(ctx, op+" (history)", t, err)
			}
		}
		return nil
	})
	if installed {
		return false, nil
	}
	return err == nil, err
}

// errStop stops a paging loop early; it never leaves this package.
var errStop = fmt.Errorf("dynamo: stop")

// transactWriteLimit is TransactWriteItems' limit on items per request.
const transactWriteLimit = 100
