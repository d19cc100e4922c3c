package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/installstore"
)

// unavailablePrefixes are the Redis error replies that mean "not now": the
// server is loading its data set, a slot is moving or the cluster is down,
// a replica was asked to write, the master lost its link, a script is
// running, memory is full (maxmemory with noeviction), clients are too many.
var unavailablePrefixes = []string{
	"LOADING", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "BUSY",
	"NOREPLICAS", "OOM", "MOVED", "ASK", "max number of clients",
}

// transient reports whether err, returned by a call made with ctx, is
// worth retrying later: a lost or refused connection, a timeout, an
// exhausted pool, or one of unavailablePrefixes. A cancelled or expired ctx
// is the caller's, not the server's; redis.Nil and other Redis error
// replies (WRONGTYPE, NOPERM, a script error) are permanent.
func transient(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) || ctx.Err() != nil {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		for _, p := range unavailablePrefixes {
			if redis.HasErrorPrefix(err, p) {
				return true
			}
		}
		return false
	}
	// Not a reply from Redis: the client's own I/O (dial, read, write,
	// timeouts, pool), which a later call may get through.
	return true
}

// isWrongType reports whether err is Redis's WRONGTYPE reply: a key holds
// another kind of value than the store writes there.
func isWrongType(err error) bool { return redis.HasErrorPrefix(err, "WRONGTYPE") }

// wrap wraps a Redis error with the operation and tenant. Transient errors
// wrap [installstore.ErrUnavailable], WRONGTYPE wraps
// [installstore.ErrCorrupt]. The cause's text carries no argument of the
// command, so no secret.
func wrap(ctx context.Context, op string, t installstore.Tenant, err error) error {
	return wrapKey(ctx, fmt.Sprintf("%s tenant %s", op, t), err)
}

// wrapKey is wrap for operations without a tenant (nonces, leases, listings).
func wrapKey(ctx context.Context, what string, err error) error {
	switch {
	case transient(ctx, err):
		return fmt.Errorf("redisstore: %s: %w: %w", what, installstore.ErrUnavailable, err)
	case isWrongType(err):
		return fmt.Errorf("redisstore: %s: %w: a key holds another type than the store writes: %w", what, installstore.ErrCorrupt, err)
	default:
		return fmt.Errorf("redisstore: %s: %w", what, err)
	}
}
