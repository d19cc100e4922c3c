package crypto_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// v1Shape is one installation shape of the v1 fixtures
// (testdata/sealed-v1.json): the record as stored, and the query that
// reads it back.
type v1Shape struct {
	name string
	inst func() *installstore.Installation
	q    installstore.Query
}

// v1Shapes are the shapes the v1 fixtures hold: every secret, a bot only, a
// user only, no webhook, an org-wide install, a workspace of an enterprise,
// and a user's own record.
var v1Shapes = []v1Shape{
	{"full", func() *installstore.Installation { return storetest.Fixture("", "T1", "U1", "v1") }, installstore.Query{TeamID: "T1"}},
	{"full-user-record", func() *installstore.Installation { return storetest.Fixture("", "T1", "U1", "v1") }, installstore.Query{TeamID: "T1", UserID: "U1"}},
	{"bot-only", func() *installstore.Installation {
		inst := storetest.Fixture("", "T2", "", "v1")
		inst.User = installstore.User{}
		inst.IncomingWebhook = nil
		return inst
	}, installstore.Query{TeamID: "T2"}},
	{"user-only", func() *installstore.Installation {
		inst := storetest.Fixture("", "T3", "U3", "v1")
		inst.Bot = nil
		inst.IncomingWebhook = nil
		return inst
	}, installstore.Query{TeamID: "T3", UserID: "U3"}},
	{"no-webhook", func() *installstore.Installation {
		inst := storetest.Fixture("", "T4", "U4", "v1")
		inst.IncomingWebhook = nil
		return inst
	}, installstore.Query{TeamID: "T4"}},
	{"org-wide", func() *installstore.Installation { return storetest.OrgFixture("E5", "U5", "v1") }, installstore.Query{EnterpriseID: "E5", IsEnterpriseInstall: true}},
	{"grid-workspace", func() *installstore.Installation { return storetest.Fixture("E6", "T6", "U6", "v1") }, installstore.Query{EnterpriseID: "E6", TeamID: "T6", UserID: "U6"}},
}

// v1Record is one fixture: the sealed secrets of the record a shape's query
// read from the backend, by field name.
type v1Record struct {
	Shape   string            `json:"shape"`
	Secrets map[string]string `json:"secrets"`
}

const v1FixturePath = "testdata/sealed-v1.json"

// TestGenerateV1Fixtures wrote testdata/sealed-v1.json with format 1's
// sealing code (commit 7adf849 and before), under the keyring
// keyring(t, "k1", "k1"). It only runs with IV_WRITE_V1_FIXTURES=1.
func TestGenerateV1Fixtures(t *testing.T) {
	if os.Getenv("IV_WRITE_V1_FIXTURES") != "1" {
		t.Skip("writes testdata/sealed-v1.json with the current code; only format 1's code may write it")
	}
	var out []v1Record
	for _, sh := range v1Shapes {
		inner := memory.New()
		s := newStore(t, inner, keyring(t, "k1", "k1"))
		require.NoError(t, s.StoreInstallation(bg, sh.inst()))
		raw, err := inner.FetchInstallation(bg, sh.q)
		require.NoError(t, err)
		out = append(out, v1Record{Shape: sh.name, Secrets: secrets(raw)})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.FromSlash(v1FixturePath), append(b, '\n'), 0o644))
}

