package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/installstore"
)

const (
	// pageSize bounds the members read from one index per call, and the
	// user records read per tenant per call.
	pageSize = 100
	// groupsPerPipeline is how many groups' first pages one pipeline asks
	// for (a listing costs groups/groupsPerPipeline round trips when
	// little is stored).
	groupsPerPipeline = 128
)

// skipped collects the records a listing went past: each as its own error
// wrapping [installstore.ErrCorrupt] once, naming the record and what is
// wrong with it (never its content), so that installstore.CountSkipped
// counts them.
type skipped struct {
	errs []error
}

func (sk *skipped) add(format string, args ...any) {
	sk.errs = append(sk.errs, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), installstore.ErrCorrupt))
}

// err returns nil, or an error naming every skipped record.
func (sk *skipped) err(op string) error {
	if len(sk.errs) == 0 {
		return nil
	}
	noun := "records"
	if len(sk.errs) == 1 {
		noun = "record"
	}
	return fmt.Errorf("redisstore: %s: skipped %d %s: %w", op, len(sk.errs), noun, errors.Join(sk.errs...))
}

// parseTenant is the inverse of installstore.Tenant.Key for an index
// member, which must belong to group g.
func parseTenant(member string, g int) (installstore.Tenant, bool) {
	ent, team, ok := strings.Cut(member, ":")
	if !ok {
		return installstore.Tenant{}, false
	}
	t := installstore.Tenant{EnterpriseID: ent, TeamID: team}
	q := installstore.Query{EnterpriseID: ent, TeamID: team, IsEnterpriseInstall: team == ""}
	if q.Validate() != nil || groupOf(t) != g {
		return installstore.Tenant{}, false
	}
	return t, true
}

func baseQuery(t installstore.Tenant) installstore.Query {
	return installstore.Query{EnterpriseID: t.EnterpriseID, TeamID: t.TeamID, IsEnterpriseInstall: t.IsEnterprise()}
}

// cursor is where a group's next page starts: after member last in
// lexicographic order (the tenant index), or at score after skip members
// of that score (the due index, which orders equal scores by member).
type cursor struct {
	last  string
	score float64
	skip  int64
}

// pager reads one index of every group page by page: queue asks for the
// page of group g at c (nil: the first) on p and returns how to read it;
// handle consumes a page and returns the next cursor, nil when the group
// is done.
type pager struct {
	queue  func(ctx context.Context, p redis.Cmdable, g int, c *cursor) func() ([]redis.Z, error)
	handle func(g int, page []redis.Z, c *cursor) (*cursor, error)
}

// each runs the pager over every group: the first pages of
// groupsPerPipeline groups in one pipeline, further pages of a group one
// call at a time.
func (pg pager) each(ctx context.Context, client redis.UniversalClient, op string) error {
	for start := 0; start < groups; start += groupsPerPipeline {
		end := min(start+groupsPerPipeline, groups)
		reads := make([]func() ([]redis.Z, error), 0, end-start)
		_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for g := start; g < end; g++ {
				reads = append(reads, pg.queue(ctx, p, g, nil))
			}
			return nil
		})
		if err != nil {
			return wrapKey(ctx, op, err)
		}
		for i, read := range reads {
			g := start + i
			var c *cursor
			for {
				page, err := read()
				if err != nil {
					return wrapKey(ctx, fmt.Sprintf("%s (group %03x)", op, g), err)
				}
				if c, err = pg.handle(g, page, c); err != nil {
					return err
				}
				if c == nil {
					break
				}
				read = pg.queue(ctx, client, g, c)
			}
		}
	}
	return nil
}

// ListInstallations implements [installstore.Lister]. It walks each group's
// tenant index in lexicographic pages (ZRANGE BYLEX, 100 a call; the first
// pages of 128 groups in one pipeline), and per tenant reads the latest
// record and the user records in pages (HSCAN for the user IDs, then one
// HMGET of the Version, the bot and up to 100 records, so each listed
// record carries the Version it was current under). Memory stays bounded
// by the page sizes and one tenant's user IDs. Records that do not decode
// are skipped and named in the returned error, which wraps
// [installstore.ErrCorrupt].
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	var sk skipped
	err := pager{
		queue: func(ctx context.Context, p redis.Cmdable, g int, c *cursor) func() ([]redis.Z, error) {
			by := &redis.ZRangeBy{Min: "-", Max: "+", Count: pageSize}
			if c != nil {
				by.Min = "(" + c.last
			}
			cmd := p.ZRangeByLex(ctx, s.group(g).tenants(), by)
			return func() ([]redis.Z, error) {
				ms, err := cmd.Result()
				zs := make([]redis.Z, len(ms))
				for i, m := range ms {
					zs[i] = redis.Z{Member: m}
				}
				return zs, err
			}
		},
		handle: func(g int, page []redis.Z, _ *cursor) (*cursor, error) {
			for _, m := range page {
				member, _ := m.Member.(string)
				t, ok := parseTenant(member, g)
				if !ok {
					sk.add("tenant index of group %03x: a member that is not a tenant of the group", g)
					continue
				}
				if err := s.listTenant(ctx, t, fn, &sk); err != nil {
					return nil, err
				}
			}
			if len(page) < pageSize {
				return nil, nil
			}
			last, _ := page[len(page)-1].Member.(string)
			return &cursor{last: last}, nil
		},
	}.each(ctx, s.client, "list")
	if err != nil {
		return err
	}
	return sk.err("list")
}

// listTenant lists tenant t's latest record and user records.
func (s *Store) listTenant(ctx context.Context, t installstore.Tenant, fn func(installstore.Query, *installstore.Installation) error, sk *skipped) error {
	key := s.groupOf(t).tenant(t)
	vals, err := s.client.HMGet(ctx, key, "v", "bot", "lrec", "luser", "lu").Result()
	if isWrongType(err) {
		sk.add("tenant %s: its key holds another type than a hash", t)
		return nil
	}
	if err != nil {
		return wrap(ctx, "list", t, err)
	}
	if vals[0] == nil && vals[2] == nil {
		return nil // deleted meanwhile
	}
	f := strs(vals)
	lu := f[4]
	if inst, err := assemble(t, "", f[0], f[1], f[2], f[3]); err != nil {
		sk.add("tenant %s: %v", t, err)
	} else if err := fn(baseQuery(t), inst); err != nil {
		return err
	}
	seen := map[string]bool{}
	if lu != "" {
		// The latest installer's installation is the latest one, read
		// with it.
		seen[lu] = true
		if inst, err := assemble(t, lu, f[0], f[1], f[2], f[3]); err != nil {
			sk.add("tenant %s user %s: %v", t, lu, err)
		} else if err := fn(base(t, lu), inst); err != nil {
			return err
		}
	}
	var cursor uint64
	for {
		fields, next, err := s.client.HScan(ctx, key, cursor, "r:*", pageSize).Result()
		if err != nil {
			return wrap(ctx, "list", t, err)
		}
		var uids []string
		for i := 0; i+1 < len(fields); i += 2 {
			uid := strings.TrimPrefix(fields[i], "r:")
			if !seen[uid] {
				seen[uid] = true
				uids = append(uids, uid)
			}
		}
		if err := s.listUsers(ctx, t, key, uids, fn, sk); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// listUsers reads users uids of tenant t with the Version and the bot in
// one HMGET, and calls fn for each.
func (s *Store) listUsers(ctx context.Context, t installstore.Tenant, key string, uids []string, fn func(installstore.Query, *installstore.Installation) error, sk *skipped) error {
	if len(uids) == 0 {
		return nil
	}
	fields := make([]string, 0, 2+2*len(uids))
	fields = append(fields, "v", "bot")
	for _, uid := range uids {
		fields = append(fields, "r:"+uid, "p:"+uid)
	}
	vals, err := s.client.HMGet(ctx, key, fields...).Result()
	if err != nil {
		return wrap(ctx, "list", t, err)
	}
	f := strs(vals)
	for i, uid := range uids {
		if vals[2+2*i] == nil {
			continue // deleted, or installed again and now the latest, meanwhile
		}
		inst, err := assemble(t, uid, f[0], f[1], f[2+2*i], f[3+2*i])
		if err != nil {
			sk.add("tenant %s user %s: %v", t, uid, err)
			continue
		}
		if err := fn(base(t, uid), inst); err != nil {
			return err
		}
	}
	return nil
}

func base(t installstore.Tenant, uid string) installstore.Query {
	q := baseQuery(t)
	q.UserID = uid
	return q
}

func strs(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i], _ = v.(string)
	}
	return out
}

// ListDue implements [installstore.DueLister]. Each group's due index is a
// sorted set scored by refresh time (Unix ms), written by the same script
// that writes the tenant, so it never lags a write. ListDue reads the
// entries scored up to before, 100 a call, the first pages of 128 groups in
// one pipeline: a tick with nothing due costs 8 round trips and opens
// nothing. Members are the latest record ("E:T") and users' records
// ("E:T#U"). Entries that are not a record of their group are skipped and
// named in the returned error, which wraps [installstore.ErrCorrupt].
func (s *Store) ListDue(ctx context.Context, before time.Time, fn func(installstore.Query, time.Time) error) error {
	var sk skipped
	maxScore := strconv.FormatInt(before.UnixMilli(), 10)
	err := pager{
		queue: func(ctx context.Context, p redis.Cmdable, g int, c *cursor) func() ([]redis.Z, error) {
			by := &redis.ZRangeBy{Min: "-inf", Max: maxScore, Count: pageSize}
			if c != nil {
				by.Min, by.Offset = strconv.FormatFloat(c.score, 'f', -1, 64), c.skip
			}
			cmd := p.ZRangeByScoreWithScores(ctx, s.group(g).due(), by)
			return cmd.Result
		},
		handle: func(g int, page []redis.Z, c *cursor) (*cursor, error) {
			for _, m := range page {
				member, _ := m.Member.(string)
				tenant, uid, _ := strings.Cut(member, "#")
				t, ok := parseTenant(tenant, g)
				if !ok || (uid != "" && (installstore.Query{TeamID: "T", UserID: uid}).Validate() != nil) {
					sk.add("due index of group %03x: a member that is not a record of the group", g)
					continue
				}
				if err := fn(base(t, uid), time.UnixMilli(int64(m.Score)).UTC()); err != nil {
					return nil, err
				}
			}
			if len(page) < pageSize {
				return nil, nil
			}
			// The next page starts at the last score, past the members of
			// that score already seen (on this page and, when the whole page
			// had it, on the pages before).
			last := page[len(page)-1].Score
			next := &cursor{score: last}
			for i := len(page) - 1; i >= 0 && page[i].Score == last; i-- {
				next.skip++
			}
			if c != nil && next.skip == int64(len(page)) && c.score == last {
				next.skip += c.skip
			}
			return next, nil
		},
	}.each(ctx, s.client, "list due")
	if err != nil {
		return err
	}
	return sk.err("list due")
}
