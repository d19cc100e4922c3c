package crypto_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func newKMS(t testing.TB) (*kmstest.Server, *kms.Client) {
	t.Helper()
	srv := kmstest.NewServer()
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

func TestConformanceKMS(t *testing.T) {
	srv, client := newKMS(t)
	key := srv.CreateKey("installations")
	require.NoError(t, srv.CreateAlias("alias/installvault", key.ID))
	keys, err := crypto.NewKMS(client, "alias/installvault")
	require.NoError(t, err)
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		return newStore(t, memory.New(), keys, crypto.WithDataKeyCache(time.Minute, 1000))
	})
	require.Positive(t, srv.Calls("GenerateDataKey"))
}

func TestKMSEncryptionContextNamesTheTenant(t *testing.T) {
	srv, client := newKMS(t)
	key := srv.CreateKey("k")
	keys, err := crypto.NewKMS(client, key.ID)
	require.NoError(t, err)
	e1t1 := installstore.Tenant{EnterpriseID: "E1", TeamID: "T1"}
	dk, err := keys.GenerateDataKey(bg, e1t1)
	require.NoError(t, err)
	require.Equal(t, key.ARN, dk.KeyID, "sealed values record the key ARN")
	require.Equal(t, 32, dk.Plaintext.Len())

	// The data key opens directly with the tenant's context: the documented one.
	out, err := client.Decrypt(bg, &kms.DecryptInput{CiphertextBlob: dk.Wrapped, EncryptionContext: map[string]string{
		crypto.ContextEnterpriseID: "E1", crypto.ContextTeamID: "T1",
	}})
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext.Bytes(), out.Plaintext)

	pt, err := keys.UnwrapDataKey(bg, e1t1, dk.KeyID, dk.Wrapped)
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext.Bytes(), pt)

	// Any other tenant's context is refused by KMS.
	var invalid *types.InvalidCiphertextException
	for _, other := range []installstore.Tenant{{TeamID: "T1"}, {EnterpriseID: "E1"}, {EnterpriseID: "E1", TeamID: "T2"}, {EnterpriseID: "E2", TeamID: "T1"}} {
		_, err = keys.UnwrapDataKey(bg, other, dk.KeyID, dk.Wrapped)
		require.ErrorAs(t, err, &invalid, "%v", other)
	}
	// The wrong key is refused too.
	other := srv.CreateKey("other")
	var incorrect *types.IncorrectKeyException
	_, err = keys.UnwrapDataKey(bg, e1t1, other.ARN, dk.Wrapped)
	require.ErrorAs(t, err, &incorrect)
}

func TestKMSWrongContextThroughStore(t *testing.T) {
	srv, client := newKMS(t)
	keys, err := crypto.NewKMS(client, srv.CreateKey("k").ID)
	require.NoError(t, err)
	inner := memory.New()
	s := newStore(t, inner, keys)
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "b")))
	// T2's record, sealed value by sealed value, moved to T1: KMS refuses T2's data key for T1.
	r := rawRecord(t, inner, installstore.Query{TeamID: "T1"})
	r.Bot.Token = rawRecord(t, inner, installstore.Query{TeamID: "T2"}).Bot.Token
	putRaw(t, inner, r)
	before := srv.Calls("Decrypt")
	requireDecryptError(t, s, installstore.Query{TeamID: "T1"}, "bot.token")
	require.Greater(t, srv.Calls("Decrypt"), before, "KMS was asked, and refused")
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	var invalid *types.InvalidCiphertextException
	require.ErrorAs(t, err, &invalid, "the KMS error stays visible under ErrDecrypt")
}

func TestKMSDisabledKeyFailsOnlyItsTenant(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(map[bool]string{false: "uncached", true: "cached"}[cached], func(t *testing.T) {
			srv, client := newKMS(t)
			shared, acme := srv.CreateKey("shared"), srv.CreateKey("acme CMK")
			keys, err := crypto.NewKMS(client, shared.ID, crypto.WithTenantKey(func(t installstore.Tenant) string {
				if t.TeamID == "TACME" {
					return acme.ARN
				}
				return ""
			}))
			require.NoError(t, err)
			now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
			opts := []crypto.Option{crypto.WithClock(func() time.Time { return now })}
			if cached {
				opts = append(opts, crypto.WithDataKeyCache(5*time.Minute, 100))
			}
			inner := memory.New()
			s := newStore(t, inner, keys, opts...)
			require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "TACME", "U1", "a")))
			require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "TOTHER", "U1", "b")))
			require.Contains(t, rawRecord(t, inner, installstore.Query{TeamID: "TACME"}).Bot.Token.Reveal(), b64(acme.ARN), "ACME's record names its CMK")

			require.NoError(t, srv.DisableKey(acme.ID))
			if cached {
				// Within maxAge the cached data key still opens; after it, KMS is asked and refuses.
				_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "TACME"})
				require.NoError(t, err)
				now = now.Add(5 * time.Minute)
			}
			requireDecryptError(t, s, installstore.Query{TeamID: "TACME"}, "bot.token")
			_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "TACME", UserID: "U1"})
			var disabled *types.DisabledException
			require.ErrorAs(t, err, &disabled)
			require.ErrorIs(t, err, crypto.ErrDecrypt)

			got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "TOTHER"})
			require.NoError(t, err, "another tenant on another key still works")
			require.Equal(t, installstore.NewSecret("xoxb-test-TOTHER-b"), got.Bot.Token)

			// Writes for the revoked tenant fail too (once the cached write key is gone), others work.
			now = now.Add(5 * time.Minute)
			require.ErrorAs(t, s.StoreInstallation(bg, storetest.Fixture("", "TACME", "U1", "c")), &disabled)
			require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "TOTHER", "U1", "d")))

			require.NoError(t, srv.EnableKey(acme.ID))
			got, err = s.FetchInstallation(bg, installstore.Query{TeamID: "TACME"})
			require.NoError(t, err, "re-enabling the key restores access")
			require.Equal(t, installstore.NewSecret("xoxb-test-TACME-a"), got.Bot.Token)
		})
	}
}

func TestKMSThrottlingIsRetried(t *testing.T) {
	srv, client := newKMS(t)
	keys, err := crypto.NewKMS(client, srv.CreateKey("k").ID)
	require.NoError(t, err)
	s := newStore(t, memory.New(), keys)
	srv.ResetCalls()
	srv.Throttle(2)
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.Equal(t, 3, srv.Calls("GenerateDataKey"), "two throttled attempts, then success")
	srv.Throttle(2)
	got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
	require.Equal(t, 3, srv.Calls("Decrypt"), "one data key per record, retried twice")
	require.Equal(t, 4, srv.Throttled())

	// Throttled past the retry budget: the read fails closed, as transient.
	srv.Throttle(3)
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	requireUnavailable(t, err)
}

func TestKMSCallsWithCache(t *testing.T) {
	srv, client := newKMS(t)
	keys, err := crypto.NewKMS(client, srv.CreateKey("k").ID)
	require.NoError(t, err)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := crypto.WithClock(func() time.Time { return now })
	inner := memory.New()
	s := newStore(t, inner, keys, clock, crypto.WithDataKeyCache(time.Hour, 3))
	srv.ResetCalls()
	for i := range 4 {
		require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", string(rune('a'+i)))))
	}
	require.Equal(t, 2, srv.Calls("GenerateDataKey"), "maxUses 3: a new data key on the fourth write")
	for range 10 {
		_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
	}
	require.Zero(t, srv.Calls("Decrypt"), "the writer's data key serves reads")

	// A fresh process: one Decrypt per data key per maxAge.
	cold := newStore(t, inner, keys, clock, crypto.WithDataKeyCache(time.Hour, 3))
	for range 10 {
		_, err := cold.FetchInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
	}
	require.Equal(t, 1, srv.Calls("Decrypt"))
	now = now.Add(time.Hour)
	_, err = cold.FetchInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	require.Equal(t, 2, srv.Calls("Decrypt"), "maxAge passed: unwrapped again")
	now = now.Add(time.Hour)
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "z")))
	require.Equal(t, 3, srv.Calls("GenerateDataKey"), "maxAge passed: a new write key")
}

func TestKMSUnavailableFailsClosed(t *testing.T) {
	srv, client := newKMS(t)
	keys, err := crypto.NewKMS(client, srv.CreateKey("k").ID)
	require.NoError(t, err)
	s := newStore(t, memory.New(), keys)
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	srv.Close()
	got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	requireUnavailable(t, err)
	require.Nil(t, got)
	err = s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "b"))
	requireUnavailable(t, err)
	require.ErrorIs(t, err, crypto.ErrSeal)
}

func TestKMSRotationToATenantKey(t *testing.T) {
	srv, client := newKMS(t)
	shared, cmk := srv.CreateKey("shared"), srv.CreateKey("acme CMK")
	inner := memory.New()
	oldKeys, err := crypto.NewKMS(client, shared.ID)
	require.NoError(t, err)
	want := seedTenants(t, newStore(t, inner, oldKeys))

	// T01 moves to its own key; everyone else stays on the shared key.
	newKeys, err := crypto.NewKMS(client, shared.ID, crypto.WithTenantKey(func(t installstore.Tenant) string {
		if t.TeamID == "T01" {
			return cmk.ID
		}
		return ""
	}))
	require.NoError(t, err)
	s := newStore(t, inner, newKeys)
	stats, err := crypto.Rewrap(bg, s)
	require.NoError(t, err)
	require.Equal(t, 1, stats.Rewrapped, "T01's latest and user record are one update, done once, then seen current")
	require.Equal(t, len(want)-1, stats.Current)

	// Disabling the shared key now locks out everyone but T01.
	require.NoError(t, srv.DisableKey(shared.ID))
	got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T01", UserID: "U1"})
	require.NoError(t, err)
	storetest.Equal(t, want[installstore.Query{TeamID: "T01", UserID: "U1"}], got)
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T02"})
	require.ErrorIs(t, err, crypto.ErrDecrypt)
}
