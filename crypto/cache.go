package crypto

import (
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/installvault/installvault/installstore"
)

// dataKey is an unwrapped data key ready to seal and open. The plaintext
// key bytes are wiped as soon as the AEAD is built; only the AEAD's key
// schedule (which Go cannot wipe) keeps the key.
type dataKey struct {
	aead      cipher.AEAD
	header    string    // "V.provider.keyid.wrapped", as in sealed values
	headerSum [32]byte  // SHA-256 of header, bound as associated data
	marker    string    // format 2: "ivsealed:2.provider.keyid", in a group's other fields
	keyIDEnc  string    // the master key ID, base64url (as in header)
	obtained  time.Time // when the key provider gave it (the store's clock)
}

// newDataKey builds a dataKey from a provider's plaintext, which it wipes.
func newDataKey(header, keyIDEnc string, plaintext []byte) (*dataKey, error) {
	defer wipe(plaintext)
	if len(plaintext) != dataKeySize {
		return nil, fmt.Errorf("crypto: data key has %d bytes, want %d", len(plaintext), dataKeySize)
	}
	aead, err := newAEAD(plaintext)
	if err != nil {
		return nil, err
	}
	dk := &dataKey{aead: aead, header: header, headerSum: sha256.Sum256([]byte(header)), keyIDEnc: keyIDEnc}
	if strings.HasPrefix(header, formatV2+".") {
		dk.marker = markerOf(header)
	}
	return dk, nil
}

// fromProvider validates a generated DataKey and builds a dataKey from it,
// wiping its plaintext.
func fromProvider(provider string, k *DataKey) (*dataKey, error) {
	if k == nil {
		return nil, fmt.Errorf("crypto: key provider %q returned no data key", provider)
	}
	if k.KeyID == "" || len(k.KeyID) > maxKeyIDLen || len(k.Wrapped) == 0 || len(k.Wrapped) > maxWrappedLen {
		k.Plaintext.Wipe()
		return nil, fmt.Errorf("crypto: key provider %q returned a data key with a bad key ID or wrapped key", provider)
	}
	keyIDEnc := b64.EncodeToString([]byte(k.KeyID))
	return newDataKey(sealHeader(provider, k.KeyID, k.Wrapped), keyIDEnc, k.Plaintext.Bytes())
}

type writeEntry struct {
	dk      *dataKey
	created time.Time
	uses    atomic.Int64
}

type readKey struct {
	tenant installstore.Tenant
	header string
}

type readEntry struct {
	dk      *dataKey
	created time.Time
}

// keyCache is the data-key cache of [WithDataKeyCache]: bounded in age, in
// uses per write key, and in entries (capacity write keys and capacity
// unwrapped read keys, least recently used evicted first).
type keyCache struct {
	now       func() time.Time
	realClock bool // now is time.Now: age reads the monotonic clock only
	maxAge    time.Duration
	maxUses   int64

	writes *clockCache[installstore.Tenant, *writeEntry]
	reads  *clockCache[readKey, readEntry]

	flight singleflight.Group // concurrent read misses of one data key
}

func newKeyCache(c *config) *keyCache {
	capacity := c.capacity
	if capacity == 0 {
		capacity = defaultCacheCapacity
	}
	return &keyCache{
		now: c.now, realClock: !c.clockSet, maxAge: c.maxAge, maxUses: int64(c.maxUses),
		writes: newClockCache[installstore.Tenant, *writeEntry](capacity),
		reads:  newClockCache[readKey, readEntry](capacity),
	}
}

// write returns the tenant's write key and counts a use, or nil when there
// is none within the limits.
func (c *keyCache) write(t installstore.Tenant) *dataKey {
	e, ok := c.writes.get(t)
	if !ok || c.age(e.created) >= c.maxAge || e.uses.Add(1) > c.maxUses {
		return nil
	}
	return e.dk
}

// putWrite makes dk the tenant's write key, with one use counted, and
// caches it for reads.
func (c *keyCache) putWrite(t installstore.Tenant, dk *dataKey) {
	now := c.now()
	e := &writeEntry{dk: dk, created: now}
	e.uses.Store(1)
	c.writes.put(t, e, func(old *writeEntry) bool { return now.Sub(old.created) >= c.maxAge })
	c.putReadAt(t, dk, now)
}

// read returns the cached unwrapped key for the tenant and header, or nil.
func (c *keyCache) read(t installstore.Tenant, header string) *dataKey {
	e, ok := c.reads.get(readKey{t, header})
	if !ok || c.age(e.created) >= c.maxAge {
		return nil
	}
	return e.dk
}

// age returns how long ago created (a reading of c.now) was. With the real
// clock it reads only the monotonic clock (time.Since), half the cost of
// time.Now: every cached read asks.
func (c *keyCache) age(created time.Time) time.Duration {
	if c.realClock {
		return time.Since(created)
	}
	return c.now().Sub(created)
}

// putRead caches dk for reads of the tenant's values.
func (c *keyCache) putRead(t installstore.Tenant, dk *dataKey) { c.putReadAt(t, dk, c.now()) }

func (c *keyCache) putReadAt(t installstore.Tenant, dk *dataKey, now time.Time) {
	c.reads.put(readKey{t, dk.header}, readEntry{dk: dk, created: now}, func(old readEntry) bool { return now.Sub(old.created) >= c.maxAge })
}
