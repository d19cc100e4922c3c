// Package liveheap measures the live Go heap (what survives a garbage
// collection) at points of a long operation, for tests that show that an
// operation's memory does not grow with the records it goes through.
// Sampling from inside the operation (a store wrapper's call) keeps the
// operation's own in-flight garbage out of the figure, which a goroutine
// sampling beside it would count.
package liveheap

import (
	"context"
	"runtime"

	"github.com/installvault/installvault/installstore"
)

// Now collects garbage (runtime.GC returns once the heap is swept) and
// returns the bytes of live heap objects.
func Now() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Updates is a store that samples Now every Every-th UpdateInstallation,
// before passing it on. Not safe for concurrent use.
type Updates struct {
	installstore.FullStore
	Every   int
	Samples []uint64 // one per sample, in order

	n int
}

// UpdateInstallation samples, every Every-th call, then updates.
func (u *Updates) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if u.n++; u.Every > 0 && u.n%u.Every == 0 {
		u.Samples = append(u.Samples, Now())
	}
	return u.FullStore.UpdateInstallation(ctx, inst)
}
