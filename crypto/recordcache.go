package crypto

import (
	"context"
	"fmt"
	"hash/maphash"
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
// succeeded or not (also one that failed before it reached the backend, as
// when no data key could be had), and a read that raced with it is not
// cached. An entry is
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

// recordCache is the cache of WithRecordCache: an open-addressing hash
// table of atomic pointers that readers probe without a lock (a hit is a
// few atomic loads, and no reader writes a line another reader shares,
// except to set a used bit once), and that writers change under mu,
// evicting by CLOCK (second chance) when full.
type recordCache struct {
	now       func() time.Time
	realClock bool // now is time.Now: fresh reads the monotonic clock only
	maxAge    time.Duration
	max       int // entries

	gen   atomic.Uint64 // bumped by every invalidation
	table atomic.Pointer[recordTable]

	mu     sync.Mutex // held by writers: put, invalidate; guards what follows
	n      int        // live entries
	hand   int        // CLOCK hand: a slot of the table
	byTeam map[string]map[installstore.Query]struct{}
	byEnt  map[string]map[installstore.Query]struct{}
}

// recordTable is one generation of the table: a power of two of slots,
// each nil (never used: a probe stops), removed (a probe goes on) or
// an entry. Entries are immutable but for their used bit. A table is
// replaced (rebuilt) when live and removed slots fill three quarters of it.
type recordTable struct {
	seed  maphash.Seed
	mask  uint64
	gone  int // removed slots; under recordCache.mu
	slots []atomic.Pointer[recordEntry]
}

type recordEntry struct {
	q       installstore.Query
	inst    *installstore.Installation // opened; cloned on the way out
	expires time.Time
	used    atomic.Bool // CLOCK's referenced bit
}

// removed marks a removed slot.
var removed = new(recordEntry)

// minRecordSlots is the smallest table.
const minRecordSlots = 64

func newRecordTable(slots int) *recordTable {
	return &recordTable{seed: maphash.MakeSeed(), mask: uint64(slots - 1), slots: make([]atomic.Pointer[recordEntry], slots)}
}

// home returns the first slot q's probe looks at. A workspace's own query
// (the hot one: team only) hashes one string.
func (t *recordTable) home(q installstore.Query) uint64 {
	if q.EnterpriseID == "" && q.UserID == "" && !q.IsEnterpriseInstall {
		return maphash.String(t.seed, q.TeamID) & t.mask
	}
	return maphash.Comparable(t.seed, q) & t.mask
}

// find returns q's slot and entry, or -1 and nil.
func (t *recordTable) find(q installstore.Query) (int, *recordEntry) {
	i := t.home(q)
	for range t.slots {
		e := t.slots[i].Load()
		if e == nil {
			break
		}
		if e != removed && e.q == q {
			return int(i), e
		}
		i = (i + 1) & t.mask
	}
	return -1, nil
}

func newRecordCache(c *config) *recordCache {
	return &recordCache{
		now: c.now, maxAge: c.recordMaxAge, max: c.recordEntries,
		realClock: !c.clockSet,
		byTeam:    make(map[string]map[installstore.Query]struct{}),
		byEnt:     make(map[string]map[installstore.Query]struct{}),
	}
}

// get returns a copy of q's fresh entry, or nil. It takes no lock.
func (rc *recordCache) get(q installstore.Query) *installstore.Installation {
	t := rc.table.Load()
	if t == nil {
		return nil
	}
	_, e := t.find(q)
	if e == nil || !rc.fresh(e.expires) {
		return nil
	}
	if !e.used.Load() {
		e.used.Store(true)
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
	e := &recordEntry{q: q, inst: inst.Clone(), expires: expires}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.gen.Load() != gen {
		return // a write went by during the read: what it read may be stale
	}
	t := rc.table.Load()
	if t != nil {
		if i, _ := t.find(q); i >= 0 {
			e.used.Store(true)
			t.slots[i].Store(e)
			return
		}
	}
	if rc.n >= rc.max {
		rc.evict(t, now)
	}
	if t == nil || 4*(rc.n+t.gone+1) > 3*len(t.slots) {
		t = rc.rebuild(t)
	}
	i := t.home(q)
	for ; ; i = (i + 1) & t.mask {
		if old := t.slots[i].Load(); old == nil || old == removed {
			if old == removed {
				t.gone--
			}
			break
		}
	}
	t.slots[i].Store(e)
	rc.n++
	rc.index(q)
}

// evict removes one entry of t: from the hand on, the first expired one or
// the first not used since the hand last passed it; when readers set every
// bit again faster than two passes clear them (every entry hot), the first
// entry the hand passed, so that the cache never outgrows max. The caller
// holds mu.
func (rc *recordCache) evict(t *recordTable, now time.Time) {
	first := -1
	for range 2 * len(t.slots) { // two passes find one unless readers race the hand
		rc.hand = (rc.hand + 1) & int(t.mask)
		e := t.slots[rc.hand].Load()
		if e == nil || e == removed {
			continue
		}
		if !now.Before(e.expires) || !e.used.Swap(false) {
			rc.removeAt(t, rc.hand, e)
			return
		}
		if first < 0 {
			first = rc.hand
		}
	}
	if first >= 0 {
		rc.removeAt(t, first, t.slots[first].Load())
	}
}

// removeAt removes entry e, in slot i of t. The caller holds mu.
func (rc *recordCache) removeAt(t *recordTable, i int, e *recordEntry) {
	t.slots[i].Store(removed)
	t.gone++
	rc.n--
	rc.unindex(e.q)
}

// rebuild replaces t (nil: none yet) with a table holding its live
// entries in at least twice as many slots, and returns it. The caller holds mu. Readers still probing t
// find what it held.
func (rc *recordCache) rebuild(t *recordTable) *recordTable {
	size := minRecordSlots
	for size < 2*(rc.n+1) {
		size *= 2
	}
	nt := newRecordTable(size)
	if t != nil {
		for i := range t.slots {
			if e := t.slots[i].Load(); e != nil && e != removed {
				j := nt.home(e.q)
				for nt.slots[j].Load() != nil {
					j = (j + 1) & nt.mask
				}
				nt.slots[j].Store(e)
			}
		}
	}
	rc.table.Store(nt)
	rc.hand = 0
	return nt
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
	tab := rc.table.Load()
	for q := range set {
		if i, e := tab.find(q); i >= 0 {
			rc.removeAt(tab, i, e)
		} else {
			rc.unindex(q)
		}
	}
}
