package rotation

import (
	"sync"
	"time"
)

// maxRemembered bounds each per-token map a Refresher keeps (dead-token
// marks, failure backoffs), so that a long-running process over any number
// of tenants holds bounded memory. Forgetting an entry early costs at most
// one extra oauth.v2.access call for that token.
const maxRemembered = 100_000

// minSweep is the size below which an expiring map is never swept.
const minSweep = 64

// expiring is a map whose entries expire, swept as it grows (amortized
// O(1) per put) and capped at max entries: when more than three quarters
// full after its expired entries are swept, it drops arbitrary entries down
// to three quarters of max, so that a quarter of max puts pass before the
// next sweep even at the cap.
type expiring[V any] struct {
	mu      sync.Mutex
	m       map[string]expiringEntry[V]
	max     int
	sweepAt int
	sweeps  int // for tests
}

type expiringEntry[V any] struct {
	v     V
	until time.Time
}

func newExpiring[V any](max int) *expiring[V] {
	return &expiring[V]{m: make(map[string]expiringEntry[V]), max: max, sweepAt: minSweep}
}

// put keeps v for key until until (exclusive), as of now.
func (e *expiring[V]) put(key string, v V, until, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.m[key]; !ok && len(e.m) >= e.sweepAt {
		e.sweep(now)
	}
	e.m[key] = expiringEntry[V]{v, until}
}

// sweep drops expired entries, then arbitrary ones while more than three
// quarters full.
func (e *expiring[V]) sweep(now time.Time) {
	e.sweeps++
	for k, en := range e.m {
		if !now.Before(en.until) {
			delete(e.m, k)
		}
	}
	for k := range e.m {
		if len(e.m) <= e.max*3/4 {
			break
		}
		delete(e.m, k)
	}
	e.sweepAt = min(max(minSweep, 2*len(e.m)), e.max)
}

// get returns key's unexpired value.
func (e *expiring[V]) get(key string, now time.Time) (V, time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en, ok := e.m[key]
	if !ok {
		var zero V
		return zero, time.Time{}, false
	}
	if !now.Before(en.until) {
		delete(e.m, key)
		var zero V
		return zero, time.Time{}, false
	}
	return en.v, en.until, true
}

// del forgets key.
func (e *expiring[V]) del(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// len returns the number of entries, expired ones included.
func (e *expiring[V]) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.m)
}
