package crypto_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// FuzzOpen puts arbitrary values where a sealed bot token belongs: the
// store never panics, and only the genuine value opens; everything else is
// ErrDecrypt. A store whose data-key cache holds the genuine key (the
// cached-header path, which parses nothing) answers the same.
func FuzzOpen(f *testing.F) {
	inner := memory.New()
	s, err := crypto.NewStore(inner, keyring(f, "k1", "k1"))
	require.NoError(f, err)
	require.NoError(f, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	raw, err := inner.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(f, err)
	genuine := raw.Bot.Token.Reveal()
	f.Add(genuine)
	f.Add(raw.Bot.RefreshToken.Reveal())
	f.Add(genuine[:len(genuine)/2])
	f.Add("xoxb-test-plain")
	f.Add(installstore.SealedPrefix + "1.local.azE.AAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, v string) {
		r := raw.Clone()
		r.Bot.Token = installstore.NewSecret(v)
		// A private inner store per input keeps the fuzz workers independent.
		in := memory.New()
		q := installstore.Query{TeamID: "T1"}
		// A store whose data-key cache holds the genuine record's key, so
		// that its fast path (a cached header) sees the input too.
		require.NoError(t, in.StoreInstallation(bg, raw.Clone()))
		cached, err := crypto.NewStore(in, keyring(t, "k1", "k1"), crypto.WithDataKeyCache(time.Hour, 10))
		require.NoError(t, err)
		_, err = cached.FetchInstallation(bg, q)
		require.NoError(t, err)
		require.NoError(t, in.StoreInstallation(bg, r))
		st, err := crypto.NewStore(in, keyring(t, "k1", "k1"))
		require.NoError(t, err)
		got, err := st.FetchInstallation(bg, q)
		fromCache, cachedErr := cached.FetchInstallation(bg, q)
		require.Equal(t, err == nil, cachedErr == nil, "value %q: the cached data key's path answers as the provider's: %v / %v", v, err, cachedErr)
		if err == nil {
			require.True(t, got.Bot.Token.Equal(fromCache.Bot.Token))
		} else {
			require.ErrorIs(t, cachedErr, crypto.ErrDecrypt)
		}
		switch {
		case v == "":
			// The group's sealed value gone, its marker alone: the record
			// does not match what was sealed.
			require.ErrorIs(t, err, crypto.ErrDecrypt)
			require.Nil(t, got)
		case err == nil:
			// Only a genuine sealed value opens (each fuzz worker seals its
			// own, so compare what it opens to, not the string).
			require.True(t, installstore.NewSecret(v).IsSealed())
			require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
		default:
			require.True(t, errors.Is(err, crypto.ErrDecrypt), "value %q: %v", v, err)
			require.Nil(t, got)
		}
		if v == genuine {
			require.NoError(t, err)
		}
	})
}

// FuzzOpenShared puts arbitrary values where the bot refresh token's marker
// belongs (format 2: the bot's sealed value is in the bot token). Only the
// genuine marker opens.
func FuzzOpenShared(f *testing.F) {
	inner := memory.New()
	s, err := crypto.NewStore(inner, keyring(f, "k1", "k1"))
	require.NoError(f, err)
	require.NoError(f, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	raw, err := inner.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(f, err)
	genuine := raw.Bot.RefreshToken.Reveal()
	f.Add(genuine)
	f.Add(raw.Bot.Token.Reveal())
	f.Add(genuine[:len(genuine)-3] + "\n" + genuine[len(genuine)-3:])
	f.Add(genuine + "=")
	f.Fuzz(func(t *testing.T, v string) {
		if v == "" {
			return // no refresh token at all: nothing to open
		}
		r := raw.Clone()
		r.Bot.RefreshToken = installstore.NewSecret(v)
		in := memory.New()
		require.NoError(t, in.StoreInstallation(bg, r))
		st, err := crypto.NewStore(in, keyring(t, "k1", "k1"))
		require.NoError(t, err)
		got, err := st.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
		if v == genuine {
			require.NoError(t, err)
			return
		}
		if err == nil {
			require.Equal(t, installstore.NewSecret("xoxe-1-test-T1-a"), got.Bot.RefreshToken, "only a genuine value opens")
			return
		}
		require.ErrorIs(t, err, crypto.ErrDecrypt)
		require.Nil(t, got)
	})
}
