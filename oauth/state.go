package oauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The state is base64url (no padding) of
//
//	version (1 byte) | issued-at (8 bytes, big-endian Unix seconds) |
//	expires-at (8 bytes, idem) | nonce (16 random bytes) |
//	options length (2 bytes) | options (JSON of InstallOptions) |
//	HMAC-SHA256(key, stateDomain | everything before it)
//
// It is self-contained: issuing one writes nothing. Single use is enforced
// at the callback, by putting the nonce's hash in the nonce store until the
// state's own expiry.
const (
	stateVersion  = 2
	stateNonceLen = 16
	// stateHeadLen is the fixed part before the options.
	stateHeadLen = 1 + 8 + 8 + stateNonceLen + 2
	// maxStateOptions bounds the options' JSON.
	maxStateOptions = 1536
	// maxStateLen bounds an encoded state (it is a URL parameter and a
	// cookie value); nothing longer is decoded.
	maxStateLen = ((stateHeadLen+maxStateOptions+sha256.Size)*8 + 5) / 6
	// stateDomain separates this MAC from any other use of the key.
	stateDomain = "installvault/oauth/state/v2\x00"
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
	issuedAt, expiresAt time.Time
	nonce               [stateNonceLen]byte
	opts                InstallOptions
}

// stateOptions is the options' wire form: short keys, empty ones left out.
type stateOptions struct {
	Scopes     []string `json:"s,omitempty"`
	UserScopes []string `json:"u,omitempty"`
	// NoScopes and NoUserScopes distinguish an explicit empty list from
	// "Config's" (nil).
	NoScopes     bool   `json:"s0,omitempty"`
	NoUserScopes bool   `json:"u0,omitempty"`
	Team         string `json:"t,omitempty"`
	Metadata     string `json:"m,omitempty"`
}

// nonceKey is the key the state's nonce has in the nonce store: a hash, so
// that the store never holds a value that could rebuild the state.
func (s state) nonceKey() string {
	sum := sha256.Sum256(append([]byte(stateDomain), s.nonce[:]...))
	return nonceKeyPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// newState returns a fresh state issued at now, valid for ttl, with a
// random nonce.
func newState(now time.Time, ttl time.Duration, opts InstallOptions) (state, error) {
	s := state{issuedAt: time.Unix(now.Unix(), 0)}
	s.expiresAt = s.issuedAt.Add(ttl)
	s.opts = opts
	if _, err := rand.Read(s.nonce[:]); err != nil {
		return state{}, err
	}
	return s, nil
}

// encode signs s with key. It fails only when the options are too large.
func (s state) encode(key []byte) (string, error) {
	o := stateOptions{Scopes: s.opts.Scopes, UserScopes: s.opts.UserScopes, Team: s.opts.Team, Metadata: s.opts.Metadata,
		NoScopes: s.opts.Scopes != nil && len(s.opts.Scopes) == 0, NoUserScopes: s.opts.UserScopes != nil && len(s.opts.UserScopes) == 0}
	var opts []byte
	if len(o.Scopes) > 0 || len(o.UserScopes) > 0 || o.NoScopes || o.NoUserScopes || o.Team != "" || o.Metadata != "" {
		var err error
		if opts, err = json.Marshal(o); err != nil {
			return "", err
		}
	}
	if len(opts) > maxStateOptions {
		return "", fmt.Errorf("install options take %d bytes; at most %d fit in the state", len(opts), maxStateOptions)
	}
	raw := make([]byte, stateHeadLen, stateHeadLen+len(opts)+sha256.Size)
	raw[0] = stateVersion
	binary.BigEndian.PutUint64(raw[1:9], uint64(s.issuedAt.Unix()))
	binary.BigEndian.PutUint64(raw[9:17], uint64(s.expiresAt.Unix()))
	copy(raw[17:], s.nonce[:])
	binary.BigEndian.PutUint16(raw[17+stateNonceLen:], uint16(len(opts)))
	raw = append(raw, opts...)
	raw = append(raw, stateMAC(key, raw)...)
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

func stateMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(stateDomain))
	m.Write(payload)
	return m.Sum(nil)
}

// decodeState verifies s against key and checks that now is within the
// state's own validity (and that it claims no more than MaxStateTTL). It
// never panics and decodes nothing longer than maxStateLen.
func decodeState(s string, key []byte, now time.Time) (state, error) {
	if len(s) > maxStateLen || len(s) < (stateHeadLen+sha256.Size)*4/3 {
		return state{}, errStateMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) < stateHeadLen+sha256.Size || raw[0] != stateVersion {
		return state{}, errStateMalformed
	}
	body, mac := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(mac, stateMAC(key, body)) {
		return state{}, errStateMalformed
	}
	n := int(binary.BigEndian.Uint16(body[17+stateNonceLen:]))
	if len(body) != stateHeadLen+n {
		return state{}, errStateMalformed
	}
	var st state
	st.issuedAt = time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0)
	st.expiresAt = time.Unix(int64(binary.BigEndian.Uint64(body[9:17])), 0)
	copy(st.nonce[:], body[17:17+stateNonceLen])
	if n > 0 {
		var o stateOptions
		if err := json.Unmarshal(body[stateHeadLen:], &o); err != nil {
			return state{}, errStateMalformed
		}
		st.opts = InstallOptions{Scopes: o.Scopes, UserScopes: o.UserScopes, Team: o.Team, Metadata: o.Metadata}
		if o.NoScopes {
			st.opts.Scopes = []string{}
		}
		if o.NoUserScopes {
			st.opts.UserScopes = []string{}
		}
	}
	switch {
	case !st.expiresAt.After(st.issuedAt) || st.expiresAt.Sub(st.issuedAt) > MaxStateTTL:
		return state{}, errStateMalformed
	case st.issuedAt.After(now.Add(stateClockSkew)):
		return state{}, errStateFuture
	case !now.Before(st.expiresAt):
		return state{}, errStateExpired
	}
	return st, nil
}

// completedPrefix marks the cookie value that replaces the state after a
// successful callback, so that a reload of the callback (the back button,
// a refresh) shows "already installed" rather than an error.
const completedPrefix = "done."

// completedCookie is the cookie value saying "this browser completed the
// install of state s": a MAC of the nonce under a separate domain.
func completedCookie(key []byte, s state) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("installvault/oauth/completed/v1\x00"))
	m.Write(s.nonce[:])
	return completedPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
