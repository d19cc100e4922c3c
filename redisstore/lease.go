package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/installstore"
)

// acquireScript grants KEYS[1] to ARGV[1] for ARGV[2] ms when it is free or
// already ARGV[1]'s (which extends it). Returns 1 when granted.
var acquireScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// releaseScript deletes KEYS[1] if ARGV[1] holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)

// leaseKey is "{base:l:<first 16 bytes of the name's SHA-256, hex>}": a
// fixed shape, so that no lease name of one prefix can be a key of another
// prefix that extends it, and leases spread over the cluster's slots.
func (s *Store) leaseKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "{" + s.base + ":l:" + hex.EncodeToString(sum[:16]) + "}"
}

// AcquireLease implements [installstore.Leaser]: one script (SET PX when the
// key is free or the owner's). The lease's lifetime is counted by the Redis
// server; an expired lease is gone the moment it expires.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	if name == "" || owner == "" || ttl <= 0 {
		return fmt.Errorf("redisstore: acquire lease: %w: need a name, an owner and a positive ttl", installstore.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: acquire lease %q: %w", name, err)
	}
	ok, err := acquireScript.Run(ctx, s.client, []string{s.leaseKey(name)}, owner, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return wrapKey(ctx, fmt.Sprintf("acquire lease %q", name), err)
	}
	if ok != 1 {
		return fmt.Errorf("redisstore: acquire lease %q: %w", name, installstore.ErrLeaseHeld)
	}
	return nil
}

// ReleaseLease implements [installstore.Leaser]: one script that deletes
// the lease only if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: release lease %q: %w", name, err)
	}
	if err := releaseScript.Run(ctx, s.client, []string{s.leaseKey(name)}, owner).Err(); err != nil {
		return wrapKey(ctx, fmt.Sprintf("release lease %q", name), err)
	}
	return nil
}
