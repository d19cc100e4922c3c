package installstore_test

import (
	"bytes"
	"encoding/gob"
	"encoding/xml"
	"testing"
	"text/template"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

// TestSecretOpaqueToEncoders: xml and text/template print Secrets redacted,
// gob refuses them, whether alone or inside an Installation.
func TestSecretOpaqueToEncoders(t *testing.T) {
	inst := storetest.Fixture("E1", "T1", "U1", "encoder-tag")
	inst.Bot.Token = installstore.NewSecret(token)

	for name, v := range map[string]any{"secret": inst.Bot.Token, "installation": inst, "bot": inst.Bot} {
		out, err := xml.Marshal(v)
		require.NoError(t, err, "xml %s", name)
		require.NotContains(t, string(out), token, "xml %s", name)
		require.NotContains(t, string(out), "encoder-tag", "xml %s", name)

		var buf bytes.Buffer
		require.NoError(t, template.Must(template.New("t").Parse("{{.}}")).Execute(&buf, v), "template %s", name)
		require.NotContains(t, buf.String(), token, "template %s", name)
		require.NotContains(t, buf.String(), "encoder-tag", "template %s", name)

		buf.Reset()
		err = gob.NewEncoder(&buf).Encode(v)
		require.Error(t, err, "gob must refuse %s", name)
		require.NotContains(t, buf.String(), token, "gob %s", name)
		require.NotContains(t, err.Error(), token)
	}
	var buf bytes.Buffer
	require.NoError(t, template.Must(template.New("t").Parse("{{.Bot.Token}} {{.User.Token}} {{.IncomingWebhook.URL}}")).Execute(&buf, inst))
	require.Equal(t, "[REDACTED] [REDACTED] [REDACTED]", buf.String())
}

// TestSecretIsOneWord: a Secret is one pointer (a trailing zero-size field
// would pad it to two), and testify's Equal compares whole values.
func TestSecretIsOneWord(t *testing.T) {
	require.Equal(t, unsafe.Sizeof(uintptr(0)), unsafe.Sizeof(installstore.Secret{}))
	require.NotEqual(t, installstore.NewSecret("xoxb-test-a"), installstore.NewSecret("xoxb-test-b"), "same first byte and length, other values")
	require.Equal(t, installstore.NewSecret("xoxb-test-a"), installstore.NewSecret("xoxb-test-a"))
	s := installstore.NewSecret("xoxb-test-two-words")
	require.Equal(t, "xoxb-test-two-words", s.Reveal())
	require.True(t, installstore.Secret{}.IsZero())
	require.True(t, installstore.NewSecret("").IsZero())
}
