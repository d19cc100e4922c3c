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

func TestStateRoundTrip(t *testing.T) {
	st, err := newState(testNow)
	require.NoError(t, err)
	enc := st.encode(testKey)
	require.Len(t, enc, stateLen)
	got, err := decodeState(enc, testKey, testNow.Add(DefaultStateTTL-time.Second), DefaultStateTTL)
	require.NoError(t, err)
	require.Equal(t, st, got)
	require.True(t, strings.HasPrefix(got.nonceKey(), nonceKeyPrefix))

	other, err := newState(testNow)
	require.NoError(t, err)
	require.NotEqual(t, st.nonce, other.nonce, "nonces are random")
}

func TestStateRefusals(t *testing.T) {
	st, err := newState(testNow)
	require.NoError(t, err)
	enc := st.encode(testKey)

	_, err = decodeState(enc, testKey, testNow.Add(DefaultStateTTL), DefaultStateTTL)
	require.ErrorIs(t, err, errStateExpired)
	_, err = decodeState(enc, testKey, testNow.Add(-2*stateClockSkew), DefaultStateTTL)
	require.ErrorIs(t, err, errStateFuture)
	_, err = decodeState(enc, []byte("another-key-another-key-another-key!"), testNow, DefaultStateTTL)
	require.ErrorIs(t, err, errStateMalformed)
	for _, bad := range []string{"", enc[:stateLen-1], enc + "A", strings.Repeat("!", stateLen)} {
		_, err = decodeState(bad, testKey, testNow, DefaultStateTTL)
		require.ErrorIs(t, err, errStateMalformed, "%q", bad)
	}

	// Every single-bit flip of the raw state is refused.
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	require.NoError(t, err)
	for i := range len(raw) * 8 {
		flipped := append([]byte(nil), raw...)
		flipped[i/8] ^= 1 << (i % 8)
		_, err := decodeState(base64.RawURLEncoding.EncodeToString(flipped), testKey, testNow, DefaultStateTTL)
		require.Error(t, err, "bit %d", i)
	}

	// A re-signed state of another version is refused too.
	raw[0] = stateVersion + 1
	resigned := append(raw[:statePayload:statePayload], stateMAC(testKey, raw[:statePayload])...)
	_, err = decodeState(base64.RawURLEncoding.EncodeToString(resigned), testKey, testNow, DefaultStateTTL)
	require.ErrorIs(t, err, errStateMalformed)
}

// FuzzDecodeState: the decoder never panics, and whatever it accepts is
// exactly what encode produces (so nothing but a state signed with the key
// passes).
func FuzzDecodeState(f *testing.F) {
	st, _ := newState(testNow)
	f.Add(st.encode(testKey))
	f.Add("")
	f.Add(strings.Repeat("A", stateLen))
	f.Add("not a state")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeState(s, testKey, testNow, DefaultStateTTL)
		if err != nil {
			return
		}
		if enc := got.encode(testKey); enc != s {
			t.Fatalf("accepted %q, which encodes back as %q", s, enc)
		}
	})
}
