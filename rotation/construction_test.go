package rotation_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"text/template"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/rotation"
)

// TestSlackAPIURLCheckedAtConstruction: a base slack-go cannot append
// method names to fails New with a fix, not the first refresh.
func TestSlackAPIURLCheckedAtConstruction(t *testing.T) {
	creds := rotation.WithClientCredentials("cid", installstore.NewSecret("client-secret-not-printed"))
	for raw, wantOK := range map[string]bool{
		"https://slack.com/api/":      true,
		"http://127.0.0.1:8080/api/":  true,
		"https://slack.com/api":       false,
		"slack.com/api/":              false,
		"ftp://slack.com/api/":        false,
		"https://slack.com/api/?x=1":  false,
		"://bad":                      false,
		"https:///api/":               false,
		"http://127.0.0.1:8080/api/x": false,
	} {
		_, err := rotation.New(memory.New(), creds, rotation.WithSlackAPIURL(raw))
		if wantOK {
			require.NoError(t, err, raw)
			continue
		}
		require.ErrorIs(t, err, installstore.ErrInvalid, raw)
		require.NotContains(t, err.Error(), "client-secret-not-printed")
	}
	_, err := rotation.New(memory.New(), creds, rotation.WithSlackAPIURL("https://slack.com/api"))
	require.ErrorContains(t, err, `use "https://slack.com/api/"`, "the error says the fix")
}

// TestRefresherPrintsNoSecretInTemplates: {{.}} of a *Refresher (text/template
// dereferences pointers that are not Stringers) prints no client secret.
func TestRefresherPrintsNoSecretInTemplates(t *testing.T) {
	r, err := rotation.New(memory.New(), rotation.WithClientCredentials("cid", installstore.NewSecret("client-secret-not-printed")))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, template.Must(template.New("t").Parse("{{.}} {{printf \"%v %+v %#v %s\" . . . .}}")).Execute(&buf, r))
	require.NotContains(t, buf.String(), "client-secret-not-printed")
	require.Contains(t, buf.String(), "cid")
	slog.New(slog.NewTextHandler(&buf, nil)).Info("r", "refresher", r)
	require.False(t, strings.Contains(buf.String(), "client-secret-not-printed"))
}
