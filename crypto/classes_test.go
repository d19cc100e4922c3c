package crypto_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// requireUnavailable checks err is transient, and not ErrDecrypt.
func requireUnavailable(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.False(t, errors.Is(err, crypto.ErrDecrypt), "transient, so not ErrDecrypt: %v", err)
}

// requirePermanent checks err is ErrDecrypt, and not transient.
func requirePermanent(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.False(t, errors.Is(err, installstore.ErrUnavailable), "permanent, so not ErrUnavailable: %v", err)
}

// kmsFixture is crypto over memory with KMS (kmstest, through the real
// client), holding tenants T1 and T2.
type kmsFixture struct {
	srv   *kmstest.Server
	key   kmstest.Key
	keys  crypto.KeyProvider
	inner *memory.Store
}

func newKMSFixture(t *testing.T) *kmsFixture {
	t.Helper()
	srv, client := newKMS(t)
	f := &kmsFixture{srv: srv, key: srv.CreateKey("k"), inner: memory.New()}
	var err error
	f.keys, err = crypto.NewKMS(client, f.key.ID)
	require.NoError(t, err)
	w := newStore(t, f.inner, f.keys)
	for _, team := range []string{"T1", "T2"} {
		require.NoError(t, w.StoreInstallation(bg, storetest.Fixture("", team, "U1", "a")))
	}
	return f
}

// cold returns a fresh replica's store: an empty data-key cache.
func (f *kmsFixture) cold(t *testing.T) *crypto.Store {
	return newStore(t, f.inner, f.keys, crypto.WithDataKeyCache(time.Minute, 100))
}

func listAll(t *testing.T, s installstore.Lister) (map[installstore.Query]bool, error) {
	t.Helper()
	seen := map[installstore.Query]bool{}
	err := s.ListInstallations(bg, func(q installstore.Query, inst *installstore.Installation) error {
		require.NotNil(t, inst)
		seen[q] = true
		return nil
	})
	return seen, err
}

func TestKMSThrottledIsUnavailableNeverDecrypt(t *testing.T) {
	f := newKMSFixture(t)
	q := installstore.Query{TeamID: "T1"}

	t.Run("fetch on a cold cache", func(t *testing.T) {
		f.srv.Throttle(3) // past the SDK's 3 attempts
		got, err := f.cold(t).FetchInstallation(bg, q)
		requireUnavailable(t, err)
		require.Nil(t, got)
		require.Contains(t, err.Error(), "tenant T1")
		require.Contains(t, err.Error(), "ThrottlingException")
	})
	t.Run("list stops, hands nothing out", func(t *testing.T) {
		f.srv.Throttle(3)
		seen, err := listAll(t, f.cold(t))
		requireUnavailable(t, err)
		require.Empty(t, seen)
	})
	t.Run("store and update: ErrSeal, transient, nothing written", func(t *testing.T) {
		s := f.cold(t)
		before := rawRecord(t, f.inner, q)
		f.srv.Throttle(3)
		err := s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "new"))
		requireUnavailable(t, err)
		require.ErrorIs(t, err, crypto.ErrSeal)

		inst, err := s.FetchInstallation(bg, q)
		require.NoError(t, err)
		inst.Bot.Token = installstore.NewSecret("xoxb-test-refreshed")
		f.srv.Throttle(3)
		err = s.UpdateInstallation(bg, inst)
		requireUnavailable(t, err)
		require.ErrorIs(t, err, crypto.ErrSeal)
		require.Equal(t, before, rawRecord(t, f.inner, q), "nothing was written")
	})
	t.Run("rewrap stops, as transient", func(t *testing.T) {
		f.srv.Throttle(3)
		stats, err := crypto.Rewrap(bg, f.cold(t))
		requireUnavailable(t, err)
		require.Positive(t, stats.Failed)
		require.Zero(t, stats.Current)
	})
	t.Run("KMS gone", func(t *testing.T) {
		srv, client := newKMS(t)
		keys, err := crypto.NewKMS(client, srv.CreateKey("k").ID)
		require.NoError(t, err)
		s := newStore(t, memory.New(), keys)
		require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
		srv.Close()
		_, err = s.FetchInstallation(bg, q)
		requireUnavailable(t, err)
	})
	t.Run("KMS too slow for the caller's deadline", func(t *testing.T) {
		f.srv.SetLatency(time.Minute)
		defer f.srv.SetLatency(0)
		ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
		defer cancel()
		_, err := f.cold(t).FetchInstallation(ctx, q)
		requireUnavailable(t, err)
	})
	// After the blip, everything opens.
	got, err := f.cold(t).FetchInstallation(bg, q)
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
}

func TestKMSRefusedKeyIsDecryptNeverUnavailable(t *testing.T) {
	for name, revoke := range map[string]func(f *kmsFixture) error{
		"disabled":         func(f *kmsFixture) error { return f.srv.DisableKey(f.key.ID) },
		"pending deletion": func(f *kmsFixture) error { return f.srv.ScheduleKeyDeletion(f.key.ID) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newKMSFixture(t)
			require.NoError(t, revoke(f))
			s := f.cold(t)

			_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
			requirePermanent(t, err)
			var disabled *types.DisabledException
			var invalidState *types.KMSInvalidStateException
			require.True(t, errors.As(err, &disabled) || errors.As(err, &invalidState), "the KMS error type stays visible")

			seen, err := listAll(t, s)
			requirePermanent(t, err)
			require.Empty(t, seen, "no record handed out")
			require.Contains(t, err.Error(), "tenant T1")
			require.Contains(t, err.Error(), "tenant T2", "the listing went past T1")

			err = s.StoreInstallation(bg, storetest.Fixture("", "T3", "U1", "a"))
			require.ErrorIs(t, err, crypto.ErrSeal)
			require.False(t, errors.Is(err, installstore.ErrUnavailable), "a refused key is not transient")
			require.False(t, errors.Is(err, crypto.ErrDecrypt), "a write is not a decrypt")

			stats, err := crypto.Rewrap(bg, s)
			requirePermanent(t, err)
			require.Equal(t, crypto.RewrapStats{Seen: 4, Failed: 4}, stats)
		})
	}
}

func TestLocalKeyringUnknownKeyIsDecrypt(t *testing.T) {
	inner := memory.New()
	require.NoError(t, newStore(t, inner, keyring(t, "k1", "k1")).StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	_, err := newStore(t, inner, keyring(t, "k2", "k2")).FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	requirePermanent(t, err)
}

// failing is a backend whose reads fail with err.
type failing struct {
	*memory.Store
	err error
}

func (f failing) FetchInstallation(context.Context, installstore.Query) (*installstore.Installation, error) {
	return nil, f.err
}

func (f failing) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	if err := f.Store.ListInstallations(ctx, fn); err != nil {
		return err
	}
	return f.err
}

func TestInnerErrorsKeepTheirClass(t *testing.T) {
	for _, class := range []error{installstore.ErrUnavailable, installstore.ErrCorrupt, installstore.ErrNotFound} {
		t.Run(class.Error(), func(t *testing.T) {
			backend := memory.New()
			require.NoError(t, newStore(t, backend, keyring(t, "k1", "k1")).StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
			s := newStore(t, failing{backend, fmtErr("backend: tenant T9: %w", class)}, keyring(t, "k1", "k1"))
			_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
			require.ErrorIs(t, err, class)
			require.False(t, errors.Is(err, crypto.ErrDecrypt))
			seen, err := listAll(t, s)
			require.ErrorIs(t, err, class)
			require.False(t, errors.Is(err, crypto.ErrDecrypt))
			require.Len(t, seen, 2, "records listed before the backend's error were handed out")
		})
	}
}

func TestKMSUnknownKeyIsDecrypt(t *testing.T) {
	f := newKMSFixture(t)
	// Another account's KMS (or the key deleted): the key does not exist there.
	other, client := newKMS(t)
	keys, err := crypto.NewKMS(client, other.CreateKey("other").ID)
	require.NoError(t, err)
	_, err = newStore(t, f.inner, keys).FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	requirePermanent(t, err)
	var notFound *types.NotFoundException
	var invalid *types.InvalidCiphertextException
	require.True(t, errors.As(err, &notFound) || errors.As(err, &invalid), "%v", err)
}

func TestKMSFailuresThroughTheClient(t *testing.T) {
	for _, c := range []struct {
		status    int
		code      string
		permanent bool
	}{
		{500, "KMSInternalException", false},
		{503, "DependencyTimeoutException", false},
		{400, "LimitExceededException", false},
		{503, "ServiceUnavailable", false},
		{502, "SomethingNewException", false},
		{400, "AccessDeniedException", false},
		{400, "IncorrectKeyException", true},
		{400, "InvalidCiphertextException", true},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := newKMSFixture(t)
			f.srv.FailNext(3, c.status, c.code) // past the retries, where it retries
			_, err := f.cold(t).FetchInstallation(bg, installstore.Query{TeamID: "T1"})
			if c.permanent {
				requirePermanent(t, err)
			} else {
				requireUnavailable(t, err)
			}
			require.Contains(t, err.Error(), c.code)
		})
	}
}
