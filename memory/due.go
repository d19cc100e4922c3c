package memory

import (
	"container/heap"
	"time"

	"github.com/installvault/installvault/installstore"
)

// dueIndex is the ordered due index: a min-heap of one entry per tenant,
// keyed by the tenant's earliest due record, with lazy deletion (an entry
// whose time is no longer its tenant's, or whose tenant was dropped, is
// stale and skipped). index costs O(users of the tenant + log n); collect of
// D due tenants visits O(D) entries, since a heap's subtree under an entry
// later than the bound holds only later entries. Stale entries are
// compacted away once they outnumber live ones.
type dueIndex struct {
	entries dueHeap
	indexed int // tenants with a due time
}

type dueEntry struct {
	at int64 // unix nanoseconds
	t  *tenant
}

// dueRecord is one record ListDue reports.
type dueRecord struct {
	q  installstore.Query
	at time.Time
}

// latestDue is the due time of t's latest record: its bot and the latest
// installing user's tokens.
func latestDue(t *tenant) time.Time {
	latest := *t.latest
	latest.Bot = t.bot
	return latest.RefreshAt()
}

// index recomputes t's due time after a write and queues it.
func (d *dueIndex) index(t *tenant) {
	at := latestDue(t)
	for _, rec := range t.users {
		if u := rec.RefreshAt(); !u.IsZero() && (at.IsZero() || u.Before(at)) {
			at = u
		}
	}
	was := t.due
	t.due = 0
	if !at.IsZero() {
		t.due = at.UnixNano()
	}
	switch {
	case was == 0 && t.due != 0:
		d.indexed++
	case was != 0 && t.due == 0:
		d.indexed--
	}
	if t.due != 0 && t.due != was {
		heap.Push(&d.entries, dueEntry{at: t.due, t: t})
	}
	d.compact()
}

// unindex forgets a dropped tenant.
func (d *dueIndex) unindex(t *tenant) {
	if t.due != 0 {
		d.indexed--
		t.due = 0
	}
	d.compact()
}

func (d *dueIndex) compact() {
	if len(d.entries) <= 2*d.indexed+64 {
		return
	}
	kept := d.entries[:0]
	seen := make(map[*tenant]bool, d.indexed)
	for _, e := range d.entries {
		if e.t.due == e.at && !seen[e.t] {
			seen[e.t] = true
			kept = append(kept, e)
		}
	}
	clear(d.entries[len(kept):])
	d.entries = kept
	heap.Init(&d.entries)
}

// collect returns the records due at or before before, of tenants live
// reports as still stored.
func (d *dueIndex) collect(before int64, live func(*tenant) bool) []dueRecord {
	var out []dueRecord
	seen := make(map[*tenant]bool)
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(d.entries) || d.entries[i].at > before {
			continue
		}
		stack = append(stack, 2*i+1, 2*i+2)
		e := d.entries[i]
		if e.t.due != e.at || seen[e.t] || !live(e.t) {
			continue
		}
		seen[e.t] = true
		key := e.t.latest.Query()
		key.UserID = ""
		if at := latestDue(e.t); !at.IsZero() && at.UnixNano() <= before {
			out = append(out, dueRecord{key, at})
		}
		for _, rec := range e.t.users {
			if at := rec.RefreshAt(); !at.IsZero() && at.UnixNano() <= before {
				uq := key
				uq.UserID = rec.User.ID
				out = append(out, dueRecord{uq, at})
			}
		}
	}
	return out
}

type dueHeap []dueEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
