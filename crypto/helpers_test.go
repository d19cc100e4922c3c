package crypto_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

// masterKey returns a deterministic 32-byte test master key.
func masterKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func keyring(t testing.TB, primary string, names ...string) crypto.KeyProvider {
	t.Helper()
	keys := map[string][]byte{}
	for i, n := range names {
		keys[n] = masterKey(byte(i + 1))
	}
	k, err := crypto.NewLocalKeyring(keys, primary)
	require.NoError(t, err)
	return k
}

// counting wraps a real KeyProvider and counts its calls.
type counting struct {
	crypto.KeyProvider
	generated, unwrapped atomic.Int64
}

func (c *counting) GenerateDataKey(ctx context.Context, t installstore.Tenant) (*crypto.DataKey, error) {
	c.generated.Add(1)
	return c.KeyProvider.GenerateDataKey(ctx, t)
}

func (c *counting) UnwrapDataKey(ctx context.Context, t installstore.Tenant, keyID string, wrapped []byte) ([]byte, error) {
	c.unwrapped.Add(1)
	return c.KeyProvider.UnwrapDataKey(ctx, t, keyID, wrapped)
}

// secrets returns the installation's secret values by field name.
func secrets(inst *installstore.Installation) map[string]string {
	out := map[string]string{}
	_ = inst.Secrets(func(f string, s *installstore.Secret) error {
		out[f] = s.Reveal()
		return nil
	})
	return out
}

func newStore(t testing.TB, inner installstore.FullStore, keys crypto.KeyProvider, opts ...crypto.Option) *crypto.Store {
	t.Helper()
	s, err := crypto.NewStore(inner, keys, opts...)
	require.NoError(t, err)
	return s
}

var bg = context.Background()

// b64 encodes like the sealed format's key-ID field.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func fmtErr(format string, args ...any) error { return fmt.Errorf(format, args...) }
