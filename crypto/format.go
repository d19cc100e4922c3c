package crypto

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/installvault/installvault/installstore"
)

const (
	formatV1        = "1"
	dataKeySize     = 32
	nonceSize       = 12
	tagSize         = 16
	maxProviderLen  = 32
	maxKeyIDLen     = 2048
	maxWrappedLen   = 8192
	maxPlaintextLen = 64 << 10
)

// b64 is the strict base64url encoding of every binary field: no padding,
// and trailing bits must be zero, so each value has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

var (
	errNotSealed = errors.New("value is not sealed")
	errMalformed = errors.New("malformed sealed value")
)

// sealedParts are the fields of a sealed value, as substrings of it (still
// base64url-encoded).
type sealedParts struct {
	version  string // formatV1 or formatV2
	marker   bool   // a format 2 marker: provider and key ID only
	header   string // "V.provider.keyid.wrapped": the data key, bound as associated data
	provider string
	keyID    string
	wrapped  string
	nonce    string // format 1
	ct       string // format 1
	body     string // format 2: nonce, ciphertext and tag
}

// parseSealed splits a sealed value of either format (or a format 2
// marker) into its parts and checks their sizes. It does not decode them:
// every field is decoded strictly before use, which rejects any character
// outside base64url (so a '.' inside a format 1 ciphertext, which this split
// leaves there, fails then).
func parseSealed(v string) (sealedParts, error) {
	if strings.HasPrefix(v, v2Prefix) {
		return parseSealedV2(v)
	}
	return parseSealedV1(v)
}

// parseSealedV2 parses "ivsealed:2.provider.keyid.wrapped.body" and the
// marker "ivsealed:2.provider.keyid".
func parseSealedV2(v string) (sealedParts, error) {
	rest := v[len(installstore.SealedPrefix):]
	if strings.IndexByte(rest, '\n') >= 0 || strings.IndexByte(rest, '\r') >= 0 {
		return sealedParts{}, fmt.Errorf("%w: line break in sealed value", errMalformed)
	}
	var (
		f [5]string
		n int
	)
	for r := rest; ; n++ {
		j := strings.IndexByte(r, '.')
		if j < 0 || n == len(f)-1 {
			if j >= 0 {
				return sealedParts{}, fmt.Errorf("%w: wrong number of fields", errMalformed)
			}
			f[n] = r
			n++
			break
		}
		f[n], r = r[:j], r[j+1:]
	}
	var p sealedParts
	switch n {
	case 3:
		p = sealedParts{version: f[0], marker: true, provider: f[1], keyID: f[2]}
	case 5:
		p = sealedParts{version: f[0], provider: f[1], keyID: f[2], wrapped: f[3], body: f[4],
			header: rest[:len(rest)-len(f[4])-1]}
		if len(p.wrapped) < b64.EncodedLen(1) || len(p.wrapped) > b64.EncodedLen(maxWrappedLen) {
			return sealedParts{}, fmt.Errorf("%w: bad wrapped key field", errMalformed)
		}
		if !bodyOK(p.body) {
			return sealedParts{}, fmt.Errorf("%w: bad body field", errMalformed)
		}
	default:
		return sealedParts{}, fmt.Errorf("%w: wrong number of fields", errMalformed)
	}
	if !validProviderName(p.provider) {
		return sealedParts{}, fmt.Errorf("%w: bad provider name", errMalformed)
	}
	if len(p.keyID) < b64.EncodedLen(1) || len(p.keyID) > b64.EncodedLen(maxKeyIDLen) {
		return sealedParts{}, fmt.Errorf("%w: bad key ID field", errMalformed)
	}
	return p, nil
}

// parseSealedV1 parses "ivsealed:1.provider.keyid.wrapped.nonce.ciphertext".
func parseSealedV1(v string) (sealedParts, error) {
	rest, ok := strings.CutPrefix(v, installstore.SealedPrefix)
	if !ok {
		return sealedParts{}, errNotSealed
	}
	// encoding/base64 skips '\r' and '\n' even in strict mode; refuse them so
	// that every change to a sealed value fails to open.
	if strings.IndexByte(rest, '\n') >= 0 || strings.IndexByte(rest, '\r') >= 0 {
		return sealedParts{}, fmt.Errorf("%w: line break in sealed value", errMalformed)
	}
	var f [5]string // version, provider, key ID, wrapped key, nonce; rest is the ciphertext
	for i := range f {
		j := strings.IndexByte(rest, '.')
		if j < 0 {
			return sealedParts{}, fmt.Errorf("%w: too few fields", errMalformed)
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	version, provider, keyID, wrapped := f[0], f[1], f[2], f[3]
	p := sealedParts{
		version: formatV1,
		header:  v[len(installstore.SealedPrefix) : len(installstore.SealedPrefix)+len(version)+len(provider)+len(keyID)+len(wrapped)+3],
		nonce:   f[4],
		ct:      rest,
	}
	if version != formatV1 {
		return sealedParts{}, fmt.Errorf("%w: unknown format version", errMalformed)
	}
	if !validProviderName(provider) {
		return sealedParts{}, fmt.Errorf("%w: bad provider name", errMalformed)
	}
	p.provider, p.keyID, p.wrapped = provider, keyID, wrapped
	for _, c := range []struct {
		name     string
		s        string
		min, max int // decoded sizes
	}{
		{"key ID", p.keyID, 1, maxKeyIDLen},
		{"wrapped key", p.wrapped, 1, maxWrappedLen},
		{"nonce", p.nonce, nonceSize, nonceSize},
		{"ciphertext", p.ct, tagSize, maxPlaintextLen + tagSize},
	} {
		if len(c.s) < b64.EncodedLen(c.min) || len(c.s) > b64.EncodedLen(c.max) {
			return sealedParts{}, fmt.Errorf("%w: bad %s field", errMalformed, c.name)
		}
	}
	return p, nil
}

// validProviderName reports whether s is 1 to 32 bytes of [a-z0-9-].
func validProviderName(s string) bool {
	if s == "" || len(s) > maxProviderLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// decodeField decodes one base64url field strictly.
func decodeField(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", errMalformed)
	}
	return b, nil
}

// sealHeader returns the header of (format 2) values sealed under a data key.
func sealHeader(provider, keyID string, wrapped []byte) string {
	return formatV2 + "." + provider + "." + b64.EncodeToString([]byte(keyID)) + "." + b64.EncodeToString(wrapped)
}

// appendAAD appends the associated data binding a value to its data key
// (the SHA-256 of its header), tenant, user and field.
func appendAAD(dst []byte, headerSum *[32]byte, t installstore.Tenant, user, field string) []byte {
	dst = append(dst, headerSum[:]...)
	for _, s := range [...]string{t.EnterpriseID, t.TeamID, user, field} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// aadLen bounds the length of appendAAD's output.
func aadLen(t installstore.Tenant, user, field string) int {
	return 32 + len(t.EnterpriseID) + len(t.TeamID) + len(user) + len(field) + 4*binary.MaxVarintLen64
}

// boundUser returns the user ID a field is bound to: the installing user
// for the user's own tokens, none for the tenant-wide bot and webhook (and
// for any field added later, which then stays bound to the tenant).
func boundUser(field string, inst *installstore.Installation) string {
	switch field {
	case installstore.FieldUserToken, installstore.FieldUserRefreshToken:
		return inst.User.ID
	}
	return ""
}

// openValue opens the sealed value p under dk, which must be the data key
// its header names (p.header == dk.header: the caller found dk by it), and
// appends the plaintext to dst. The error says why, never what.
func openValue(bufs *bufPool, dk *dataKey, p sealedParts, t installstore.Tenant, user, field string, dst []byte) ([]byte, error) {
	buf := bufs.get(openScratch(len(p.ct), t, user, field))
	defer bufs.put(buf)
	return openInto(dk, p, t, user, field, *buf, dst)
}

// openScratch returns the scratch length openInto needs for a ciphertext
// field of ctLen characters.
func openScratch(ctLen int, t installstore.Tenant, user, field string) int {
	return aadLen(t, user, field) + nonceSize + b64.DecodedLen(ctLen)
}

// openInto is openValue with the caller's scratch space (at least
// openScratch bytes; it holds plaintext-derived data, so the caller wipes
// it).
func openInto(dk *dataKey, p sealedParts, t installstore.Tenant, user, field string, scratch, dst []byte) ([]byte, error) {
	if p.header != dk.header {
		return dst, errors.New("data key does not match the value's header")
	}
	if need := openScratch(len(p.ct), t, user, field); len(scratch) < need {
		scratch = make([]byte, need)
	}
	// Layout: associated data | nonce | ciphertext.
	aad := appendAAD(scratch[:0], &dk.headerSum, t, user, field)
	rest := scratch[len(aad):]
	nonce := rest[:nonceSize]
	ct := rest[nonceSize : nonceSize+b64.DecodedLen(len(p.ct))]
	if m, err := b64.Decode(nonce, stringBytes(p.nonce)); err != nil || m != nonceSize {
		return dst, fmt.Errorf("%w: bad nonce", errMalformed)
	}
	// encoding/base64 skips '\r' and '\n' even in strict mode. An encoder
	// never makes a length of 4k+1, and outside it every skipped character
	// shortens the output: so the exact length refuses them.
	m, err := b64.Decode(ct, stringBytes(p.ct))
	if err != nil || m != len(ct) || len(p.ct)%4 == 1 {
		return dst, fmt.Errorf("%w: bad ciphertext encoding", errMalformed)
	}
	out, err := dk.aead.Open(dst, nonce, ct[:m], aad)
	if err != nil {
		return dst, errors.New("authentication failed (wrong key, tenant, user or field, or tampered)")
	}
	return out, nil
}

// stringBytes returns the bytes of s without copying them, for reading
// only (base64 decoding).
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// parseWithHeader parses v when it is a value sealed under header (already
// validated: it came from a parsed value): the common case of a record whose
// values share a data key, without scanning the header again. ok is false
// when v is not such a value (parseSealed then says why).
func parseWithHeader(v, header string) (p sealedParts, ok bool) {
	const nonceEnc = 16                               // b64.EncodedLen(nonceSize)
	n := len(installstore.SealedPrefix) + len(header) // where the '.' before the nonce is
	if len(v) < n+1+nonceEnc+1 || v[n] != '.' || v[n+1+nonceEnc] != '.' ||
		v[len(installstore.SealedPrefix):n] != header || v[:len(installstore.SealedPrefix)] != installstore.SealedPrefix {
		return p, false
	}
	p.nonce, p.ct = v[n+1:n+1+nonceEnc], v[n+2+nonceEnc:]
	// No line-break or '.' check: openInto's strict decoding with exact
	// decoded lengths refuses them.
	if len(p.ct) < b64.EncodedLen(tagSize) || len(p.ct) > b64.EncodedLen(maxPlaintextLen+tagSize) {
		return p, false
	}
	p.header, p.version = header, formatV1
	return p, true
}
