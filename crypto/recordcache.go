package crypto

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/installvault/installvault/installstore"
)

// WithRecordCache keeps up to maxEntries opened installations in memory and
// serves FetchInstallation from them, without a backend read or a decrypt,
// while they are fresh: an entry lives at most maxAge, and never longer than
// the data-key cache's maxAge after the data keys that opened it came from
// the key provider — so a KMS key revoked (disabled, deleted, its grant
// withdrawn) stops serving tokens within the data-key cache's maxAge, as
// without this cache. It needs [WithDataKeyCache] with a maxAge of at least
// maxAge; both limits must be positive.
//
// A write, update or delete through this Store (StoreInstallation,
// UpdateInstallation, DeleteInstallation, DeleteBot and their conditional
// forms, and [Rewrap]) invalidates the tenant's entries at once, whether it
// succeeded or not, and a read that raced with it is not cached. An entry is
// only ever served instead of a read that has not been tried: a failing
// backend or key provider is never papered over with a cached record, and
// errors are not cached.
//
// The cache is this process's: what another replica (or a tool writing to
// the backend directly) writes is not seen here until the entry expires. An
// installation another replica uninstalled keeps being served here for up
// to maxAge — Slack has revoked its tokens, so calls with them fail with
// invalid_auth or token_revoked, but they are still handed out — and a token
// another replica refreshed is served in its previous version (which Slack
// accepts until it expires) for up to maxAge. Keep maxAge short (seconds)
// where that matters. A reader that must see the backend's current state,
// such as the token refresher re-reading a record once it holds the
// refresh lease, passes a context made by [WithFreshRead].
func WithRecordCache(maxAge time.Duration, maxEntries int) Option {
	return func(c *config) {
		if maxAge <= 0 || maxEntries <= 0 {
			c.err = fmt.Errorf("crypto: %w: WithRecordCache(%v, %d): both limits must be positive", installstore.ErrInvalid, maxAge, maxEntries)
			return
		}
		c.recordMaxAge, c.recordEntries = maxAge, maxEntries
	}
}

type freshReadKey struct{}

// WithFreshRead returns a context whose fetches through a [Store] bypass its
// record cache ([WithRecordCache]): they read the backend and open what it
// holds (and refresh the cache with it). Use it where a stale read would
// cost more than a backend read, such as the token refresher's re-read
// under its lease.
func WithFreshRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshReadKey{}, true)
}

func freshRead(ctx context.Context) bool {
	v, _ := ctx.Value(freshReadKey{}).(bool)
	return v
}

// recordCache is the cache of WithRecordCache.
type recordCache struct {
	now       func() time.Time
	realClock bool // now is time.Now: fresh reads the monotonic clock only
	maxAge    time.Duration

	mu      sync.Mutex    // held by writers: put, invalidate; guards the indexes
	gen     atomic.Uint64 // bumped by every invalidation
	entries *clockCache[installstore.Query, recordEntry]
	byTeam  map[string]map[installstore.Query]struct{}
	byEnt   map[string]map[installstore.Query]struct{}
}

// recordEntry is a cached record, held by value in the cache's slots: a
// hit follows no pointer before the installation it copies.
type recordEntry struct {
	q       installstore.Query
	inst    *installstore.Installation // opened; cloned on the way out
	expires time.Time
}

func newRecordCache(c *config) *recordCache {
	rc := &recordCache{
		now: c.now, maxAge: c.recordMaxAge,
		realClock: reflect.ValueOf(c.now).Pointer() == reflect.ValueOf(time.Now).Pointer(),
		entries:   newClockCache[installstore.Query, recordEntry](c.recordEntries),
		byTeam:    make(map[string]map[installstore.Query]struct{}),
		byEnt:     make(map[string]map[installstore.Query]struct{}),
	}
	rc.entries.onEvict = func(e recordEntry) { rc.unindex(e.q) } // under rc.mu: evictions happen in put
	return rc
}

// get returns a copy of q's fresh entry, or nil.
func (rc *recordCache) get(q installstore.Query) *installstore.Installation {
	e, ok := rc.entries.get(q)
	if !ok || !rc.fresh(e.expires) {
		return nil
	}
	return e.inst.Clone()
}

// fresh reports whether expires is still ahead. With the real clock it
// reads only the monotonic clock (time.Until), half the cost of time.Now.
func (rc *recordCache) fresh(expires time.Time) bool {
	if rc.realClock {
		return time.Until(expires) > 0
	}
	return rc.now().Before(expires)
}

// put caches a copy of inst, opened from a read that began at generation
// gen with data keys first obtained at keysFrom (zero: no data key), unless
// an invalidation came since.
func (rc *recordCache) put(q installstore.Query, inst *installstore.Installation, gen uint64, keysFrom time.Time, keyMaxAge time.Duration) {
	now := rc.now()
	expires := now.Add(rc.maxAge)
	if !keysFrom.IsZero() {
		if k := keysFrom.Add(keyMaxAge); k.Before(expires) {
			expires = k
		}
	}
	if !now.Before(expires) {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.gen.Load() != gen {
		return // a write went by during the read: what it read may be stale
	}
	rc.entries.put(q, recordEntry{q: q, inst: inst.Clone(), expires: expires}, func(old recordEntry) bool { return !now.Before(old.expires) })
	rc.index(q)
}

func (rc *recordCache) index(q installstore.Query) {
	add := func(m map[string]map[installstore.Query]struct{}, id string) {
		if id == "" {
			return
		}
		if m[id] == nil {
			m[id] = make(map[installstore.Query]struct{})
		}
		m[id][q] = struct{}{}
	}
	add(rc.byTeam, q.TeamID)
	add(rc.byEnt, q.EnterpriseID)
}

func (rc *recordCache) unindex(q installstore.Query) {
	del := func(m map[string]map[installstore.Query]struct{}, id string) {
		if set := m[id]; set != nil {
			delete(set, q)
			if len(set) == 0 {
				delete(m, id)
			}
		}
	}
	del(rc.byTeam, q.TeamID)
	del(rc.byEnt, q.EnterpriseID)
}

// invalidate drops every entry a write to tenant t may change: for a
// workspace, every query naming its team (under any enterprise: the Grid
// fallback serves (E, T) with the standalone (, T)); for an organization,
// every query naming the enterprise (its workspaces fall back to it).
func (rc *recordCache) invalidate(t installstore.Tenant) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gen.Add(1)
	set := rc.byEnt[t.EnterpriseID]
	if t.TeamID != "" {
		set = rc.byTeam[t.TeamID]
	}
	for q := range set {
		rc.entries.remove(q)
		rc.unindex(q)
	}
}
