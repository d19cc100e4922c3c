package crypto

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/installvault/installvault/installstore"
)

// Format 2 seals each group of secrets a backend stores and deletes
// together with one AEAD: the bot's token and refresh token (the tenant's
// bot, stored apart from the installation records), the installing user's
// token and refresh token, and the incoming webhook. The group's first
// present field holds the sealed value; the group's other present fields
// hold a marker (the provider and master key, no ciphertext), so that every
// backend keeps seeing which secrets exist (the due index, "does this
// record hold a user token") and that every non-empty secret it stores is
// sealed ([installstore.SealedPrefix]).

const (
	formatV2 = "2"
	// maxGroupPlaintext bounds a group's encoded plaintext: two values of
	// up to maxPlaintextLen, the owner and the framing.
	maxGroupPlaintext = 2*maxPlaintextLen + 2*binary.MaxVarintLen64 + 1 + binary.MaxVarintLen64 + 64
	// minGroupPlaintext is the shortest encoded plaintext: presence, an
	// empty owner, one one-byte value.
	minGroupPlaintext = 4
)

// v2Prefix and v1Prefix begin the sealed values of each format.
const (
	v1Prefix = installstore.SealedPrefix + formatV1 + "."
	v2Prefix = installstore.SealedPrefix + formatV2 + "."
)

// groupKind names a group in the associated data.
type groupKind uint8

const (
	groupBot groupKind = iota
	groupUser
	groupWebhook
)

var groupNames = [...]string{groupBot: "bot", groupUser: "user", groupWebhook: "incoming_webhook"}

// secretGroup is one group of an installation: pointers to its secret
// fields (in the installation being sealed or opened) and their names.
type secretGroup struct {
	kind  groupKind
	n     int
	names [2]string
	secs  [2]*installstore.Secret
}

// groupsOf fills gs with inst's groups and returns them: the bot's (when
// Bot is set), the user's, the webhook's (when set). Every field of
// [installstore.Installation.Secrets] is in exactly one group; sealWith
// refuses a field that is not (one added to installstore later).
func groupsOf(inst *installstore.Installation, gs *[3]secretGroup) []secretGroup {
	out := gs[:0]
	if inst.Bot != nil {
		out = append(out, secretGroup{kind: groupBot, n: 2,
			names: [2]string{installstore.FieldBotToken, installstore.FieldBotRefreshToken},
			secs:  [2]*installstore.Secret{&inst.Bot.Token, &inst.Bot.RefreshToken}})
	}
	out = append(out, secretGroup{kind: groupUser, n: 2,
		names: [2]string{installstore.FieldUserToken, installstore.FieldUserRefreshToken},
		secs:  [2]*installstore.Secret{&inst.User.Token, &inst.User.RefreshToken}})
	if inst.IncomingWebhook != nil {
		out = append(out, secretGroup{kind: groupWebhook, n: 1,
			names: [2]string{installstore.FieldIncomingWebhookURL},
			secs:  [2]*installstore.Secret{&inst.IncomingWebhook.URL}})
	}
	return out
}

// first returns the index of the group's first non-empty field, or -1.
func (g *secretGroup) first() int {
	for i := range g.n {
		if !g.secs[i].IsZero() {
			return i
		}
	}
	return -1
}

// aadUser returns the user a group is bound to in the associated data: the
// installing user for the user's tokens, none for the tenant's bot and for
// the webhook (whose owner is in its plaintext: see groupOwner).
func aadUser(k groupKind, inst *installstore.Installation) string {
	if k == groupUser {
		return inst.User.ID
	}
	return ""
}

// groupOwner returns the owner a group's plaintext records: the installing
// user for the user's tokens and the webhook, none for the bot.
func groupOwner(k groupKind, inst *installstore.Installation) string {
	if k == groupBot {
		return ""
	}
	return inst.User.ID
}

// ownerOK reports whether a group whose plaintext names owner may open in
// inst: the bot has no owner; the user's tokens are their user's; the
// webhook opens in its own user's record, or in a record whose installing
// user was removed (User.ID empty: the tenant's latest record after its
// installer's user delete keeps the webhook).
func ownerOK(k groupKind, owner []byte, inst *installstore.Installation) bool {
	switch k {
	case groupBot:
		return len(owner) == 0
	case groupWebhook:
		return string(owner) == inst.User.ID || inst.User.ID == ""
	}
	return string(owner) == inst.User.ID
}

// appendAADv2 appends the associated data of a format 2 value: the SHA-256
// of its header, then, each prefixed by its uvarint length, the Slack app's
// client ID, the record's enterprise ID and team ID, the bound user and the
// group's name.
func appendAADv2(dst []byte, headerSum *[32]byte, clientID string, t installstore.Tenant, user string, k groupKind) []byte {
	dst = append(dst, headerSum[:]...)
	for _, s := range [...]string{clientID, t.EnterpriseID, t.TeamID, user, groupNames[k]} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// aadLenV2 bounds appendAADv2's output.
func aadLenV2(clientID string, t installstore.Tenant, user string) int {
	return 32 + len(clientID) + len(t.EnterpriseID) + len(t.TeamID) + len(user) + len("incoming_webhook") + 5*binary.MaxVarintLen64
}

// markerOf returns the marker of a format 2 header ("2.provider.keyid.wrapped"):
// the sealed prefix, version, provider and key ID.
func markerOf(header string) string {
	n := 0
	for i := range len(header) {
		if header[i] == '.' {
			if n++; n == 3 {
				return installstore.SealedPrefix + header[:i]
			}
		}
	}
	return ""
}

// sealGroup seals the present fields of g under dk: the first present field
// gets the sealed value, the others dk's marker. owner and user are the
// group's owner and associated-data user.
func sealGroup(bufs *bufPool, dk *dataKey, clientID string, t installstore.Tenant, user, owner string, g *secretGroup) error {
	first := g.first()
	if first < 0 {
		return nil
	}
	var presence byte
	ptLen := 1 + uvarintLen(len(owner)) + len(owner)
	for i := range g.n {
		v := g.secs[i].Reveal()
		if v == "" {
			continue
		}
		if len(v) > maxPlaintextLen {
			return fmt.Errorf("crypto: seal %s of tenant %s: %w: value longer than %d bytes", g.names[i], t, installstore.ErrInvalid, maxPlaintextLen)
		}
		presence |= 1 << i
		ptLen += uvarintLen(len(v)) + len(v)
	}
	bodyLen := nonceSize + ptLen + tagSize
	aadMax := aadLenV2(clientID, t, user)
	buf := bufs.get(aadMax + bodyLen + b64.EncodedLen(bodyLen))
	defer bufs.put(buf)
	// Layout: associated data | nonce | plaintext, sealed in place | body in base64.
	aad := appendAADv2((*buf)[:0:aadMax], &dk.headerSum, clientID, t, user, g.kind)
	body := (*buf)[aadMax : aadMax+bodyLen]
	nonce := body[:nonceSize]
	_, _ = rand.Read(nonce)
	pt := append(body[nonceSize:nonceSize], presence)
	pt = binary.AppendUvarint(pt, uint64(len(owner)))
	pt = append(pt, owner...)
	for i := range g.n {
		if v := g.secs[i].Reveal(); v != "" {
			pt = binary.AppendUvarint(pt, uint64(len(v)))
			pt = append(pt, v...)
		}
	}
	dk.aead.Seal(pt[:0], nonce, pt, aad)
	enc := (*buf)[aadMax+bodyLen:]
	b64.Encode(enc, body)

	var sb strings.Builder
	sb.Grow(len(v2Prefix) - len(formatV2+".") + len(dk.header) + 1 + len(enc))
	sb.WriteString(installstore.SealedPrefix)
	sb.WriteString(dk.header)
	sb.WriteByte('.')
	sb.Write(enc)
	*g.secs[first] = installstore.NewSecret(sb.String())
	for i := first + 1; i < g.n; i++ {
		if presence&(1<<i) != 0 {
			*g.secs[i] = installstore.NewSecret(dk.marker)
		}
	}
	return nil
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// bodyOK reports whether a format 2 body (base64url of nonce, ciphertext and
// tag) has a possible length.
func bodyOK(body string) bool {
	return len(body) >= b64.EncodedLen(nonceSize+minGroupPlaintext+tagSize) &&
		len(body) <= b64.EncodedLen(nonceSize+maxGroupPlaintext+tagSize)
}

// bodyWithHeader returns the body of v when v is a format 2 sealed value
// under header (already validated), without scanning the header again.
func bodyWithHeader(v, header string) (string, bool) {
	n := len(installstore.SealedPrefix) + len(header)
	if len(v) <= n || v[n] != '.' || v[len(installstore.SealedPrefix):n] != header || v[:len(installstore.SealedPrefix)] != installstore.SealedPrefix {
		return "", false
	}
	body := v[n+1:]
	return body, bodyOK(body)
}

// openScratchV2 is the scratch length openBody needs for a body of
// bodyLen characters.
func openScratchV2(bodyLen int, clientID string, t installstore.Tenant, user string) int {
	return aadLenV2(clientID, t, user) + b64.DecodedLen(bodyLen)
}

// openBody opens a format 2 body under dk and appends its plaintext (still
// framed: see decodeGroup) to dst. scratch holds at least openScratchV2
// bytes (the caller wipes it). The error says why, never what.
func openBody(dk *dataKey, body, clientID string, t installstore.Tenant, user string, k groupKind, scratch, dst []byte) ([]byte, error) {
	if need := openScratchV2(len(body), clientID, t, user); len(scratch) < need {
		scratch = make([]byte, need)
	}
	aadMax := aadLenV2(clientID, t, user)
	aad := appendAADv2(scratch[:0:aadMax], &dk.headerSum, clientID, t, user, k)
	raw := scratch[aadMax : aadMax+b64.DecodedLen(len(body))]
	// encoding/base64 skips '\r' and '\n' even in strict mode. An encoder
	// never makes a length of 4k+1, and outside it every skipped character
	// shortens the output: so the exact length refuses them.
	m, err := b64.Decode(raw, stringBytes(body))
	if err != nil || m != len(raw) || len(body)%4 == 1 || m < nonceSize+tagSize {
		return dst, fmt.Errorf("%w: bad body encoding", errMalformed)
	}
	out, err := dk.aead.Open(dst, raw[:nonceSize], raw[nonceSize:m], aad)
	if err != nil {
		return dst, errors.New("authentication failed (wrong key, app, tenant, user or group, or tampered)")
	}
	return out, nil
}

var errBadGroup = fmt.Errorf("%w: bad group plaintext", errMalformed)

// groupFields is a decoded group plaintext: which fields are present, the
// owner, and each present field's value as offsets into the plaintext.
type groupFields struct {
	presence       byte
	ownerS, ownerE int
	start, end     [2]int
}

// decodeGroup decodes a group's plaintext for a group of n fields. It
// refuses anything an encoder does not make: unknown presence bits, no
// field, truncated or trailing bytes, empty values.
func decodeGroup(pt []byte, n int) (groupFields, error) {
	var gf groupFields
	bad := errBadGroup
	if len(pt) < 2 {
		return gf, bad
	}
	gf.presence = pt[0]
	if gf.presence == 0 || gf.presence>>n != 0 {
		return gf, bad
	}
	off := 1
	next := func() (int, int, bool) {
		l, k := binary.Uvarint(pt[off:])
		if k <= 0 || l > uint64(len(pt)-off-k) {
			return 0, 0, false
		}
		s := off + k
		off = s + int(l)
		return s, off, true
	}
	s, e, ok := next()
	if !ok {
		return gf, bad
	}
	gf.ownerS, gf.ownerE = s, e
	for i := range n {
		if gf.presence&(1<<i) == 0 {
			continue
		}
		s, e, ok := next()
		if !ok || s == e {
			return gf, bad
		}
		gf.start[i], gf.end[i] = s, e
	}
	if off != len(pt) {
		return gf, bad
	}
	return gf, nil
}
