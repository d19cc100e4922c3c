package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

// ListDue implements [installstore.DueLister] on the sparse global
// secondary index "due" (partition key dueShard, sort key due, keys only):
// one Query per shard, the 16 in parallel, each reading only the index
// entries due by before. No item of the table itself is read, and nothing
// sealed is returned, so a tick with nothing due costs 16 empty queries
// however many tenants the table holds.
//
// The index is eventually consistent, as every DynamoDB global secondary
// index: a write shows up in it a moment later (typically well under a
// second). A record just refreshed may still be listed with its old time,
// and one just stored may be missed until the next call; callers fetch each
// record (consistently) and check it. Index entries whose key names no
// record (written by another table writer) are skipped, and the returned
// error wraps [installstore.ErrCorrupt] and names them. fn is never called
// concurrently.
func (s *Store) ListDue(ctx context.Context, before time.Time, fn func(installstore.Query, time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamo: list due: %w", err)
	}
	var (
		mu    sync.Mutex
		fnErr error
		bad   skipped
	)
	g, gctx := errgroup.WithContext(ctx)
	for shard := range dueShards {
		g.Go(func() error {
			p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
				TableName:                 aws.String(s.table),
				IndexName:                 aws.String(dueIndex),
				KeyConditionExpression:    aws.String("#shard = :s AND #due <= :before"),
				ExpressionAttributeNames:  names("#shard #due"),
				ExpressionAttributeValues: map[string]av{":s": sAV(s.sc.shard(uint32(shard))), ":before": nAV(before.UnixMilli())},
			})
			for p.HasMorePages() {
				page, err := p.NextPage(gctx)
				if err != nil {
					return wrapKey(gctx, "list due (query)", err)
				}
				for _, item := range page.Items {
					q, due, ok := s.sc.dueEntry(item)
					mu.Lock()
					if fnErr != nil {
						mu.Unlock()
						return fnErr
					}
					if !ok {
						bad.add("index entry with key %s", keyName(item))
					} else if err := fn(q, due); err != nil {
						fnErr = err
					}
					err := fnErr
					mu.Unlock()
					if err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	err := g.Wait()
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return err
	}
	return bad.err("list due")
}

// dueEntry maps an index entry of scope sc back to the record's query and
// due time.
func (sc scope) dueEntry(item map[string]av) (installstore.Query, time.Time, bool) {
	pk, _ := item[attrPK].(*types.AttributeValueMemberS)
	sk, _ := item[attrSK].(*types.AttributeValueMemberS)
	n, _ := item[attrDue].(*types.AttributeValueMemberN)
	if pk == nil || sk == nil || n == nil {
		return installstore.Query{}, time.Time{}, false
	}
	t, ok := sc.parse(pk.Value)
	if !ok {
		return installstore.Query{}, time.Time{}, false
	}
	ms, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return installstore.Query{}, time.Time{}, false
	}
	q := tenantQuery(t)
	if sk.Value != skLatest {
		uid, ok := strings.CutPrefix(sk.Value, skUser)
		q.UserID = uid
		if !ok || uid == "" || q.Validate() != nil {
			return installstore.Query{}, time.Time{}, false
		}
	}
	return q, time.UnixMilli(ms).UTC(), true
}

// AddDueIndex adds the due index that [Store.ListDue] reads to a table made
// before it existed (tables made by [CreateTable] have it), and fills it in.
// It is idempotent and safe to run again, or from several places at once:
//
//  1. When the table has no index "due", one UpdateTable creates it online
//     (with the table's provisioned throughput when the table is not
//     on-demand); the table stays usable meanwhile.
//  2. It waits until the index is ACTIVE (on a large table DynamoDB builds
//     it for minutes; bound the wait with ctx).
//  3. It scans the table and sets the unsealed due and dueShard attributes
//     on every LATEST and USER# item that holds a rotating token (of every
//     app's store sharing the table, each in its app's shards: see
//     [WithClientID]; history items are never indexed), from the
//     unsealed expiry and refresh-token presence of what it holds (nothing
//     is opened), and removes them where they are wrong. Each write is
//     conditioned on the item being unchanged since the scan read it; an item
//     written meanwhile is left to its writer.
//
// Run it once every replica runs a version of this package that maintains
// the index (writes of older versions do not set due); re-running it later
// repairs what older versions wrote. Items that do not decode are left as
// they are; the returned error then wraps [installstore.ErrCorrupt] and
// names them.
func AddDueIndex(ctx context.Context, client *dynamodb.Client, table string) error {
	if client == nil || table == "" {
		return fmt.Errorf("dynamo: add due index: %w: need a client and a table name", installstore.ErrInvalid)
	}
	op := fmt.Sprintf("add due index to table %q", table)
	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return wrapKey(ctx, op, err)
	}
	if indexStatus(d.Table) == "" {
		gsi := &types.CreateGlobalSecondaryIndexAction{
			IndexName:  aws.String(dueIndex),
			KeySchema:  dueKeySchema(),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}
		if pt := d.Table.ProvisionedThroughput; (d.Table.BillingModeSummary == nil || d.Table.BillingModeSummary.BillingMode != types.BillingModePayPerRequest) &&
			pt != nil && aws.ToInt64(pt.ReadCapacityUnits) > 0 {
			gsi.ProvisionedThroughput = &types.ProvisionedThroughput{ReadCapacityUnits: pt.ReadCapacityUnits, WriteCapacityUnits: pt.WriteCapacityUnits}
		}
		_, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:                   aws.String(table),
			AttributeDefinitions:        dueAttributeDefinitions(),
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: gsi}},
		})
		if err != nil {
			// Another run may have created it meanwhile: look again.
			d2, derr := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			if derr != nil || indexStatus(d2.Table) == "" {
				return wrapKey(ctx, op, err)
			}
		}
	}
	if err := waitIndex(ctx, client, table); err != nil {
		return wrapKey(ctx, op, err)
	}
	return backfillDue(ctx, client, table)
}

func dueKeySchema() []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(attrShard), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(attrDue), KeyType: types.KeyTypeRange},
	}
}

func dueAttributeDefinitions() []types.AttributeDefinition {
	return []types.AttributeDefinition{
		{AttributeName: aws.String(attrShard), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String(attrDue), AttributeType: types.ScalarAttributeTypeN},
	}
}

// indexStatus returns the status of the due index, "" when there is none.
func indexStatus(t *types.TableDescription) types.IndexStatus {
	if t == nil {
		return ""
	}
	for _, g := range t.GlobalSecondaryIndexes {
		if aws.ToString(g.IndexName) == dueIndex {
			if g.IndexStatus == "" {
				return types.IndexStatusActive // DynamoDB Local omits it
			}
			return g.IndexStatus
		}
	}
	return ""
}

// waitIndex polls until the table and its due index are active.
func waitIndex(ctx context.Context, client *dynamodb.Client, table string) error {
	delay := 100 * time.Millisecond
	for {
		d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return err
		}
		st := indexStatus(d.Table)
		if st == types.IndexStatusActive && d.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		if st == "" || st == types.IndexStatusDeleting {
			return fmt.Errorf("index %q is %s", dueIndex, map[bool]string{true: "missing", false: "being deleted"}[st == ""])
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// backfillSegments is the number of parallel Scan segments of a backfill.
const backfillSegments = 4

// backfillDue sets the due index attributes of every record item.
func backfillDue(ctx context.Context, client *dynamodb.Client, table string) error {
	var (
		mu  sync.Mutex
		bad skipped
	)
	g, gctx := errgroup.WithContext(ctx)
	for seg := range backfillSegments {
		g.Go(func() error {
			p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{
				TableName:                 aws.String(table),
				Segment:                   aws.Int32(int32(seg)),
				TotalSegments:             aws.Int32(backfillSegments),
				FilterExpression:          aws.String("begins_with(#pk, :t) OR begins_with(#pk, :a)"),
				ExpressionAttributeNames:  names("#pk"),
				ExpressionAttributeValues: map[string]av{":t": sAV(pkTenant), ":a": sAV(pkApp)},
				ConsistentRead:            aws.Bool(true),
			})
			for p.HasMorePages() {
				page, err := p.NextPage(gctx)
				if err != nil {
					return wrapKey(gctx, fmt.Sprintf("add due index to table %q (scan)", table), err)
				}
				for _, item := range page.Items {
					name, err := backfillItem(gctx, client, table, item)
					if err != nil {
						return err
					}
					if name != "" {
						mu.Lock()
						bad.add("%s", name)
						mu.Unlock()
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return bad.err(fmt.Sprintf("add due index to table %q", table))
}

// backfillItem fixes the due attributes of one item. It returns a name for
// the report when the item does not decode.
func backfillItem(ctx context.Context, client *dynamodb.Client, table string, item map[string]av) (string, error) {
	pk, _ := item[attrPK].(*types.AttributeValueMemberS)
	sk, _ := item[attrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "item with key " + keyName(item), nil
	}
	sc := scopeOf(pk.Value)
	if sc != "" && !strings.HasPrefix(pk.Value, sc.tenants()) {
		return "", nil // an app's nonce or lease
	}
	t, ok := sc.parse(pk.Value)
	if !ok {
		return "item with key " + keyName(item) + " (names no tenant)", nil
	}
	var due time.Time
	switch {
	case sk.Value == skLatest:
		l, err := sc.decodeLatest(t, item)
		if err != nil {
			return fmt.Sprintf("tenant %s (%v)", t, err), nil
		}
		due = l.refreshAt()
	case strings.HasPrefix(sk.Value, skUser):
		uid := strings.TrimPrefix(sk.Value, skUser)
		if q := (installstore.Query{TeamID: "T", UserID: uid}); uid == "" || q.Validate() != nil {
			return "item with key " + keyName(item) + " (names no user)", nil
		}
		rec, err := sc.decodeUser(t, uid, item)
		if err != nil {
			return fmt.Sprintf("tenant %s user %s (%v)", t, uid, err), nil
		}
		due = rec.RefreshAt()
	default:
		return "", nil // not a record
	}
	if dueMatches(item, pk.Value, due) {
		return "", nil
	}
	u := newUpd(map[string]av{attrPK: pk, attrSK: sk}).Due(pk.Value, due)
	cond, vals := unchangedCond(item)
	b := u.If(cond, vals).build(table)
	_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: b.TableName, Key: b.Key,
		UpdateExpression:          b.UpdateExpression,
		ConditionExpression:       b.ConditionExpression,
		ExpressionAttributeNames:  b.ExpressionAttributeNames,
		ExpressionAttributeValues: b.ExpressionAttributeValues,
	})
	if _, failed := conditionFailed(err); failed {
		return "", nil // written meanwhile, by a writer that sets due itself or a later run fixes
	}
	if err != nil {
		return "", wrap(ctx, "add due index (update)", t, err)
	}
	return "", nil
}

// dueMatches reports whether item already carries the due attributes for due.
func dueMatches(item map[string]av, pk string, due time.Time) bool {
	n, hasDue := item[attrDue].(*types.AttributeValueMemberN)
	sh, hasShard := item[attrShard].(*types.AttributeValueMemberS)
	_, anyDue := item[attrDue]
	_, anyShard := item[attrShard]
	if due.IsZero() {
		return !anyDue && !anyShard
	}
	return hasDue && hasShard && n.Value == strconv.FormatInt(due.UnixMilli(), 10) && sh.Value == dueShard(pk)
}

// unchangedCond is the condition that a record item is still what the scan
// read: its version when it has one (every write of this package sets it),
// else the unsealed attributes its refresh time comes from.
func unchangedCond(item map[string]av) (string, map[string]av) {
	if v, ok := item[attrVersion]; ok {
		return "#v = :seen", map[string]av{":seen": v}
	}
	var conds []string
	vals := map[string]av{}
	rec, _ := item[attrRecord].(*types.AttributeValueMemberM)
	var user map[string]av
	if rec != nil {
		if u, ok := rec.Value["user"].(*types.AttributeValueMemberM); ok {
			user = u.Value
		}
	}
	for _, f := range []struct{ ph, name string }{{"#tok", "tok"}, {"#rtok", "rtok"}} {
		if _, ok := user[f.name]; ok {
			conds = append(conds, "attribute_exists(#rec.#user."+f.ph+")")
		} else {
			conds = append(conds, "attribute_not_exists(#rec.#user."+f.ph+")")
		}
	}
	if exp, ok := user["exp"]; ok {
		conds = append(conds, "#rec.#user.#uexp = :uexp")
		vals[":uexp"] = exp
	} else {
		conds = append(conds, "attribute_not_exists(#rec.#user.#uexp)")
	}
	return "attribute_not_exists(#v) AND " + strings.Join(conds, " AND "), vals
}
