package oauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// The state is base64url (no padding) of
//
//	version (1 byte) | issued-at (8 bytes, big-endian Unix seconds) |
//	nonce (16 random bytes) | HMAC-SHA256(key, stateDomain | the preceding 25 bytes)
const (
	stateVersion  = 1
	stateNonceLen = 16
	statePayload  = 1 + 8 + stateNonceLen
	stateRawLen   = statePayload + sha256.Size
	// stateLen is the length of an encoded state; nothing else decodes.
	stateLen = (stateRawLen*8 + 5) / 6
	// stateDomain separates this MAC from any other use of the key.
	stateDomain = "installvault/oauth/state/v1\x00"
	// nonceKeyPrefix namespaces state nonces in a shared NonceStore.
	nonceKeyPrefix = "oauthstate-"
	// stateClockSkew tolerates replicas whose clocks disagree a little.
	stateClockSkew = time.Minute
)

// Why a state is refused. They map to failure reasons.
var (
	errStateMalformed = errors.New("state is malformed or its signature does not verify")
	errStateExpired   = errors.New("state has expired")
	errStateFuture    = errors.New("state was issued in the future")
)

// state is a decoded, verified state.
type state struct {
	issuedAt time.Time
	nonce    [stateNonceLen]byte
}

// nonceKey is the key the state's nonce has in the NonceStore.
func (s state) nonceKey() string {
	return nonceKeyPrefix + base64.RawURLEncoding.EncodeToString(s.nonce[:])
}

// newState returns a fresh state issued at now, with a random nonce.
func newState(now time.Time) (state, error) {
	s := state{issuedAt: time.Unix(now.Unix(), 0)}
	if _, err := rand.Read(s.nonce[:]); err != nil {
		return state{}, err
	}
	return s, nil
}

// encode signs s with key.
func (s state) encode(key []byte) string {
	raw := make([]byte, statePayload, stateRawLen)
	raw[0] = stateVersion
	binary.BigEndian.PutUint64(raw[1:9], uint64(s.issuedAt.Unix()))
	copy(raw[9:], s.nonce[:])
	raw = append(raw, stateMAC(key, raw)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func stateMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(stateDomain))
	m.Write(payload)
	return m.Sum(nil)
}

// decodeState verifies s against key and checks that it was issued within
// ttl before now. It never panics and reads nothing beyond a fixed length.
func decodeState(s string, key []byte, now time.Time, ttl time.Duration) (state, error) {
	if len(s) != stateLen {
		return state{}, errStateMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != stateRawLen || raw[0] != stateVersion {
		return state{}, errStateMalformed
	}
	if !hmac.Equal(raw[statePayload:], stateMAC(key, raw[:statePayload])) {
		return state{}, errStateMalformed
	}
	issued := int64(binary.BigEndian.Uint64(raw[1:9]))
	var st state
	st.issuedAt = time.Unix(issued, 0)
	copy(st.nonce[:], raw[9:statePayload])
	switch {
	case st.issuedAt.After(now.Add(stateClockSkew)):
		return state{}, errStateFuture
	case !now.Before(st.issuedAt.Add(ttl)):
		return state{}, errStateExpired
	}
	return st, nil
}
