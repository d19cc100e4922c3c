package oauth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	testKey = []byte("state-secret-test-0123456789abcdef0123456789")
	testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
)

func mustEncode(t testing.TB, st state) string {
	t.Helper()
	enc, err := st.encode(testKey)
	require.NoError(t, err)
	return enc
}

func TestStateRoundTrip(t *testing.T) {
	for name, opts := range map[string]InstallOptions{
		"NoOptions":   {},
		"AllOptions":  {Scopes: []string{"chat:write"}, UserScopes: []string{"search:read"}, Team: "T0ACME", Metadata: `{"plan":"pro"}`},
		"UserOnly":    {Scopes: []string{}, UserScopes: []string{"search:read"}},
		"BotOnlyHere": {UserScopes: []string{}},
	} {
		t.Run(name, func(t *testing.T) {
			st, err := newState(testNow, DefaultStateTTL, opts)
			require.NoError(t, err)
			enc := mustEncode(t, st)
			require.LessOrEqual(t, len(enc), maxStateLen)
			got, err := decodeState(enc, testKey, testNow.Add(DefaultStateTTL-time.Second))
			require.NoError(t, err)
			require.Equal(t, st, got)
			require.True(t, strings.HasPrefix(got.nonceKey(), nonceKeyPrefix))
			require.NotContains(t, got.nonceKey(), base64.RawURLEncoding.EncodeToString(st.nonce[:]), "the store holds a hash, not the nonce")
		})
	}
	a, err := newState(testNow, DefaultStateTTL, InstallOptions{})
	require.NoError(t, err)
	b, err := newState(testNow, DefaultStateTTL, InstallOptions{})
	require.NoError(t, err)
	require.NotEqual(t, a.nonce, b.nonce, "nonces are random")
	require.NotEqual(t, a.nonceKey(), b.nonceKey())
}

func TestStateCarriesItsOwnExpiry(t *testing.T) {
	st, err := newState(testNow, 2*time.Minute, InstallOptions{})
	require.NoError(t, err)
	enc := mustEncode(t, st)
	_, err = decodeState(enc, testKey, testNow.Add(time.Minute))
	require.NoError(t, err)
	_, err = decodeState(enc, testKey, testNow.Add(2*time.Minute))
	require.ErrorIs(t, err, errStateExpired, "the state's own TTL, whatever the handler's")
}

func TestStateRefusals(t *testing.T) {
	st, err := newState(testNow, DefaultStateTTL, InstallOptions{Team: "T1", Metadata: "m"})
	require.NoError(t, err)
	enc := mustEncode(t, st)

	_, err = decodeState(enc, testKey, testNow.Add(DefaultStateTTL))
	require.ErrorIs(t, err, errStateExpired)
	_, err = decodeState(enc, testKey, testNow.Add(-2*stateClockSkew))
	require.ErrorIs(t, err, errStateFuture)
	_, err = decodeState(enc, []byte("another-key-another-key-another-key!"), testNow)
	require.ErrorIs(t, err, errStateMalformed)
	for _, bad := range []string{"", enc[:len(enc)-1], enc + "A", strings.Repeat("!", len(enc)), strings.Repeat("A", maxStateLen+1)} {
		_, err = decodeState(bad, testKey, testNow)
		require.ErrorIs(t, err, errStateMalformed, "%q", bad)
	}

	// Every single-bit flip of the raw state is refused.
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	require.NoError(t, err)
	for i := range len(raw) * 8 {
		flipped := append([]byte(nil), raw...)
		flipped[i/8] ^= 1 << (i % 8)
		_, err := decodeState(base64.RawURLEncoding.EncodeToString(flipped), testKey, testNow)
		require.Error(t, err, "bit %d", i)
	}

	// Re-signed states of another version, or claiming a TTL beyond the
	// maximum, are refused too.
	resign := func(mutate func(body []byte)) string {
		body := append([]byte(nil), raw[:len(raw)-32]...)
		mutate(body)
		return base64.RawURLEncoding.EncodeToString(append(body, stateMAC(testKey, body)...))
	}
	_, err = decodeState(resign(func(b []byte) { b[0] = stateVersion + 1 }), testKey, testNow)
	require.ErrorIs(t, err, errStateMalformed)
	_, err = decodeState(resign(func(b []byte) { b[9] = 0x7f }), testKey, testNow)
	require.ErrorIs(t, err, errStateMalformed)
}

func TestStateRefusesOversizedOptions(t *testing.T) {
	st, err := newState(testNow, DefaultStateTTL, InstallOptions{Metadata: strings.Repeat("x", maxStateOptions)})
	require.NoError(t, err)
	_, err = st.encode(testKey)
	require.ErrorContains(t, err, "at most")
}

func TestCompletedCookieIsPerState(t *testing.T) {
	a, _ := newState(testNow, DefaultStateTTL, InstallOptions{})
	b, _ := newState(testNow, DefaultStateTTL, InstallOptions{})
	require.NotEqual(t, completedCookie(testKey, a), completedCookie(testKey, b))
	require.NotContains(t, completedCookie(testKey, a), base64.RawURLEncoding.EncodeToString(a.nonce[:]))
}

// FuzzDecodeState: the decoder never panics, and whatever it accepts is
// exactly what encode produces (so nothing but a state signed with the key
// passes).
func FuzzDecodeState(f *testing.F) {
	st, _ := newState(testNow, DefaultStateTTL, InstallOptions{})
	f.Add(mustEncode(f, st))
	st.opts = InstallOptions{Scopes: []string{"a"}, Metadata: "m"}
	f.Add(mustEncode(f, st))
	f.Add("")
	f.Add(strings.Repeat("A", 80))
	f.Add("not a state")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeState(s, testKey, testNow)
		if err != nil {
			return
		}
		if enc := mustEncode(t, got); enc != s {
			t.Fatalf("accepted %q, which encodes back as %q", s, enc)
		}
	})
}
