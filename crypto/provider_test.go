package crypto_test

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestDataKeyIsOpaqueToEveryEncoder(t *testing.T) {
	material := []byte("PLAINTEXT-KEY-BYTES-0123456789ab")
	dk := crypto.DataKey{KeyID: "k1", Wrapped: []byte("wrapped"), Plaintext: crypto.NewKeyMaterial(bytes.Clone(material))}
	type holder struct {
		Key  crypto.DataKey
		Ptr  *crypto.DataKey
		Keys []crypto.DataKey
	}
	h := holder{Key: dk, Ptr: &dk, Keys: []crypto.DataKey{dk}}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%w", "%!", "%T"} {
		for _, v := range []any{dk, &dk, h, dk.Plaintext, []crypto.KeyMaterial{dk.Plaintext}} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	fmt.Fprint(&out, dk, dk.Plaintext, h)
	fmt.Fprintln(&out, dk, dk.Plaintext, h)
	for _, v := range []any{dk, &dk, h, dk.Plaintext} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		out.Write(b)
		b, err = xml.Marshal(v)
		if err == nil {
			out.Write(b)
		}
		require.Error(t, gob.NewEncoder(&bytes.Buffer{}).Encode(v), "gob refuses %T", v)
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "dk", dk, "m", dk.Plaintext, "h", h)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "dk", dk, "m", dk.Plaintext, "h", h)
	for _, src := range []string{`{{.}}`, `{{.Plaintext}}`, `{{printf "%x %s %v" .Plaintext .Plaintext .}}`, `{{range .Plaintext}}{{.}}{{end}}`} {
		_ = template.Must(template.New("t").Parse(src)).Execute(&out, dk) // may refuse: no leak either way
		_ = htmltemplate.Must(htmltemplate.New("t").Parse(src)).Execute(&out, dk)
	}
	s := out.String()
	require.Contains(t, s, "k1")
	require.Contains(t, s, "[REDACTED]")
	for _, leak := range []string{"PLAINTEXT", hex.EncodeToString(material[:6]), strings.ToUpper(hex.EncodeToString(material[:6])), "80 76 65 73", "[80 76"} {
		require.NotContains(t, s, leak)
	}
	require.NotContains(t, s, "UExBSU5U", "base64 of the material") // base64("PLAINT")
	require.Equal(t, material, dk.Plaintext.Bytes(), "the one way to the key")
	dk.Plaintext.Wipe()
	require.Equal(t, make([]byte, 32), dk.Plaintext.Bytes())
}

func TestStorePrintsNoSecret(t *testing.T) {
	s := newStore(t, memory.New(), keyring(t, "k1", "k1"), crypto.WithDataKeyCache(time.Minute, 10), crypto.WithRecordCache(time.Minute, 10))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "secret")))
	_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"}) // a cached plaintext record
	require.NoError(t, err)
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d", "%w"} {
		fmt.Fprintf(&out, verb+"\n", s)
		fmt.Fprintf(&out, verb+"\n", struct{ S *crypto.Store }{s})
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "store", s)
	require.NoError(t, template.Must(template.New("t").Parse(`{{.}}`)).Execute(&out, s))
	require.Contains(t, out.String(), "crypto.Store{provider: local, inner: *memory.Store")
	for _, leak := range []string{"xoxb", "xoxp", "xoxe", "secret", "hooks.slack", "ivsealed"} {
		require.NotContains(t, out.String(), leak)
	}
}
