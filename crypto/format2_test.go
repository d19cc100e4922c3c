package crypto

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// testDataKeyV2 returns a format 2 data key (as the store makes them).
func testDataKeyV2(t testing.TB) *dataKey {
	t.Helper()
	kr, err := NewLocalKeyring(map[string][]byte{"arn:aws:kms:us-east-1:1:key/a.b": bytes.Repeat([]byte{7}, 32)}, "arn:aws:kms:us-east-1:1:key/a.b")
	require.NoError(t, err)
	k, err := kr.GenerateDataKey(context.Background(), installstore.Tenant{TeamID: "T1"})
	require.NoError(t, err)
	dk, err := fromProvider("local", k)
	require.NoError(t, err)
	return dk
}

// sealTestGroup seals a user group of tokens tok, refresh (either may be
// empty) for user U1 of T1 and returns the two fields.
func sealTestGroup(t testing.TB, dk *dataKey, clientID, tok, refresh string) (string, string) {
	t.Helper()
	var bufs bufPool
	a, b := installstore.NewSecret(tok), installstore.NewSecret(refresh)
	g := secretGroup{kind: groupUser, n: 2, names: [2]string{installstore.FieldUserToken, installstore.FieldUserRefreshToken}, secs: [2]*installstore.Secret{&a, &b}}
	require.NoError(t, sealGroup(&bufs, dk, clientID, installstore.Tenant{TeamID: "T1"}, "U1", "U1", &g))
	return a.Reveal(), b.Reveal()
}

func TestFormat2Layout(t *testing.T) {
	dk := testDataKeyV2(t)
	v, m := sealTestGroup(t, dk, "", "xoxp-test-1", "xoxe-test-1")
	require.True(t, strings.HasPrefix(v, "ivsealed:2.local."))
	require.Equal(t, 4, strings.Count(v, "."), "the key ID's ':', '/' and '.' are encoded away")
	require.Equal(t, dk.marker, m)
	require.Equal(t, "ivsealed:2.local."+b64.EncodeToString([]byte("arn:aws:kms:us-east-1:1:key/a.b")), m)
	p, err := parseSealed(v)
	require.NoError(t, err)
	require.Equal(t, formatV2, p.version)
	require.False(t, p.marker)
	require.Equal(t, dk.header, p.header)
	pm, err := parseSealed(m)
	require.NoError(t, err)
	require.True(t, pm.marker)
	require.Equal(t, p.keyID, pm.keyID)

	open := func(body, clientID string, tenant installstore.Tenant, user string, k groupKind) ([]byte, error) {
		return openBody(dk, body, clientID, tenant, user, k, nil, nil)
	}
	pt, err := open(p.body, "", installstore.Tenant{TeamID: "T1"}, "U1", groupUser)
	require.NoError(t, err)
	gf, err := decodeGroup(pt, 2)
	require.NoError(t, err)
	require.Equal(t, byte(3), gf.presence)
	require.Equal(t, "U1", string(pt[gf.ownerS:gf.ownerE]))
	require.Equal(t, "xoxp-test-1", string(pt[gf.start[0]:gf.end[0]]))
	require.Equal(t, "xoxe-test-1", string(pt[gf.start[1]:gf.end[1]]))
	// Bound to the app, tenant, user and group.
	for name, c := range map[string]struct {
		clientID string
		t        installstore.Tenant
		user     string
		k        groupKind
	}{
		"another app":    {"123.456", installstore.Tenant{TeamID: "T1"}, "U1", groupUser},
		"another tenant": {"", installstore.Tenant{TeamID: "T2"}, "U1", groupUser},
		"as enterprise":  {"", installstore.Tenant{EnterpriseID: "T1"}, "U1", groupUser},
		"another user":   {"", installstore.Tenant{TeamID: "T1"}, "U2", groupUser},
		"another group":  {"", installstore.Tenant{TeamID: "T1"}, "U1", groupBot},
	} {
		_, err := open(p.body, c.clientID, c.t, c.user, c.k)
		require.Error(t, err, name)
	}
	for name, bad := range map[string]string{
		"one field more":  v + ".AAAA",
		"one field less":  v[:strings.LastIndexByte(v, '.')],
		"padding":         v + "=",
		"newline in body": v[:len(v)-4] + "\n" + v[len(v)-4:],
		"bad provider":    strings.Replace(v, ".local.", ".Local.", 1),
		"empty key id":    strings.Replace(v, "."+p.keyID+".", "..", 1),
		"short body":      v[:strings.LastIndexByte(v, '.')+10],
	} {
		bp, err := parseSealed(bad)
		if err == nil {
			_, err = open(bp.body, "", installstore.Tenant{TeamID: "T1"}, "U1", groupUser)
		}
		require.Error(t, err, name)
	}
}

func TestDecodeGroupRefusesWhatNoEncoderMakes(t *testing.T) {
	for name, pt := range map[string][]byte{
		"empty":            {},
		"no field":         {0, 0},
		"unknown bit":      {4, 0, 1, 'a'},
		"bit of 2nd of 1":  {2, 0, 1, 'a'},
		"truncated owner":  {1, 5, 'a'},
		"truncated value":  {1, 0, 5, 'a'},
		"empty value":      {1, 0, 0},
		"trailing bytes":   {1, 0, 1, 'a', 'b'},
		"overlong varint":  {1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		"missing 2nd":      {3, 0, 1, 'a'},
		"varint too large": {1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		n := 2
		if name == "bit of 2nd of 1" {
			n = 1
		}
		_, err := decodeGroup(pt, n)
		require.ErrorIs(t, err, errMalformed, name)
	}
	gf, err := decodeGroup([]byte{2, 1, 'U', 2, 'x', 'y'}, 2)
	require.NoError(t, err)
	require.Equal(t, [2]int{0, 4}, gf.start)
	require.Equal(t, [2]int{0, 6}, gf.end)
}

// FuzzDecodeGroup: the group decoder never panics, and what it accepts
// lies inside the plaintext and re-encodes to it.
func FuzzDecodeGroup(f *testing.F) {
	for _, s := range [][]byte{{3, 2, 'U', '1', 1, 'a', 1, 'b'}, {1, 0, 1, 'a'}, {2, 0, 2, 'x', 'y'}, {}, {0}, {7, 0}} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, pt []byte, n int) {
		if n < 1 || n > 2 {
			return
		}
		gf, err := decodeGroup(pt, n)
		if err != nil {
			require.ErrorIs(t, err, errMalformed)
			return
		}
		out := []byte{gf.presence}
		out = appendLenPrefixed(out, pt[gf.ownerS:gf.ownerE])
		for i := range n {
			if gf.presence&(1<<i) != 0 {
				require.Less(t, gf.start[i], gf.end[i])
				out = appendLenPrefixed(out, pt[gf.start[i]:gf.end[i]])
			}
		}
		require.Equal(t, pt, out, "one encoding per plaintext")
	})
}

func appendLenPrefixed(dst, b []byte) []byte {
	var tmp [10]byte
	n := 0
	for v := uint64(len(b)); ; {
		tmp[n] = byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			n++
			break
		}
		tmp[n] |= 0x80
		n++
	}
	return append(append(dst, tmp[:n]...), b...)
}

// FuzzParseSealedV2: the format 2 parser never panics; what it accepts has
// the documented shape; only the genuine value opens.
func FuzzParseSealedV2(f *testing.F) {
	dk := testDataKeyV2(f)
	v, m := sealTestGroup(f, dk, "", "xoxp-test-1", "xoxe-test-1")
	for _, s := range []string{v, m, "ivsealed:2.", "ivsealed:2....", "ivsealed:2.local.a.b.c", v + "A", v[:len(v)-1], m + ".", strings.Replace(v, ".", "..", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !strings.HasPrefix(s, v2Prefix) {
			return
		}
		p, err := parseSealed(s)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		if !validProviderName(p.provider) || p.version != formatV2 {
			t.Fatalf("bad provider or version accepted")
		}
		if p.marker {
			if s != installstore.SealedPrefix+"2."+p.provider+"."+p.keyID {
				t.Fatalf("marker parts do not make up the value")
			}
			return
		}
		if s != installstore.SealedPrefix+p.header+"."+p.body || strings.Contains(p.body, ".") {
			t.Fatalf("parts do not make up the value")
		}
		pt, err := openBody(dk, p.body, "", installstore.Tenant{TeamID: "T1"}, "U1", groupUser, nil, nil)
		if err == nil && s != v {
			t.Fatalf("a value other than the sealed one opened")
		}
		if err == nil {
			_, err = decodeGroup(pt, 2)
			require.NoError(t, err)
		}
	})
}
