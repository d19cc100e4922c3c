package rotation

import (
	"fmt"
	"sync"
	"time"
)

// deadMarks remembers, per flight, the refresh token Slack rejected
// (invalid_refresh_token, invalid_grant), by fingerprint: while the store
// still holds that refresh token no Slack call is made with it. A different
// stored refresh token (a re-install) lifts the mark.
type deadMarks struct {
	mu sync.Mutex
	m  map[string]fingerprint
}

// mark records that the refresh token with fingerprint fp is dead for key.
func (d *deadMarks) mark(key string, fp fingerprint) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[string]fingerprint)
	}
	d.m[key] = fp
}

// dead reports whether fp is the refresh token marked dead for key.
func (d *deadMarks) dead(key string, fp fingerprint) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	got, ok := d.m[key]
	return ok && got == fp
}

// stored reports the refresh token the store holds now for key, read under
// the lease: a mark for another one is stale (the installation was
// re-installed) and is dropped. It reports whether fp is dead.
func (d *deadMarks) stored(key string, fp fingerprint) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	got, ok := d.m[key]
	if ok && got != fp {
		delete(d.m, key)
	}
	return ok && got == fp
}

// recentFailures remembers, per flight, a refresh that failed for a
// transient reason, until when it is not retried.
type recentFailures struct {
	mu sync.Mutex
	m  map[string]recentFailure
}

type recentFailure struct {
	until time.Time
	err   error
}

func (f *recentFailures) put(key string, until time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = make(map[string]recentFailure)
	}
	f.m[key] = recentFailure{until, err}
}

func (f *recentFailures) clear(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
}

// get returns the failure to repeat for key at now, or nil: retry.
func (f *recentFailures) get(key string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.m[key]
	if !ok {
		return nil
	}
	if !now.Before(r.until) {
		delete(f.m, key)
		return nil
	}
	return fmt.Errorf("not retried before %s: %w", r.until.UTC().Format(time.RFC3339), r.err)
}
