package rotation

import (
	"sync/atomic"
	"time"
)

// hotClockRebase is how long hotClock extends one reading of the wall
// clock with the monotonic clock before it reads the wall clock again.
const hotClockRebase = time.Millisecond

// hotClock is time.Now for Authorize's check that no token is due: the
// wall clock read at most every hotClockRebase, advanced in between by the
// monotonic clock, which costs half as much to read. It differs from
// time.Now only for up to hotClockRebase after the wall clock is stepped
// (or the machine resumes from suspend, which the monotonic clock does not
// count); the check then takes a token for fresh that is due, and the next
// reading sees it. Every decision to refresh, wait or fail reads the
// configured clock itself. Safe for concurrent use.
type hotClock struct {
	base atomic.Pointer[time.Time] // a reading of time.Now, with its monotonic part
}

func (c *hotClock) now() time.Time {
	if b := c.base.Load(); b != nil {
		if d := time.Since(*b); d >= 0 && d < hotClockRebase {
			return b.Add(d)
		}
	}
	t := time.Now()
	c.base.Store(&t)
	return t
}
