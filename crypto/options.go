package crypto

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/installvault/installvault/installstore"
)

// defaultCacheCapacity bounds the unwrapped data keys kept for reads.
const defaultCacheCapacity = 10000

// Option configures [NewStore].
type Option func(*config)

type config struct {
	now      func() time.Time
	clockSet bool // WithClock was given: the record cache reads it, not the monotonic clock
	cache    bool
	maxAge   time.Duration
	maxUses  int
	capacity int
	meter    metric.MeterProvider
	err      error

	recordMaxAge  time.Duration // WithRecordCache; zero without
	recordEntries int
}

// WithDataKeyCache enables data-key caching with explicit limits, like the
// AWS Encryption SDK's caching materials manager: each tenant's write data
// key seals at most maxUses records (one per StoreInstallation or
// UpdateInstallation) and is replaced after maxAge; unwrapped data keys are
// reused for reads for at most maxAge. A key revoked in KMS stops working
// for this process within maxAge. Without this option every write generates
// a data key and every read unwraps one. Both limits must be positive, and
// maxUses at most 1<<32 (AES-GCM's limit for random nonces, counting one
// record as up to three seals, is far higher than any sane setting).
func WithDataKeyCache(maxAge time.Duration, maxUses int) Option {
	return func(c *config) {
		if maxAge <= 0 || maxUses <= 0 || int64(maxUses) > 1<<32 {
			c.err = fmt.Errorf("crypto: %w: WithDataKeyCache(%v, %d): both limits must be positive (maxUses at most 1<<32)", installstore.ErrInvalid, maxAge, maxUses)
			return
		}
		c.cache, c.maxAge, c.maxUses = true, maxAge, maxUses
	}
}

// WithDataKeyCacheCapacity bounds the data-key cache in entries (default
// 10 000): at most n tenants' write keys and n unwrapped read keys. Beyond
// it, an expired entry or else the least recently used one (a CLOCK
// approximation) is dropped. It has no effect without [WithDataKeyCache].
func WithDataKeyCacheCapacity(n int) Option {
	return func(c *config) {
		if n <= 0 {
			c.err = fmt.Errorf("crypto: %w: WithDataKeyCacheCapacity(%d): must be positive", installstore.ErrInvalid, n)
			return
		}
		c.capacity = n
	}
}

// WithClock sets the clock the data-key cache and the record cache measure
// age with (default time.Now; with it, the record cache checks freshness on
// the monotonic clock alone). Tests use it to expire keys and cached records
// without sleeping.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.err = fmt.Errorf("crypto: %w: WithClock(nil)", installstore.ErrInvalid)
			return
		}
		c.now, c.clockSet = now, true
	}
}
