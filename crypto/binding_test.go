package crypto_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// TestWebhookMovedToAnotherUserDoesNotOpen: the incoming-webhook URL is
// bound to the user who installed it. Moved from one user's record to
// another user's record of the same tenant, it does not open (in format 1
// it did: the webhook was bound to the tenant only).
func TestWebhookMovedToAnotherUserDoesNotOpen(t *testing.T) {
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U2", "b")))
	q1 := installstore.Query{TeamID: "T1", UserID: "U1"}
	q2 := installstore.Query{TeamID: "T1", UserID: "U2"}
	raw1, err := inner.FetchInstallation(bg, q1)
	require.NoError(t, err)
	raw2, err := inner.FetchInstallation(bg, q2)
	require.NoError(t, err)

	// U1's webhook into U2's record (the latest, too: U2 installed last).
	raw2.IncomingWebhook.URL = raw1.IncomingWebhook.URL
	require.NoError(t, inner.UpdateInstallation(bg, raw2))
	_, err = s.FetchInstallation(bg, q2)
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	// U1's own record still opens.
	got, err := s.FetchInstallation(bg, q1)
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("https://hooks.slack.invalid/services/T1/a"), got.IncomingWebhook.URL)
}

// rawRecordOf reads q's record below the layer.
func rawRecordOf(t *testing.T, inner installstore.FullStore, q installstore.Query) *installstore.Installation {
	t.Helper()
	raw, err := inner.FetchInstallation(bg, q)
	require.NoError(t, err)
	return raw
}

// TestFormat2OneSealedValuePerGroup: each group of secrets stored together
// (the bot's two tokens, the user's two tokens, the webhook) is one sealed
// value in its first field; the group's other fields hold a marker naming
// the key, so every backend still sees which secrets exist, and
// SealedKey reads every field.
func TestFormat2OneSealedValuePerGroup(t *testing.T) {
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	raw := rawRecordOf(t, inner, installstore.Query{TeamID: "T1"})
	marker := installstore.SealedPrefix + "2.local." + b64("k1")
	for field, v := range secrets(raw) {
		switch field {
		case installstore.FieldBotRefreshToken, installstore.FieldUserRefreshToken:
			require.Equal(t, marker, v, field)
		default:
			require.True(t, strings.HasPrefix(v, marker+"."), field)
			require.Equal(t, 4, strings.Count(v, "."), "%s: version.provider.key.wrapped.body", field)
		}
		provider, keyID, err := crypto.SealedKey(installstore.NewSecret(v))
		require.NoError(t, err, field)
		require.Equal(t, []string{"local", "k1"}, []string{provider, keyID}, field)
	}
	require.Equal(t, storetest.Fixture("", "T1", "U1", "a").RefreshAt(), raw.RefreshAt(), "the due index sees the same rotating tokens")
}

// TestFormat2PartialRecords: any subset of a group's fields round-trips.
func TestFormat2PartialRecords(t *testing.T) {
	s := newStore(t, memory.New(), keyring(t, "k1", "k1"))
	for name, mod := range map[string]func(*installstore.Installation){
		"bot only":               func(i *installstore.Installation) { i.User = installstore.User{}; i.IncomingWebhook = nil },
		"bot without refresh":    func(i *installstore.Installation) { i.Bot.RefreshToken = installstore.Secret{} },
		"bot refresh token only": func(i *installstore.Installation) { i.Bot.Token = installstore.Secret{} },
		"user only":              func(i *installstore.Installation) { i.Bot = nil; i.IncomingWebhook = nil },
		"user refresh only":      func(i *installstore.Installation) { i.User.Token = installstore.Secret{} },
		"no webhook":             func(i *installstore.Installation) { i.IncomingWebhook = nil },
		"webhook only": func(i *installstore.Installation) {
			i.Bot = nil
			i.User.Token, i.User.RefreshToken = installstore.Secret{}, installstore.Secret{}
		},
		"no secrets": func(i *installstore.Installation) {
			i.Bot.Token, i.Bot.RefreshToken = installstore.Secret{}, installstore.Secret{}
			i.User.Token, i.User.RefreshToken = installstore.Secret{}, installstore.Secret{}
			i.IncomingWebhook = nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := storetest.Fixture("", "T"+strings.ReplaceAll(name, " ", ""), "U1", "p")
			mod(in)
			require.NoError(t, s.StoreInstallation(bg, in.Clone()))
			got, err := s.FetchInstallation(bg, in.Query())
			require.NoError(t, err)
			in.Version = got.Version
			storetest.Equal(t, in, got)
		})
	}
}

// TestFormat2Tampering: every change to where the sealed values and
// markers sit fails with ErrDecrypt, and the errors name no secret.
func TestFormat2Tampering(t *testing.T) {
	keys := keyring(t, "k1", "k1", "k2")
	for name, tamper := range map[string]func(t *testing.T, inner *memory.Store, raw *installstore.Installation){
		"blob and marker swapped": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			r.Bot.Token, r.Bot.RefreshToken = r.Bot.RefreshToken, r.Bot.Token
		},
		"marker dropped": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			r.Bot.RefreshToken = installstore.Secret{}
		},
		"marker alone": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			r.User.Token = r.User.RefreshToken
		},
		"marker of another key": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			r.User.RefreshToken = installstore.NewSecret(installstore.SealedPrefix + "2.local." + b64("k2"))
		},
		"marker added where nothing was": func(t *testing.T, inner *memory.Store, r *installstore.Installation) {
			r.Bot.RefreshToken = installstore.Secret{}
			s := newStore(t, inner, keys)
			in := storetest.Fixture("", "T1", "U1", "a")
			in.Bot.RefreshToken = installstore.Secret{}
			require.NoError(t, s.StoreInstallation(bg, in))
			*r = *rawRecordOf(t, inner, installstore.Query{TeamID: "T1", UserID: "U1"})
			r.Bot.RefreshToken = r.User.RefreshToken // a marker of the same key
		},
		"user group to the webhook": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			r.IncomingWebhook.URL = r.User.Token
		},
		"bot group to the user": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			r.User.Token, r.User.RefreshToken = r.Bot.Token, r.Bot.RefreshToken
		},
		"user group of another user": func(t *testing.T, inner *memory.Store, r *installstore.Installation) {
			u2 := rawRecordOf(t, inner, installstore.Query{TeamID: "T1", UserID: "U2"})
			r.User.Token, r.User.RefreshToken = u2.User.Token, u2.User.RefreshToken
		},
		"bot of another tenant": func(t *testing.T, inner *memory.Store, r *installstore.Installation) {
			r.Bot.Token = rawRecordOf(t, inner, installstore.Query{TeamID: "T2"}).Bot.Token
		},
		"format 1 value in a format 2 group": func(t *testing.T, inner *memory.Store, r *installstore.Installation) {
			r.Bot.RefreshToken = installstore.NewSecret(installstore.SealedPrefix + "1.local." + b64("k1") + ".AAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA")
		},
		"not sealed": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			r.Bot.Token = installstore.NewSecret("xoxb-test-planted")
		},
		"truncated": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			v := r.Bot.Token.Reveal()
			r.Bot.Token = installstore.NewSecret(v[:len(v)-4])
		},
		"one character changed": func(_ *testing.T, _ *memory.Store, r *installstore.Installation) {
			v := []byte(r.User.Token.Reveal())
			v[len(v)-10] ^= 1
			r.User.Token = installstore.NewSecret(string(v))
		},
	} {
		t.Run(name, func(t *testing.T) {
			inner := memory.New()
			s := newStore(t, inner, keys)
			require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "t2")))
			require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U2", "b")))
			require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
			q := installstore.Query{TeamID: "T1", UserID: "U1"}
			raw := rawRecordOf(t, inner, q)
			tamper(t, inner, raw)
			raw.Version = rawRecordOf(t, inner, q).Version
			require.NoError(t, inner.UpdateInstallation(bg, raw))
			got, err := s.FetchInstallation(bg, q)
			require.ErrorIs(t, err, crypto.ErrDecrypt)
			require.Nil(t, got)
			for _, leak := range []string{"xoxb-", "xoxp-", "xoxe-", "hooks.slack"} {
				require.NotContains(t, err.Error(), leak)
			}
			// Other tenants are untouched.
			_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T2"})
			require.NoError(t, err)
		})
	}
}

// TestWebhookStaysAfterItsInstallerIsRemoved: the tenant's latest record
// keeps the webhook after its installer's user delete (the backend clears
// the user, User.ID included); it still opens there.
func TestWebhookStaysAfterItsInstallerIsRemoved(t *testing.T) {
	s := newStore(t, memory.New(), keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, s.DeleteInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"}))
	got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Empty(t, got.User.ID)
	require.True(t, got.User.Token.IsZero())
	require.Equal(t, installstore.NewSecret("https://hooks.slack.invalid/services/T1/a"), got.IncomingWebhook.URL)
}
