package dynamo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

// transactGetLimit is TransactGetItems' limit on items per request.
const transactGetLimit = 100

// skipped collects the records a listing went past because they do not
// decode: names and reasons, never content.
type skipped []string

func (sk *skipped) add(format string, args ...any) { *sk = append(*sk, fmt.Sprintf(format, args...)) }

// err returns nil, or an error that names every skipped record, each as
// its own error wrapping [ErrMalformedItem] (and so [installstore.ErrCorrupt]),
// so that installstore.CountSkipped counts them.
func (sk skipped) err(op string) error {
	if len(sk) == 0 {
		return nil
	}
	errs := make([]error, len(sk))
	for i, name := range sk {
		errs[i] = fmt.Errorf("%s: %w", name, ErrMalformedItem)
	}
	return fmt.Errorf("dynamo: %s: skipped %s: %w", op, records(len(sk)), errors.Join(errs...))
}

// records returns "1 record" or "n records".
func records(n int) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

// workersPerSegment is how many tenants a listing reads at once per Scan
// segment.
const workersPerSegment = 2

// ListInstallations implements [installstore.Lister]. A consistent Scan
// ([WithScanSegments] segments in parallel, [DefaultScanSegments] unless
// set) finds the tenants' LATEST items of the store's scope; per tenant
// (two per segment at once), one consistent Query reads its LATEST and
// USER# items. A user's record written by the write that wrote the LATEST
// item read (the common case: one user, or the latest installer) is listed
// with it; the others are read again with the LATEST item by
// TransactGetItems (99 users a request). So every listed user record
// carries the Version it was current under: an [installstore.Updater] write
// based on a listed record never overwrites a newer one. fn is never called
// concurrently; memory stays bounded by the tenants in flight (for each, the
// IDs of its users read again).
//
// Records that do not decode (a key that names no tenant, a LATEST item
// whose version is not a number, a user item holding another user's record,
// a missing attribute, ...) are never handed to fn: the listing goes on, and
// the returned error wraps [installstore.ErrCorrupt] and names each of them.
// When a tenant's LATEST item does not decode, its user records are skipped
// too (they cannot be fetched).
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	var (
		mu    sync.Mutex
		bad   skipped
		fnErr error
	)
	// serial calls fn one at a time, and never again after it failed.
	serial := func(q installstore.Query, inst *installstore.Installation) error {
		mu.Lock()
		defer mu.Unlock()
		if fnErr != nil {
			return fnErr
		}
		fnErr = fn(q, inst)
		return fnErr
	}
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		bad.add(format, args...)
	}
	g, gctx := errgroup.WithContext(ctx)
	workers := workersPerSegment * s.segments
	tenants := make(chan installstore.Tenant, workers)
	var scans sync.WaitGroup
	for seg := range s.segments {
		scans.Add(1)
		g.Go(func() error {
			defer scans.Done()
			return s.scanTenants(gctx, seg, tenants, report)
		})
	}
	go func() { scans.Wait(); close(tenants) }()
	for range workers {
		g.Go(func() error {
			for t := range tenants {
				if err := s.listTenant(gctx, t, serial, report); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	for range tenants {
		// Drain what the scans sent after a worker stopped the listing.
	}
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return err
	}
	return bad.err("list")
}

// scanTenants sends the tenants of one Scan segment's LATEST items.
func (s *Store) scanTenants(ctx context.Context, seg int, out chan<- installstore.Tenant, report func(string, ...any)) error {
	p := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		Segment:                   aws.Int32(int32(seg)),
		TotalSegments:             aws.Int32(int32(s.segments)),
		FilterExpression:          aws.String("#sk = :latest AND begins_with(#pk, :t)"),
		ProjectionExpression:      aws.String("#pk, #sk, #tomb"),
		ExpressionAttributeNames:  names("#pk #sk #tomb"),
		ExpressionAttributeValues: map[string]av{":latest": sAV(skLatest), ":t": sAV(s.sc.tenants())},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrapKey(ctx, "list (scan)", err)
		}
		for _, item := range page.Items {
			pk, _ := item[attrPK].(*types.AttributeValueMemberS)
			t, ok := installstore.Tenant{}, false
			if pk != nil {
				t, ok = s.sc.parse(pk.Value)
			}
			if !ok {
				report("item with key %s (names no tenant)", keyName(item))
				continue
			}
			if tomb, _ := item[attrTomb].(*types.AttributeValueMemberBOOL); tomb != nil && tomb.Value {
				continue // deleted
			}
			select {
			case out <- t:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// keyName names an item by its key, for reports. A key part that is not
// one this store writes (which a table writer could have filled with
// anything, a token included) is named by a fingerprint: the first 8 hex
// digits of its SHA-256 and its length, never its text.
func keyName(item map[string]av) string {
	part := func(name string, known func(string) bool) string {
		v, ok := item[name].(*types.AttributeValueMemberS)
		switch {
		case !ok:
			return name + " (not a string)"
		case known(v.Value):
			return fmt.Sprintf("%s %q", name, v.Value)
		}
		sum := sha256.Sum256([]byte(v.Value))
		return fmt.Sprintf("%s sha256:%x (%d bytes)", name, sum[:4], len(v.Value))
	}
	pkKnown := func(pk string) bool { _, ok := scopeOf(pk).parse(pk); return ok }
	skKnown := func(sk string) bool {
		uid, ok := strings.CutPrefix(sk, skUser)
		return sk == skLatest || (ok && uid != "" && (installstore.Query{TeamID: "T", UserID: uid}).Validate() == nil)
	}
	return part(attrPK, pkKnown) + ", " + part(attrSK, skKnown)
}

// parseTenantPK is the inverse of scope("").pk: the tenant of an unscoped
// partition key. It refuses IDs that a valid Query could not name.
func parseTenantPK(pk string) (installstore.Tenant, bool) {
	rest, ok := strings.CutPrefix(pk, pkTenant)
	if !ok {
		return installstore.Tenant{}, false
	}
	ent, team, ok := strings.Cut(rest, ":")
	if !ok || (ent == "" && team == "") || strings.Contains(team, ":") {
		return installstore.Tenant{}, false
	}
	t := installstore.Tenant{EnterpriseID: ent, TeamID: team}
	if tenantQuery(t).Validate() != nil {
		return installstore.Tenant{}, false
	}
	return t, true
}

// tenantQuery returns the query of tenant t's latest record.
func tenantQuery(t installstore.Tenant) installstore.Query {
	return installstore.Query{EnterpriseID: t.EnterpriseID, TeamID: t.TeamID, IsEnterpriseInstall: t.IsEnterprise()}
}

// listTenant lists tenant t's records. One consistent Query reads the
// LATEST item and the USER# items (they sort after it, and before nothing
// else the store writes); a user's item written by the same write as the
// LATEST item read (its v is the LATEST item's) is listed with it: the two
// were current together, as a snapshot would have read them. The users
// whose item carries another version (written before a later write of the
// tenant) are read again with TransactGetItems, with the LATEST item, 99 a
// request, so that every listed record carries the Version it was current
// under.
func (s *Store) listTenant(ctx context.Context, t installstore.Tenant, fn func(installstore.Query, *installstore.Installation) error, report func(string, ...any)) error {
	base := tenantQuery(t)
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk >= :latest"),
		ExpressionAttributeNames:  names("#pk #sk"),
		ExpressionAttributeValues: map[string]av{":pk": sAV(s.sc.pk(t)), ":latest": sAV(skLatest)},
		ConsistentRead:            aws.Bool(true),
	})
	var (
		latest *latestItem
		first  = true
		bad    bool     // the LATEST item does not decode
		others []string // users whose item another write wrote
	)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap(ctx, "list (query)", t, err)
		}
		for _, item := range page.Items {
			sk, _ := item[attrSK].(*types.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			if first {
				first = false
				if sk.Value != skLatest {
					return nil // deleted meanwhile
				}
				l, err := s.sc.decodeLatest(t, item)
				switch {
				case err != nil:
					report("tenant %s (%v)", t, err)
					bad = true
					continue
				case l.tomb:
					return nil // deleted meanwhile
				}
				latest = l
				if err := fn(base, l.install(nil)); err != nil {
					return err
				}
				continue
			}
			uid, ok := strings.CutPrefix(sk.Value, skUser)
			if !ok {
				continue // not a record
			}
			uq := base
			uq.UserID = uid
			switch {
			case uid == "" || uq.Validate() != nil:
				report("tenant %s item with key %s (names no user)", t, keyName(item))
				continue
			case bad:
				report("tenant %s user %s (its tenant's latest record does not decode)", t, uid)
				continue
			}
			if n, ok := item[attrVersion].(*types.AttributeValueMemberN); !ok || n.Value != strconv.FormatInt(latest.version, 10) {
				others = append(others, uid)
				continue
			}
			rec, err := s.sc.decodeUser(t, uid, item)
			if err != nil {
				report("tenant %s user %s (%v)", t, uid, err)
				continue
			}
			if err := fn(uq, latest.install(rec)); err != nil {
				return err
			}
		}
	}
	return s.listUsers(ctx, t, others, fn, report)
}

// listUsers lists the records of users of tenant t, each read with the
// tenant's LATEST item by one TransactGetItems (99 users a request).
func (s *Store) listUsers(ctx context.Context, t installstore.Tenant, users []string, fn func(installstore.Query, *installstore.Installation) error, report func(string, ...any)) error {
	base := tenantQuery(t)
	for start := 0; start < len(users); start += transactGetLimit - 1 {
		chunk := users[start:min(start+transactGetLimit-1, len(users))]
		gets := []types.TransactGetItem{{Get: &types.Get{TableName: aws.String(s.table), Key: s.sc.key(t, skLatest)}}}
		for _, uid := range chunk {
			gets = append(gets, types.TransactGetItem{Get: &types.Get{TableName: aws.String(s.table), Key: s.sc.key(t, userSK(uid))}})
		}
		out, err := s.client.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets}, retryConflicts)
		if err != nil {
			return wrap(ctx, "list", t, err)
		}
		if len(out.Responses) != len(gets) {
			return fmt.Errorf("dynamo: list tenant %s: TransactGetItems returned %d responses for %d gets", t, len(out.Responses), len(gets))
		}
		if len(out.Responses[0].Item) == 0 {
			return nil // deleted meanwhile
		}
		latest, err := s.sc.decodeLatest(t, out.Responses[0].Item)
		if err != nil {
			report("tenant %s (%v)", t, err)
			for _, uid := range users[start:] {
				report("tenant %s user %s (its tenant's latest record does not decode)", t, uid)
			}
			return nil
		}
		if latest.tomb {
			return nil // deleted meanwhile
		}
		for i, uid := range chunk {
			item := out.Responses[i+1].Item
			if len(item) == 0 {
				continue // deleted meanwhile
			}
			rec, err := s.sc.decodeUser(t, uid, item)
			if err != nil {
				report("tenant %s user %s (%v)", t, uid, err)
				continue
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
