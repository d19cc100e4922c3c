package rotation

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

func TestRefresherNeverPrintsTheClientSecret(t *testing.T) {
	const secret = "test-client-secret-do-not-print"
	r, err := New(memory.New(), WithClientCredentials("0000.1111", installstore.NewSecret(secret)))
	require.NoError(t, err)
	var buf bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&buf, verb+"\n", r)
		fmt.Fprintf(&buf, verb+"\n", struct{ R *Refresher }{r})
	}
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "r", r)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "r", r)
	require.NotContains(t, buf.String(), secret)
	require.Contains(t, buf.String(), "0000.1111")
}
