package rotation

import (
	"context"
	"sync"
)

// flightGroup runs at most one flight per key at a time. Unlike
// singleflight it lets a caller start a flight without waiting for it (a
// refresh in the background), and it counts running flights for
// [Refresher.Wait]. Entries live while their flight runs: the map is
// bounded by the flights running.
type flightGroup struct {
	mu    sync.Mutex
	m     map[string]*call
	track *tracker
}

// call is one flight; tok and err are set before done is closed.
type call struct {
	done chan struct{}
	tok  token
	err  error
}

// start returns the flight running for key, or starts run as one in a new
// goroutine; led reports whether this call started it.
func (g *flightGroup) start(key string, run func(c *call)) (c *call, led bool) {
	g.mu.Lock()
	if c := g.m[key]; c != nil {
		g.mu.Unlock()
		return c, false
	}
	if g.m == nil {
		g.m = make(map[string]*call)
	}
	c = &call{done: make(chan struct{})}
	g.m[key] = c
	g.track.add()
	g.mu.Unlock()
	go func() {
		defer g.track.done()
		run(c)
		g.mu.Lock()
		delete(g.m, key)
		g.mu.Unlock()
		close(c.done)
	}()
	return c, true
}

// len returns the number of running flights.
func (g *flightGroup) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}

// tracker counts background goroutines (flights, write-backs) for
// [Refresher.Wait].
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (t *tracker) add() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 {
		close(t.idle)
	}
}

func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return nil
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
