package memory

import (
	"container/heap"
	"time"

	"github.com/installvault/installvault/installstore"
)

// recordKey names one record: a tenant's latest installation (user "") or
// one user's.
type recordKey struct {
	tenant installstore.Tenant
	user   string
}

// dueEntry says that key was due at at (unix nanoseconds) as of generation
// gen; an entry whose gen is no longer live is stale and skipped.
type dueEntry struct {
	at  int64
	gen uint64
	key recordKey
}

// dueIndex is the ordered due index: a min-heap on the due time with lazy
// deletion. set and remove cost O(log n); collect of D due records visits
// O(D) entries, since a heap's subtree under an entry later than the bound
// holds only later entries. Stale entries are compacted away once they
// outnumber live ones, so the index stays within twice the indexed records.
type dueIndex struct {
	entries dueHeap
	live    map[recordKey]uint64 // key → gen of its current entry
	gen     uint64
}

// set indexes key at at; a zero at removes it.
func (d *dueIndex) set(key recordKey, at time.Time) {
	if at.IsZero() {
		d.remove(key)
		return
	}
	d.gen++
	d.live[key] = d.gen
	heap.Push(&d.entries, dueEntry{at: at.UnixNano(), gen: d.gen, key: key})
	d.compact()
}

// remove drops key from the index.
func (d *dueIndex) remove(key recordKey) {
	if _, ok := d.live[key]; ok {
		delete(d.live, key)
		d.compact()
	}
}

func (d *dueIndex) compact() {
	if len(d.entries) <= 2*len(d.live)+64 {
		return
	}
	kept := d.entries[:0]
	for _, e := range d.entries {
		if d.live[e.key] == e.gen {
			kept = append(kept, e)
		}
	}
	clear(d.entries[len(kept):])
	d.entries = kept
	heap.Init(&d.entries)
}

// collect returns the live entries due at or before before.
func (d *dueIndex) collect(before int64) []dueEntry {
	var out []dueEntry
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(d.entries) || d.entries[i].at > before {
			continue
		}
		if e := d.entries[i]; d.live[e.key] == e.gen {
			out = append(out, e)
		}
		stack = append(stack, 2*i+1, 2*i+2)
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
