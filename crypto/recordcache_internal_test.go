package crypto

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/installvault/installvault/installstore"
)

// TestRecordCacheStaysBoundedUnderHotReaders: readers that set every
// entry's used bit again while the CLOCK hand sweeps (every entry hot) never
// push the cache past maxEntries. The sweep used to give up without a
// victim and insert anyway, so each such race left one entry more, for
// good. It needs reads running in parallel with the writes (GOMAXPROCS > 1)
// to catch the race.
func TestRecordCacheStaysBoundedUnderHotReaders(t *testing.T) {
	const maxEntries, queries = 4, 16
	rc := newRecordCache(&config{now: time.Now, recordMaxAge: time.Hour, recordEntries: maxEntries})
	var qs [queries]installstore.Query
	for i := range qs {
		qs[i] = installstore.Query{TeamID: fmt.Sprintf("T%02d", i)}
	}
	inst := &installstore.Installation{TeamID: "T00", User: installstore.User{ID: "U1"}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				rc.get(qs[n%queries])
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	for i := range 50_000 {
		rc.put(qs[i%queries], inst, rc.gen.Load(), time.Time{}, time.Hour)
		rc.mu.Lock()
		n := rc.n
		rc.mu.Unlock()
		if n > maxEntries {
			t.Fatalf("after %d puts the cache holds %d entries, more than its %d", i+1, n, maxEntries)
		}
	}
}
