package crypto

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyringNeverPrintsKeyMaterial(t *testing.T) {
	key := bytes.Repeat([]byte{0xA7}, 32)
	kr, err := NewLocalKeyring(map[string][]byte{"k1": key, "k0": bytes.Repeat([]byte{0x5C}, 32)}, "k1")
	require.NoError(t, err)
	var buf bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		fmt.Fprintf(&buf, verb+"\n", kr)
		fmt.Fprintf(&buf, verb+"\n", struct{ K KeyProvider }{kr})
	}
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "keys", kr)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "keys", kr)
	out := buf.String()
	require.Contains(t, out, "primary: k1, keys: [k0 k1]")
	for _, b := range []string{"a7a7a7a7", "A7A7A7A7", "5c5c5c5c", string(key[:8]), "167 167 167", "2812782503", "a7a7a7a7a7"} {
		require.NotContains(t, out, b)
	}
	require.NotContains(t, out, hex.EncodeToString(key[:4]))
}
