package crypto

import (
	"sync"
	"sync/atomic"
)

// clockCache is a map bounded in entries that evicts by the CLOCK
// (second-chance) approximation of least-recently-used: a hit only sets the
// entry's referenced bit, under a read lock, so the hot path never takes the
// write lock; an insert into a full cache sweeps a hand over the entries,
// clearing referenced bits, and replaces the first entry not used since the
// hand last passed it (or one the caller calls stale). Safe for concurrent
// use.
type clockCache[K comparable, V any] struct {
	mu      sync.RWMutex
	max     int
	index   map[K]int // key → slot
	slots   []clockSlot[K, V]
	hand    int
	onEvict func(V) // called with the write lock held; may be nil
}

type clockSlot[K comparable, V any] struct {
	key  K
	val  V
	used atomic.Bool
}

func newClockCache[K comparable, V any](maxEntries int) *clockCache[K, V] {
	return &clockCache[K, V]{max: maxEntries, index: make(map[K]int)}
}

// get returns the value for k and marks it used.
func (c *clockCache[K, V]) get(k K) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	s := &c.slots[i]
	if !s.used.Load() {
		s.used.Store(true)
	}
	return s.val, true
}

// put sets the value for k. When the cache is full it evicts the first
// entry, from the hand on, that stale reports (stale may be nil) or that was
// not used since the hand last passed it.
func (c *clockCache[K, V]) put(k K, v V, stale func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, v, stale)
}

func (c *clockCache[K, V]) putLocked(k K, v V, stale func(V) bool) {
	if i, ok := c.index[k]; ok {
		c.slots[i].val = v
		c.slots[i].used.Store(true)
		return
	}
	if len(c.slots) < c.max {
		c.slots = append(c.slots, clockSlot[K, V]{key: k, val: v})
		c.index[k] = len(c.slots) - 1
		return
	}
	for range 2 * len(c.slots) { // two passes find an entry: the first clears every bit
		s := &c.slots[c.hand]
		if (stale != nil && stale(s.val)) || !s.used.Swap(false) {
			break
		}
		c.hand = (c.hand + 1) % len(c.slots)
	}
	s := &c.slots[c.hand]
	if c.onEvict != nil {
		c.onEvict(s.val)
	}
	delete(c.index, s.key)
	s.key, s.val = k, v
	s.used.Store(false)
	c.index[k] = c.hand
	c.hand = (c.hand + 1) % len(c.slots)
}

// remove deletes k's entry, if any.
func (c *clockCache[K, V]) remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.index[k]; ok {
		c.removeAt(i)
	}
}

// removeAt deletes the entry in slot i, moving the last entry there.
func (c *clockCache[K, V]) removeAt(i int) {
	delete(c.index, c.slots[i].key)
	last := len(c.slots) - 1
	if i != last {
		c.slots[i].key, c.slots[i].val = c.slots[last].key, c.slots[last].val
		c.slots[i].used.Store(c.slots[last].used.Load())
		c.index[c.slots[i].key] = i
	}
	var zero clockSlot[K, V]
	c.slots[last].key, c.slots[last].val = zero.key, zero.val
	c.slots = c.slots[:last]
	if c.hand >= len(c.slots) {
		c.hand = 0
	}
}

// removeIf deletes the entries match reports, and returns how many.
func (c *clockCache[K, V]) removeIf(match func(K, V) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := 0; i < len(c.slots); {
		if match(c.slots[i].key, c.slots[i].val) {
			c.removeAt(i)
			n++
			continue
		}
		i++
	}
	return n
}

// len returns the number of entries.
func (c *clockCache[K, V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.slots)
}
