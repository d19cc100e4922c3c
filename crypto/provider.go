package crypto

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/installvault/installvault/installstore"
)

// KeyProvider generates and unwraps data keys for a tenant. Implementations
// bind every wrapped key to its tenant, so that a key wrapped for one tenant
// cannot be unwrapped for another, and are safe for concurrent use.
type KeyProvider interface {
	// Name identifies the provider in sealed values: 1 to 32 bytes of
	// [a-z0-9-], stable across releases ("aws-kms", "local").
	Name() string
	// GenerateDataKey returns a fresh 32-byte data key for tenant t, wrapped
	// under t's current master key. The caller wipes Plaintext when done.
	GenerateDataKey(ctx context.Context, t installstore.Tenant) (*DataKey, error)
	// UnwrapDataKey returns the plaintext of a data key that
	// GenerateDataKey wrapped for tenant t under master key keyID. It fails
	// for any other tenant, key or blob. The caller wipes the result.
	UnwrapDataKey(ctx context.Context, t installstore.Tenant, keyID string, wrapped []byte) ([]byte, error)
}

// DataKey is a data key as [KeyProvider.GenerateDataKey] returns it. It
// redacts Plaintext in fmt and log/slog output.
type DataKey struct {
	// KeyID is the master key that wrapped it (a KMS key ARN, a keyring
	// key name). It is stored, in clear, in every value the key seals.
	KeyID string
	// Wrapped is the data key encrypted under KeyID, bound to the tenant.
	Wrapped []byte
	// Plaintext is the 32-byte AES-256 key.
	Plaintext []byte `json:"-"`
}

// Format implements [fmt.Formatter]: KeyID and the wrapped key's length,
// never Plaintext.
func (k DataKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "crypto.DataKey{KeyID:%q Wrapped:%d bytes Plaintext:%s}", k.KeyID, len(k.Wrapped), installstore.Redacted)
}

// LogValue implements [slog.LogValuer] without Plaintext.
func (k DataKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_id", k.KeyID), slog.Int("wrapped_bytes", len(k.Wrapped)))
}

// wipe zeroes a key's plaintext bytes.
func wipe(b []byte) { clear(b) }
