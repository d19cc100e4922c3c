package rotation

import (
	"fmt"
	"time"
)

// deadMarkTTL is how long a refresh token Slack rejected is remembered as
// dead; after it, one more oauth.v2.access call per replica re-learns it.
const deadMarkTTL = 24 * time.Hour

// deadMarks remembers, per flight, the refresh token Slack rejected
// (invalid_refresh_token, invalid_grant), by fingerprint: while the store
// still holds that refresh token no Slack call is made with it. A different
// stored refresh token (a re-install) or a successful refresh lifts the
// mark; marks expire after deadMarkTTL and are capped in number.
type deadMarks struct{ m *expiring[fingerprint] }

func newDeadMarks() deadMarks { return deadMarks{newExpiring[fingerprint](maxRemembered)} }

// mark records that the refresh token with fingerprint fp is dead for key.
func (d deadMarks) mark(key string, fp fingerprint, now time.Time) {
	d.m.put(key, fp, now.Add(deadMarkTTL), now)
}

// dead reports whether fp is the refresh token marked dead for key.
func (d deadMarks) dead(key string, fp fingerprint, now time.Time) bool {
	got, _, ok := d.m.get(key, now)
	return ok && got == fp
}

// stored reports the refresh token the store holds now for key, read under
// the lease: a mark for another one is stale (the installation was
// re-installed) and is dropped. It reports whether fp is dead.
func (d deadMarks) stored(key string, fp fingerprint, now time.Time) bool {
	got, _, ok := d.m.get(key, now)
	if ok && got != fp {
		d.m.del(key)
	}
	return ok && got == fp
}

// lift forgets key's mark (a refresh succeeded).
func (d deadMarks) lift(key string) { d.m.del(key) }

// recentFailures remembers, per flight, a refresh that Slack or the network
// failed for a transient reason, until when it is not retried. Store and KMS
// failures are never remembered: they end with the outage.
type recentFailures struct{ m *expiring[error] }

func newRecentFailures() recentFailures { return recentFailures{newExpiring[error](maxRemembered)} }

func (f recentFailures) put(key string, until time.Time, err error, now time.Time) {
	f.m.put(key, err, until, now)
}

func (f recentFailures) clear(key string) { f.m.del(key) }

// get returns the failure to repeat for key at now, or nil: retry.
func (f recentFailures) get(key string, now time.Time) error {
	err, until, ok := f.m.get(key, now)
	if !ok {
		return nil
	}
	return fmt.Errorf("not retried before %s: %w", until.UTC().Format(time.RFC3339), err)
}
