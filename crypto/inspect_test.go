package crypto_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestSealedKey(t *testing.T) {
	ctx := context.Background()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k-2026": bytes.Repeat([]byte{7}, 32)}, "k-2026")
	require.NoError(t, err)
	raw := memory.New()
	s, err := crypto.NewStore(raw, keys)
	require.NoError(t, err)
	inst := storetest.Fixture("", "T1", "U1", "inspect")
	require.NoError(t, s.StoreInstallation(ctx, inst))
	sealed, err := raw.FetchInstallation(ctx, inst.Query())
	require.NoError(t, err)
	n := 0
	require.NoError(t, sealed.Secrets(func(field string, sec *installstore.Secret) error {
		n++
		provider, keyID, err := crypto.SealedKey(*sec)
		require.NoError(t, err, field)
		require.Equal(t, "local", provider)
		require.Equal(t, "k-2026", keyID)
		return nil
	}))
	require.Positive(t, n)

	for name, v := range map[string]string{
		"empty":        "",
		"plaintext":    "xoxb-test-plaintext-token",
		"prefix only":  installstore.SealedPrefix,
		"bad version":  installstore.SealedPrefix + "2.local.azE.d3JhcA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
		"bad key b64":  installstore.SealedPrefix + "1.local.a*E.d3JhcA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
		"few fields":   installstore.SealedPrefix + "1.local.azE",
		"newline key":  installstore.SealedPrefix + "1.0.\r\r.00.0000000000000000.0000000000000000000000",
		"bad provider": installstore.SealedPrefix + "1.LOCAL.azE.d3JhcA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
	} {
		_, _, err := crypto.SealedKey(installstore.NewSecret(v))
		require.Error(t, err, name)
		if len(v) > len(installstore.SealedPrefix) {
			require.NotContains(t, err.Error(), v, name)
		}
	}
	// A well-formed value decodes its key ID.
	p, id, err := crypto.SealedKey(installstore.NewSecret(installstore.SealedPrefix + "1.local.azE.d3JhcA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"))
	require.NoError(t, err)
	require.Equal(t, "local", p)
	require.Equal(t, "k1", id)
}

func FuzzSealedKey(f *testing.F) {
	f.Add(installstore.SealedPrefix + "1.local.azE.d3JhcA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("xoxb-test-x")
	f.Add(installstore.SealedPrefix + "1.0.\r\r.00.0000000000000000.0000000000000000000000")
	f.Add(installstore.SealedPrefix + "1.aws-kms..")
	f.Fuzz(func(t *testing.T, v string) {
		provider, keyID, err := crypto.SealedKey(installstore.NewSecret(v))
		if err != nil {
			if provider != "" || keyID != "" {
				t.Fatal("partial result with an error")
			}
			if len(v) > 16 && strings.Contains(err.Error(), v) {
				t.Fatal("error quotes the value")
			}
			return
		}
		if !strings.HasPrefix(v, installstore.SealedPrefix+"1."+provider+".") || keyID == "" {
			t.Fatalf("inconsistent result %q %q", provider, keyID)
		}
	})
}
