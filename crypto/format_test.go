package crypto

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// testDataKey returns a data key with a format 1 header.
func testDataKey(t testing.TB) *dataKey {
	t.Helper()
	kr, err := NewLocalKeyring(map[string][]byte{"arn:aws:kms:us-east-1:1:key/a.b": bytes.Repeat([]byte{7}, 32)}, "arn:aws:kms:us-east-1:1:key/a.b")
	require.NoError(t, err)
	k, err := kr.GenerateDataKey(context.Background(), installstore.Tenant{TeamID: "T1"})
	require.NoError(t, err)
	// A format 1 header, as format 1 wrote them.
	header := formatV1 + ".local." + b64.EncodeToString([]byte(k.KeyID)) + "." + b64.EncodeToString(k.Wrapped)
	dk, err := newDataKey(header, b64.EncodeToString([]byte(k.KeyID)), k.Plaintext.Bytes())
	require.NoError(t, err)
	require.Equal(t, make([]byte, 32), k.Plaintext.Bytes(), "the provider's plaintext is wiped")
	return dk
}

func TestSealedFormat(t *testing.T) {
	var bufs bufPool
	dk := testDataKey(t)
	tenant := installstore.Tenant{TeamID: "T1"}
	v, err := sealValue(&bufs, dk, tenant, "", "bot.token", "xoxb-test-1")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(v, "ivsealed:1.local."))
	require.Equal(t, 5, strings.Count(v, "."), "the key ID's ':', '/' and '.' are encoded away")
	p, err := parseSealed(v)
	require.NoError(t, err)
	require.Equal(t, "local", p.provider)
	keyID, err := decodeField(p.keyID)
	require.NoError(t, err)
	require.Equal(t, "arn:aws:kms:us-east-1:1:key/a.b", string(keyID))
	require.Equal(t, dk.header, p.header)
	got, err := openValue(&bufs, dk, p, tenant, "", "bot.token", nil)
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-1", string(got))

	for name, bad := range map[string]string{
		"no prefix":       strings.TrimPrefix(v, installstore.SealedPrefix),
		"version 2":       strings.Replace(v, ":1.", ":2.", 1),
		"too few fields":  v[:strings.LastIndexByte(v, '.')],
		"too many fields": v + ".AAAA",
		"bad provider":    strings.Replace(v, ".local.", ".Local.", 1),
		"padding":         v + "=",
		"dot in wrapped":  strings.Replace(v, "."+p.wrapped+".", "."+p.wrapped[:4]+"."+p.wrapped[5:]+".", 1),
		"dot in ct":       v[:len(v)-3] + "." + v[len(v)-2:],
		"short nonce":     strings.Replace(v, "."+p.nonce+".", "."+p.nonce[1:]+".", 1),
		"empty key id":    strings.Replace(v, "."+p.keyID+".", "..", 1),
		"newline in ct":   v[:len(v)-4] + "\n" + v[len(v)-4:],
		"cr in nonce":     strings.Replace(v, "."+p.nonce+".", "."+p.nonce[:4]+"\r"+p.nonce[4:]+".", 1),
	} {
		// Refused by the parser, or by the strict decoding before use.
		bp, err := parseSealed(bad)
		if err == nil {
			_, err = openValue(&bufs, dk, bp, tenant, "", "bot.token", nil)
		}
		require.Error(t, err, name)
	}
	// Values are bound to tenant, user and field.
	for _, c := range []struct {
		t           installstore.Tenant
		user, field string
	}{
		{installstore.Tenant{TeamID: "T2"}, "", "bot.token"},
		{installstore.Tenant{EnterpriseID: "T1"}, "", "bot.token"},
		{tenant, "U1", "bot.token"},
		{tenant, "", "bot.refresh_token"},
	} {
		_, err := openValue(&bufs, dk, p, c.t, c.user, c.field, nil)
		require.Error(t, err, "%+v", c)
	}
}

// FuzzParseSealed: the decoder never panics, and whatever it accepts has
// the documented shape.
func FuzzParseSealed(f *testing.F) {
	var bufs bufPool
	dk := testDataKey(f)
	v, err := sealValue(&bufs, dk, installstore.Tenant{TeamID: "T1"}, "", "bot.token", "xoxb-test-1")
	require.NoError(f, err)
	for _, s := range []string{v, "", installstore.SealedPrefix, "ivsealed:1.....", "ivsealed:1.local.a.b.c.d", v + "A", v[:len(v)-1]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSealed(s)
		if err != nil {
			if !errors.Is(err, errNotSealed) && !errors.Is(err, errMalformed) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		if p.version != formatV1 {
			return // FuzzParseSealedV2's
		}
		if !strings.HasPrefix(s, installstore.SealedPrefix+p.header+"."+p.nonce+"."+p.ct) || len(s) != len(installstore.SealedPrefix+p.header)+len(p.nonce)+len(p.ct)+2 {
			t.Fatalf("parts do not make up the value")
		}
		if !validProviderName(p.provider) {
			t.Fatalf("bad provider accepted")
		}
		// Decoding may fail (stray bits) but never panics; opening fails unless it is v.
		_, _ = decodeField(p.keyID)
		_, _ = decodeField(p.wrapped)
		got, err := openValue(&bufs, dk, p, installstore.Tenant{TeamID: "T1"}, "", "bot.token", nil)
		if err == nil && (s != v || string(got) != "xoxb-test-1") {
			t.Fatalf("a value other than the sealed one opened")
		}
	})
}

// sealValue seals plaintext in format 1 (the sealing code of format 1,
// kept to test its decoder, which still opens stored values) under dk, bound to tenant, user and field.
func sealValue(bufs *bufPool, dk *dataKey, t installstore.Tenant, user, field, plaintext string) (string, error) {
	if len(plaintext) > maxPlaintextLen {
		return "", fmt.Errorf("crypto: seal %s of tenant %s: %w: value longer than %d bytes", field, t, installstore.ErrInvalid, maxPlaintextLen)
	}
	ctLen := len(plaintext) + tagSize
	buf := bufs.get(aadLen(t, user, field) + nonceSize + ctLen + b64.EncodedLen(ctLen))
	defer bufs.put(buf)
	// Layout: associated data | nonce | plaintext, sealed in place | ciphertext in base64.
	aad := appendAAD((*buf)[:0], &dk.headerSum, t, user, field)
	rest := (*buf)[len(aad):]
	nonce := rest[:nonceSize]
	_, _ = rand.Read(nonce)
	pt := rest[nonceSize : nonceSize+len(plaintext)]
	copy(pt, plaintext)
	ct := dk.aead.Seal(pt[:0], nonce, pt, aad)
	ctEnc := rest[nonceSize+ctLen : nonceSize+ctLen+b64.EncodedLen(ctLen)]
	b64.Encode(ctEnc, ct)

	var sb strings.Builder
	sb.Grow(len(installstore.SealedPrefix) + len(dk.header) + 2 + b64.EncodedLen(nonceSize) + len(ctEnc))
	sb.WriteString(installstore.SealedPrefix)
	sb.WriteString(dk.header)
	sb.WriteByte('.')
	var nonceEnc [16]byte // b64.EncodedLen(nonceSize)
	b64.Encode(nonceEnc[:], nonce)
	sb.Write(nonceEnc[:])
	sb.WriteByte('.')
	sb.Write(ctEnc)
	return sb.String(), nil
}
