package crypto_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
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

// loadV1 returns a memory store holding the format 1 fixtures, as format 1
// stored them, and the shapes they are of.
func loadV1(t *testing.T) (*memory.Store, map[string]v1Shape) {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(v1FixturePath))
	require.NoError(t, err)
	var recs []v1Record
	require.NoError(t, json.Unmarshal(b, &recs))
	require.Len(t, recs, len(v1Shapes))
	shapes := map[string]v1Shape{}
	inner := memory.New()
	for _, sh := range v1Shapes {
		shapes[sh.name] = sh
	}
	for _, r := range recs {
		sh, ok := shapes[r.Shape]
		require.True(t, ok, r.Shape)
		raw := sh.inst()
		n := 0
		require.NoError(t, raw.Secrets(func(field string, s *installstore.Secret) error {
			v, ok := r.Secrets[field]
			require.True(t, ok, "%s: %s", r.Shape, field)
			require.True(t, strings.HasPrefix(v, installstore.SealedPrefix+"1."), "%s: %s is a format 1 value", r.Shape, field)
			*s = installstore.NewSecret(v)
			n++
			return nil
		}))
		require.Len(t, r.Secrets, n, r.Shape)
		// Stored below the layer, as format 1 left them (the two T1 shapes
		// hold one install: the latest record and U1's).
		require.NoError(t, inner.StoreInstallation(bg, raw))
	}
	return inner, shapes
}

// TestFormat1ValuesOpen: records sealed by format 1's code (the fixtures)
// open, every shape, each secret bound as format 1 bound it.
func TestFormat1ValuesOpen(t *testing.T) {
	inner, shapes := loadV1(t)
	s := newStore(t, inner, keyring(t, "k1", "k1"), crypto.WithDataKeyCache(time.Minute, 10))
	for name, sh := range shapes {
		got, err := s.FetchInstallation(bg, sh.q)
		require.NoError(t, err, name)
		want := sh.inst()
		want.Version = got.Version
		storetest.Equal(t, want, got)
	}
	// Format 1's bindings still hold: a value moved to another tenant or
	// field does not open.
	raw, err := inner.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	moved := raw.Clone()
	moved.Bot.Token, moved.Bot.RefreshToken = raw.Bot.RefreshToken, raw.Bot.Token
	require.NoError(t, inner.UpdateInstallation(bg, moved))
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, crypto.ErrDecrypt)
}

// TestRewrapMigratesFormat1: Rewrap counts every format 1 record as not
// current, even under the current master key, and re-seals it in format 2;
// then everything opens and a second run finds nothing to do.
func TestRewrapMigratesFormat1(t *testing.T) {
	inner, shapes := loadV1(t)
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	st, err := crypto.Rewrap(bg, s)
	require.NoError(t, err)
	require.Zero(t, st.Failed)
	// Six tenants: the first of each tenant's records listed is format 1
	// under the current key, and rewrapped (re-sealing a latest record
	// re-seals its installer's record too, which then lists as current).
	require.GreaterOrEqual(t, st.Rewrapped, 6, "a format 1 record is never current")
	require.Equal(t, st.Seen, st.Rewrapped+st.Current)
	require.NoError(t, inner.ListInstallations(bg, func(q installstore.Query, raw *installstore.Installation) error {
		return raw.Secrets(func(field string, sec *installstore.Secret) error {
			require.True(t, strings.HasPrefix(sec.Reveal(), installstore.SealedPrefix+"2."), "%+v %s", q, field)
			return nil
		})
	}))
	for name, sh := range shapes {
		got, err := s.FetchInstallation(bg, sh.q)
		require.NoError(t, err, name)
		want := sh.inst()
		want.Version = got.Version
		storetest.Equal(t, want, got)
	}
	st, err = crypto.Rewrap(bg, s)
	require.NoError(t, err)
	require.Equal(t, st.Seen, st.Current)
}

// An app-scoped layer never opens a format 1 value: format 1 binds no app,
// and no app-scoped store ever held one, so such a value was copied in
// (from an unscoped table, a backup, another app) and would get past the
// app binding.
func TestFormat1RefusedWhenAppScoped(t *testing.T) {
	old, _ := loadV1(t)
	v1rec := rawRecordOf(t, old, installstore.Query{TeamID: "T1"})

	inner := memory.New(memory.WithClientID("2222222222.2222222222"))
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "appB")))
	raw := rawRecordOf(t, inner, installstore.Query{TeamID: "T1"})
	raw.User.Token, raw.User.RefreshToken = v1rec.User.Token, v1rec.User.RefreshToken
	raw.IncomingWebhook.URL = v1rec.IncomingWebhook.URL
	require.NoError(t, inner.UpdateInstallation(bg, raw))
	_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, crypto.ErrDecrypt, "format 1 groups inside an app's record")
	require.ErrorContains(t, err, "format 1")

	// Unscoped, the same values open: the migration path of format 1 data.
	_, err = newStore(t, old, keyring(t, "k1", "k1")).FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
}
