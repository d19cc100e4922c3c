package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/backendtest"
	"github.com/installvault/installvault/sqlite"
)

// sealed returns crypto.NewStore over a default (sealed-only) store on a
// new file, the backend itself, and the file's path.
func sealed(t testing.TB, opts ...sqlite.Option) (*crypto.Store, *sqlite.Store, string) {
	t.Helper()
	backend, path := open(t, opts...)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	require.NoError(t, err)
	s, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)
	return s, backend, path
}

func TestConformanceThroughCrypto(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, _, _ := sealed(t)
		return s
	})
}

func TestRefusesPlaintextSecrets(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	for field, mutate := range map[string]func(*installstore.Installation){
		installstore.FieldBotToken:           func(i *installstore.Installation) {},
		installstore.FieldBotRefreshToken:    func(i *installstore.Installation) { i.Bot.Token = installstore.NewSecret("ivsealed:1.x") },
		installstore.FieldUserToken:          func(i *installstore.Installation) { i.Bot = nil },
		installstore.FieldUserRefreshToken:   func(i *installstore.Installation) { i.Bot = nil; i.User.Token = installstore.NewSecret("ivsealed:1.x") },
		installstore.FieldIncomingWebhookURL: func(i *installstore.Installation) { i.Bot = nil; i.User = installstore.User{ID: "U1"} },
	} {
		inst := storetest.Fixture("", "T1", "U1", "plain")
		mutate(inst)
		err := s.StoreInstallation(ctx, inst)
		require.ErrorIs(t, err, installstore.ErrInvalid, field)
		require.Contains(t, err.Error(), "secret "+field+" is not sealed", field)
		require.NotContains(t, err.Error(), "xox", "the error never holds the secret")
		require.Zero(t, inst.Version, "nothing written")
	}
	_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)

	// Update refuses too, and leaves the stored record alone.
	c, backend, _ := sealed(t)
	require.NoError(t, c.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "a")))
	raw, err := backend.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
	require.NoError(t, err)
	raw.Bot.Token = installstore.NewSecret("xoxb-test-plain")
	require.ErrorIs(t, backend.UpdateInstallation(ctx, raw), installstore.ErrInvalid)
	got, err := c.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-T2-a", got.Bot.Token.Reveal())
}

// Every secret the store was given, through crypto, is absent from every
// file SQLite wrote: the database, its WAL and its shared-memory index,
// read while the store is open (the WAL not yet checkpointed) and after
// Close. History is on: its entries are scanned too.
func TestNoPlaintextInFiles(t *testing.T) {
	ctx := context.Background()
	s, backend, path := sealed(t, sqlite.WithHistory())
	var secrets []string
	remember := func(inst *installstore.Installation) {
		_ = inst.Secrets(func(_ string, sec *installstore.Secret) error {
			secrets = append(secrets, sec.Reveal())
			return nil
		})
	}
	for _, inst := range []*installstore.Installation{
		storetest.Fixture("", "T1", "U1", "a"), storetest.Fixture("", "T1", "U2", "b"),
		storetest.Fixture("E1", "T2", "U3", "c"), storetest.OrgFixture("E1", "U4", "d"),
	} {
		remember(inst)
		require.NoError(t, s.StoreInstallation(ctx, inst.Clone()))
	}
	// A refresh and a delete leave old page images behind in the WAL.
	cur, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"})
	require.NoError(t, err)
	cur.Bot.Token, cur.User.Token = installstore.NewSecret("xoxb-test-refreshed-T1"), installstore.NewSecret("xoxp-test-refreshed-T1")
	remember(cur)
	require.NoError(t, s.UpdateInstallation(ctx, cur))
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}))
	require.NoError(t, s.PutNonce(ctx, "state-nonce-test-plain", time.Now().Add(time.Hour)))
	secrets = append(secrets, "state-nonce-test-plain")
	secrets = append(secrets, storetest.WriteSecrets(t, s)...)
	require.Positive(t, rawCount(t, path, "SELECT count(*) FROM history WHERE json_extract(bot, '$.tok') LIKE 'ivsealed:%'"), "history entries hold sealed values")
	require.Zero(t, rawCount(t, path, "SELECT count(*) FROM history WHERE json_extract(bot, '$.tok') NOT LIKE 'ivsealed:%' OR json_extract(user, '$.tok') NOT LIKE 'ivsealed:%'"))

	files := func() []string {
		var out []string
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if _, err := os.Stat(path + suffix); err == nil {
				out = append(out, path+suffix)
			}
		}
		return out
	}
	check := func(when string) {
		fs := files()
		require.NotEmpty(t, fs)
		for _, f := range fs {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, sec := range secrets {
				require.False(t, bytes.Contains(raw, []byte(sec)), "%s: %s holds a plaintext secret", when, filepath.Base(f))
			}
		}
	}
	require.FileExists(t, path+"-wal", "the WAL is read while it holds the writes")
	check("open")

	// What the file holds is sealed, and opens through crypto.
	raw, err := backend.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.True(t, raw.Bot.Token.IsSealed())
	require.NoError(t, backend.Close())
	check("closed")

	// The check sees what a store writes: without crypto, the WAL holds the token.
	plain, plainPath := open(t, sqlite.WithPlaintextSecrets())
	require.NoError(t, plain.StoreInstallation(ctx, storetest.Fixture("", "T9", "U9", "control")))
	wal, err := os.ReadFile(plainPath + "-wal")
	require.NoError(t, err)
	require.True(t, bytes.Contains(wal, []byte("xoxb-test-T9-control")), "control: a plaintext token is found in the WAL")
}

func TestCryptoListsPastCorruptRows(t *testing.T) {
	ctx := context.Background()
	s, backend, path := sealed(t)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "b")))
	rawExec(t, path, `UPDATE tenants SET rec = '{"team":' WHERE team_id = 'T2'`)
	var seen []string
	err := s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		seen = append(seen, q.TeamID+"/"+q.UserID)
		return nil
	})
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.False(t, errors.Is(err, installstore.ErrUnavailable))
	require.Contains(t, err.Error(), "skipped 1 record: tenant T2")
	require.ElementsMatch(t, []string{"T1/", "T1/U1", "T2/U1"}, seen)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T2"}))
	require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }))
	_ = backend
	require.False(t, strings.Contains(err.Error(), "xox"))
}

// TestAppsThroughCrypto: apps sharing one file stay apart through the
// encryption layer, which binds each store's client ID into what it seals.
func TestAppsThroughCrypto(t *testing.T) {
	scoped := appStores(true)
	storetest.RunApps(t, func(t *testing.T, id string) installstore.FullStore { return backendtest.Sealed(t, scoped(t, id)) })
}
