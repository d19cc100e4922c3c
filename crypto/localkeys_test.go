package crypto_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// testKey returns 32 distinct bytes starting at b; with b >= 0xF8 its
// base64 has '+' and '/' (or '-' and '_').
func testKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i*7)
	}
	return k
}

func TestParseLocalKeys(t *testing.T) {
	k1, k2 := testKey(0xF9), testKey(0x11)
	std, raw := base64.StdEncoding.EncodeToString(k1), base64.RawStdEncoding.EncodeToString(k1)
	url, rawURL := base64.URLEncoding.EncodeToString(k1), base64.RawURLEncoding.EncodeToString(k1)
	hx := hex.EncodeToString(k1)
	require.True(t, strings.HasSuffix(std, "="), "the padded form has padding")
	require.NotEqual(t, std, url, "the URL-safe alphabet differs")
	k2std := base64.StdEncoding.EncodeToString(k2)

	for _, c := range []struct {
		name, spec string
		want       map[string][]byte
		primary    string
	}{
		{"bare padded (openssl rand -base64 32)", std + "\n", map[string][]byte{crypto.DefaultLocalKeyName: k1}, crypto.DefaultLocalKeyName},
		{"bare raw", raw, map[string][]byte{"default": k1}, "default"},
		{"bare URL-safe", url, map[string][]byte{"default": k1}, "default"},
		{"bare raw URL-safe", rawURL, map[string][]byte{"default": k1}, "default"},
		{"bare hex (openssl rand -hex 32)", hx, map[string][]byte{"default": k1}, "default"},
		{"bare upper-case hex", strings.ToUpper(hx), map[string][]byte{"default": k1}, "default"},
		{"one named", "k-2026=" + std, map[string][]byte{"k-2026": k1}, "k-2026"},
		{"named, split at the first '='", "a=" + std + ",b=" + k2std, map[string][]byte{"a": k1, "b": k2}, ""},
		{"spaces, tabs and newlines", "  a=" + raw + " ,\tb=" + hex.EncodeToString(k2) + "\n", map[string][]byte{"a": k1, "b": k2}, ""},
		{"named URL-safe", "k.1=" + url + " k_2=" + base64.RawURLEncoding.EncodeToString(k2), map[string][]byte{"k.1": k1, "k_2": k2}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			keys, primary, err := crypto.ParseLocalKeys(c.spec)
			require.NoError(t, err)
			require.Equal(t, c.want, keys)
			require.Equal(t, c.primary, primary)
		})
	}

	zero := make([]byte, 32)
	for _, c := range []struct{ name, spec, says string }{
		{"empty", "", "no keys"},
		{"only separators", " , \n", "no keys"},
		{"garbage", "correct-horse-battery-staple", "entry 1: not 32 bytes"},
		{"no key after '='", "k1=", "entry 1: not 32 bytes"},
		{"short key", "k1=" + base64.StdEncoding.EncodeToString(k1[:31]), "entry 1: not 32 bytes"},
		{"long key", "k1=" + base64.StdEncoding.EncodeToString(append(bytes.Clone(k1), 7)), "entry 1: not 32 bytes"},
		{"hex of 31 bytes", hex.EncodeToString(k1[:31]), "entry 1: not 32 bytes"},
		{"stray bits", raw[:len(raw)-1] + "B", "entry 1: not 32 bytes"},
		{"all-zero base64", base64.StdEncoding.EncodeToString(zero), "entry 1: an all-zero key"},
		{"all-zero hex", "k1=" + hex.EncodeToString(zero), "entry 1: an all-zero key"},
		{"two bare keys", std + "," + k2std, "entry 1: no name"},
		{"a bare key among named", "a=" + k2std + "," + std, "entry 2: no name"},
		{"a key where the name goes", std[:20] + "=" + k2std, "entry 1: the name before '='"},
		{"bad name", "k/1=" + k2std, "entry 1: the name before '='"},
		{"name too long", strings.Repeat("n", 65) + "=" + k2std, "entry 1: the name before '='"},
		{"name twice", "a=" + std + ",a=" + k2std, "entry 2: the same name"},
		{"the wrong separator", "a=" + std + ";b=" + k2std, "entry 1: not 32 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			keys, primary, err := crypto.ParseLocalKeys(c.spec)
			require.ErrorIs(t, err, installstore.ErrInvalid)
			require.Nil(t, keys)
			require.Empty(t, primary)
			msg := err.Error()
			require.Contains(t, msg, c.says)
			for i := 0; i+6 <= len(c.spec); i++ {
				if sub := c.spec[i : i+6]; strings.TrimSpace(sub) == sub {
					require.NotContains(t, msg, sub, "the error quotes the spec")
				}
			}
		})
	}
}

func TestParseLocalKeyring(t *testing.T) {
	k1, k2 := testKey(0x21), testKey(0x42)
	spec := "old=" + base64.StdEncoding.EncodeToString(k1) + ",new=" + base64.StdEncoding.EncodeToString(k2)
	_, err := crypto.ParseLocalKeyring(spec, "")
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.Contains(t, err.Error(), "no primary")
	_, err = crypto.ParseLocalKeyring(spec, "missing")
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.NotContains(t, err.Error(), "missing")

	// A bare key seals; the named keyring with it as "default" opens.
	backend := memory.New()
	bare, err := crypto.ParseLocalKeyring(base64.StdEncoding.EncodeToString(k1), "")
	require.NoError(t, err)
	require.NoError(t, newStore(t, backend, bare).StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	both, err := crypto.ParseLocalKeyring("default="+hex.EncodeToString(k1)+" new="+base64.RawURLEncoding.EncodeToString(k2), "new")
	require.NoError(t, err)
	got, err := newStore(t, backend, both).FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
}
