package crypto_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestConformanceLocalKeyring(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	storetest.Run(t, func(t *testing.T) installstore.FullStore { return newStore(t, memory.New(), keys) })
}

func TestConformanceLocalKeyringCached(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		return newStore(t, memory.New(), keys, crypto.WithDataKeyCache(time.Minute, 100))
	})
}

func TestNewStoreRejectsBadInput(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	for name, f := range map[string]func() (*crypto.Store, error){
		"nil inner": func() (*crypto.Store, error) { return crypto.NewStore(nil, keys) },
		"nil keys":  func() (*crypto.Store, error) { return crypto.NewStore(memory.New(), nil) },
		"zero age": func() (*crypto.Store, error) {
			return crypto.NewStore(memory.New(), keys, crypto.WithDataKeyCache(0, 1))
		},
		"zero uses": func() (*crypto.Store, error) {
			return crypto.NewStore(memory.New(), keys, crypto.WithDataKeyCache(time.Minute, 0))
		},
		"zero capacity": func() (*crypto.Store, error) {
			return crypto.NewStore(memory.New(), keys, crypto.WithDataKeyCacheCapacity(0))
		},
		"nil clock": func() (*crypto.Store, error) { return crypto.NewStore(memory.New(), keys, crypto.WithClock(nil)) },
		"bad provider name": func() (*crypto.Store, error) {
			return crypto.NewStore(memory.New(), badName{keys})
		},
	} {
		s, err := f()
		require.ErrorIs(t, err, installstore.ErrInvalid, name)
		require.Nil(t, s, name)
	}
	for name, f := range map[string]func() (crypto.KeyProvider, error){
		"no primary": func() (crypto.KeyProvider, error) {
			return crypto.NewLocalKeyring(map[string][]byte{"a": masterKey(1)}, "b")
		},
		"short key": func() (crypto.KeyProvider, error) {
			return crypto.NewLocalKeyring(map[string][]byte{"a": make([]byte, 16)}, "a")
		},
		"empty name": func() (crypto.KeyProvider, error) {
			return crypto.NewLocalKeyring(map[string][]byte{"": masterKey(1)}, "")
		},
		"nil client":   func() (crypto.KeyProvider, error) { return crypto.NewKMS(nil, "alias/x") },
		"no key (kms)": func() (crypto.KeyProvider, error) { return crypto.NewKMS(nil, "") },
	} {
		k, err := f()
		require.ErrorIs(t, err, installstore.ErrInvalid, name)
		require.Nil(t, k, name)
	}
}

type badName struct{ crypto.KeyProvider }

func (badName) Name() string { return "Bad.Name" }

func TestInnerStoreHoldsNoPlaintext(t *testing.T) {
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	in := storetest.Fixture("E1", "T1", "U1", "plain")
	org := storetest.OrgFixture("E2", "U2", "plain")
	for _, inst := range []*installstore.Installation{in, org} {
		require.NoError(t, s.StoreInstallation(bg, inst.Clone()))
	}
	n := 0
	require.NoError(t, inner.ListInstallations(bg, func(q installstore.Query, raw *installstore.Installation) error {
		for field, v := range secrets(raw) {
			n++
			require.True(t, installstore.NewSecret(v).IsSealed(), "%v %s", q, field)
			require.NotContains(t, v, "plain", "%v %s", q, field)
			require.NotContains(t, v, "xox", "%v %s", q, field)
			require.NotContains(t, v, "hooks.slack", "%v %s", q, field)
		}
		return nil
	}))
	require.Equal(t, 5+5+3+3, n, "every secret of every record was checked")
	// Non-secret fields are kept as they are.
	raw, err := inner.FetchInstallation(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, in.TeamName, raw.TeamName)
	require.Equal(t, in.Bot.Scopes, raw.Bot.Scopes)
	// Each value has its own nonce: equal plaintexts seal differently.
	a, b := storetest.Fixture("", "T5", "U1", "same"), storetest.Fixture("", "T5", "U1", "same")
	require.NoError(t, s.StoreInstallation(bg, a))
	raw1, _ := inner.FetchInstallation(bg, installstore.Query{TeamID: "T5"})
	require.NoError(t, s.StoreInstallation(bg, b))
	raw2, _ := inner.FetchInstallation(bg, installstore.Query{TeamID: "T5"})
	require.NotEqual(t, raw1.Bot.Token, raw2.Bot.Token)
}

func TestCallerInstallationIsNotMutated(t *testing.T) {
	s := newStore(t, memory.New(), keyring(t, "k1", "k1"))
	in := storetest.Fixture("", "T1", "U1", "a")
	in.InstalledAt = time.Time{}
	want := in.Clone()
	require.NoError(t, s.StoreInstallation(bg, in))
	require.Positive(t, in.Version)
	require.False(t, in.InstalledAt.IsZero())
	want.Version, want.InstalledAt = in.Version, in.InstalledAt
	require.Equal(t, want, in, "only Version and InstalledAt change")

	got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	got.Bot.Token = installstore.NewSecret("xoxb-test-refreshed")
	before := got.Clone()
	require.NoError(t, s.UpdateInstallation(bg, got))
	require.Greater(t, got.Version, before.Version)
	before.Version = got.Version
	require.Equal(t, before, got)
}

// rawRecord returns the inner store's (sealed) record for q.
func rawRecord(t *testing.T, inner *memory.Store, q installstore.Query) *installstore.Installation {
	t.Helper()
	raw, err := inner.FetchInstallation(bg, q)
	require.NoError(t, err)
	return raw
}

// putRaw writes a sealed record into the inner store as is.
func putRaw(t *testing.T, inner *memory.Store, raw *installstore.Installation) {
	t.Helper()
	require.NoError(t, inner.StoreInstallation(bg, raw))
}

// requireDecryptError fetches q and checks the error: ErrDecrypt, naming the
// tenant and field, and holding no secret or sealed value.
func requireDecryptError(t *testing.T, s installstore.FullStore, q installstore.Query, field string, forbidden ...string) {
	t.Helper()
	got, err := s.FetchInstallation(bg, q)
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.Nil(t, got)
	msg := err.Error()
	require.Contains(t, msg, q.Tenant().String())
	require.Contains(t, msg, field)
	for _, f := range append(forbidden, installstore.SealedPrefix, "xoxb-", "xoxp-", "xoxe-", "hooks.slack") {
		require.NotContains(t, msg, f)
		require.NotContains(t, fmt.Sprintf("%+v %#v", err, err), f)
	}
}

func TestSwappedValuesFail(t *testing.T) {
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "b")))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U2", "c")))
	t1 := rawRecord(t, inner, installstore.Query{TeamID: "T1", UserID: "U1"})
	t2 := rawRecord(t, inner, installstore.Query{TeamID: "T2", UserID: "U1"})
	u2 := rawRecord(t, inner, installstore.Query{TeamID: "T1", UserID: "U2"})

	cases := map[string]struct {
		mutate func(r *installstore.Installation)
		field  string
	}{
		"bot token from another tenant":  {func(r *installstore.Installation) { r.Bot.Token = t2.Bot.Token }, "bot.token"},
		"refresh token into token field": {func(r *installstore.Installation) { r.Bot.Token = r.Bot.RefreshToken }, "bot.token"},
		"user token into bot field":      {func(r *installstore.Installation) { r.Bot.Token = r.User.Token }, "bot.token"},
		"user token of another user":     {func(r *installstore.Installation) { r.User.Token = u2.User.Token }, "user.token"},
		"user refresh token swapped":     {func(r *installstore.Installation) { r.User.RefreshToken = r.User.Token }, "user.refresh_token"},
		"webhook from another tenant":    {func(r *installstore.Installation) { r.IncomingWebhook.URL = t2.IncomingWebhook.URL }, "incoming_webhook.url"},
		"bot token as webhook":           {func(r *installstore.Installation) { r.IncomingWebhook.URL = r.Bot.Token }, "incoming_webhook.url"},
		"plaintext value":                {func(r *installstore.Installation) { r.Bot.Token = installstore.NewSecret("xoxb-test-plain") }, "bot.token"},
		"foreign format":                 {func(r *installstore.Installation) { r.User.Token = installstore.NewSecret("vault:v1:abc") }, "user.token"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := t1.Clone()
			c.mutate(r)
			putRaw(t, inner, r)
			requireDecryptError(t, s, installstore.Query{TeamID: "T1", UserID: "U1"}, c.field, "xoxb-test-plain")
		})
	}
	// The same team under an enterprise is another tenant.
	moved := t1.Clone()
	moved.EnterpriseID = "E1"
	putRaw(t, inner, moved)
	requireDecryptError(t, s, installstore.Query{EnterpriseID: "E1", TeamID: "T1"}, "bot.token")
}

func TestCorruptedByteFails(t *testing.T) {
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	in := storetest.Fixture("", "T1", "U1", "a")
	in.Bot.RefreshToken, in.User.Token, in.User.RefreshToken, in.IncomingWebhook = installstore.Secret{}, installstore.Secret{}, installstore.Secret{}, nil
	require.NoError(t, s.StoreInstallation(bg, in))
	q := installstore.Query{TeamID: "T1"}
	sealed := rawRecord(t, inner, q).Bot.Token.Reveal()
	alphabet := "ABCabc019-_.:xZ"
	for i := range len(sealed) {
		for _, c := range []byte{alphabet[i%len(alphabet)], alphabet[(i+7)%len(alphabet)]} {
			if sealed[i] == c {
				continue
			}
			r := rawRecord(t, inner, q)
			r.Bot.Token = installstore.NewSecret(sealed[:i] + string(c) + sealed[i+1:])
			putRaw(t, inner, r)
			got, err := s.FetchInstallation(bg, q)
			require.ErrorIs(t, err, crypto.ErrDecrypt, "byte %d set to %q", i, c)
			require.Nil(t, got)
		}
	}
	// Truncated at every length.
	for n := 1; n < len(sealed); n++ { // (an empty value is no secret at all)
		r := rawRecord(t, inner, q)
		r.Bot.Token = installstore.NewSecret(sealed[:n])
		putRaw(t, inner, r)
		_, err := s.FetchInstallation(bg, q)
		require.ErrorIs(t, err, crypto.ErrDecrypt, "truncated to %d", n)
	}
	// And the original still opens.
	r := rawRecord(t, inner, q)
	r.Bot.Token = installstore.NewSecret(sealed)
	putRaw(t, inner, r)
	got, err := s.FetchInstallation(bg, q)
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
}

func TestMissingKeyFails(t *testing.T) {
	inner := memory.New()
	old := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))

	other := newStore(t, inner, keyring(t, "k2", "k2"))
	requireDecryptError(t, other, installstore.Query{TeamID: "T1"}, "bot.token")
	// A keyring with a key of the same name but other bytes fails too.
	same, err := crypto.NewLocalKeyring(map[string][]byte{"k1": masterKey(9)}, "k1")
	require.NoError(t, err)
	requireDecryptError(t, newStore(t, inner, same), installstore.Query{TeamID: "T1"}, "bot.token")
	// Listing fails closed as well.
	err = other.ListInstallations(bg, func(installstore.Query, *installstore.Installation) error { return nil })
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.Contains(t, err.Error(), "tenant T1")
}

func TestEnterpriseFallbackOpensAsTheOrg(t *testing.T) {
	s := newStore(t, memory.New(), keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.OrgFixture("E1", "U1", "org")))
	got, err := s.FetchInstallation(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T9", UserID: "U1"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-E1-org"), got.Bot.Token)
	require.Equal(t, installstore.NewSecret("xoxp-test-E1-U1-org"), got.User.Token)
}

func TestListGoesPastUnreadableRecords(t *testing.T) {
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	for _, team := range []string{"T1", "T2", "T3"} {
		require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", team, "U1", "a")))
	}
	// Corrupt T2's records in the backend.
	for _, q := range []installstore.Query{{TeamID: "T2"}, {TeamID: "T2", UserID: "U1"}} {
		raw, err := inner.FetchInstallation(bg, q)
		require.NoError(t, err)
		raw.User.Token = installstore.NewSecret(raw.User.Token.Reveal()[:len(raw.User.Token.Reveal())-2] + "AA")
		require.NoError(t, inner.UpdateInstallation(bg, raw))
	}
	seen := map[string]int{}
	err := s.ListInstallations(bg, func(q installstore.Query, inst *installstore.Installation) error {
		seen[q.TeamID]++
		require.NotEqual(t, "T2", q.TeamID, "an unreadable record is never handed out")
		return nil
	})
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.Contains(t, err.Error(), "tenant T2")
	require.Equal(t, map[string]int{"T1": 2, "T3": 2}, seen, "the readable records are all listed")
}

// lying answers every query with tenant T1's record.
type lying struct{ *memory.Store }

func (l lying) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	return l.Store.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: q.UserID})
}

func TestFetchRefusesAnotherTenantsRecord(t *testing.T) {
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	liar := newStore(t, lying{inner}, keyring(t, "k1", "k1"))
	_, err := liar.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err, "its own record opens")
	got, err := liar.FetchInstallation(bg, installstore.Query{TeamID: "T2"})
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.Nil(t, got)
	require.NotContains(t, err.Error(), "xox")
}

func TestInsertedLineBreaksFail(t *testing.T) {
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	q := installstore.Query{TeamID: "T1"}
	// The refresh token shares the bot token's data key: it is opened on
	// the path that does not parse the header again.
	sealed := rawRecord(t, inner, q).Bot.RefreshToken.Reveal()
	for i := len(installstore.SealedPrefix); i <= len(sealed); i++ {
		for _, c := range []string{"\n", "\r", "\r\n", "\n\n\n"} {
			r := rawRecord(t, inner, q)
			r.Bot.RefreshToken = installstore.NewSecret(sealed[:i] + c + sealed[i:])
			putRaw(t, inner, r)
			_, err := s.FetchInstallation(bg, q)
			require.ErrorIs(t, err, crypto.ErrDecrypt, "%q inserted at %d", c, i)
		}
	}
}
