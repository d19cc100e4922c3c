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

// putNonceScript: SET NX PX with a token naming this put, so that a put the
// client retried after a lost reply finds its own nonce instead of a
// conflict. KEYS[1] the nonce; ARGV: token, lifetime in ms. Returns 1 when
// put.
var putNonceScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`)

// consumeNonceScript deletes the nonce and leaves, for a minute, a marker
// naming this consumption (KEYS[2], same slot), so that a consumption the
// client retried after a lost reply succeeds once more, and only it.
// ARGV: token. Returns 1 when consumed.
var consumeNonceScript = redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('SET', KEYS[2], '1', 'PX', '60000')
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
return 0
`)

// nonceKey is "{base:n:<sha256 hex>}" (base: the prefix, or
// prefix@clientID): Redis never holds a usable nonce (an OAuth state), and
// nonces spread over the cluster's slots.
func (s *Store) nonceKey(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return "{" + s.base + ":n:" + hex.EncodeToString(sum[:]) + "}"
}

// PutNonce implements [installstore.NonceStore]: one SET NX PX of the
// nonce's SHA-256 (in a script that recognizes its own retried put). The
// nonce lives expiresAt minus now (WithClock) on the server's clock, at
// least a millisecond; Redis refuses an expired key the moment it expires.
func (s *Store) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if nonce == "" {
		return fmt.Errorf("redisstore: put nonce: %w: empty nonce", installstore.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: put nonce: %w", err)
	}
	ttl := max(expiresAt.Sub(s.now()).Milliseconds(), 1)
	put, err := putNonceScript.Run(ctx, s.client, []string{s.nonceKey(nonce)}, writeToken(), ttl).Int()
	if err != nil {
		return wrapKey(ctx, "put nonce", err)
	}
	if put != 1 {
		return fmt.Errorf("redisstore: put nonce: %w: nonce exists", installstore.ErrConflict)
	}
	return nil
}

// ConsumeNonce implements [installstore.NonceStore]: one script that
// deletes the nonce; exactly one consumer sees it deleted.
func (s *Store) ConsumeNonce(ctx context.Context, nonce string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: consume nonce: %w", err)
	}
	key := s.nonceKey(nonce)
	ok, err := consumeNonceScript.Run(ctx, s.client, []string{key, key + ":c:" + writeToken()}).Int()
	if err != nil {
		return wrapKey(ctx, "consume nonce", err)
	}
	if ok != 1 {
		return fmt.Errorf("redisstore: consume nonce: %w: unknown, already used or expired", installstore.ErrNotFound)
	}
	return nil
}
