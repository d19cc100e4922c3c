package crypto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

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

// AppKeyProvider is a [KeyProvider] that also binds a data key to the Slack
// app (its client ID) sealing with it, for stores shared by several apps
// ([installstore.AppScoped]): a key wrapped for one app cannot be unwrapped
// for another, even for the same tenant and master key. With an empty
// clientID each method is exactly its KeyProvider counterpart. A [Store]
// over an app-scoped backend needs one ([NewStore]); the built-in
// providers ([NewKMS], [NewLocalKeyring]) are.
type AppKeyProvider interface {
	KeyProvider
	// GenerateAppDataKey is GenerateDataKey, the key also bound to clientID.
	GenerateAppDataKey(ctx context.Context, t installstore.Tenant, clientID string) (*DataKey, error)
	// UnwrapAppDataKey is UnwrapDataKey for a key GenerateAppDataKey
	// wrapped for clientID; it fails for any other client ID.
	UnwrapAppDataKey(ctx context.Context, t installstore.Tenant, clientID, keyID string, wrapped []byte) ([]byte, error)
}

// DataKey is a data key as [KeyProvider.GenerateDataKey] returns it. It is
// opaque to every encoder that could print it by accident: fmt (every verb,
// and the fallback after a bad verb such as %w on a non-error, which prints
// an address), log/slog, text/template and html/template show KeyID and the
// wrapped key's length only, encoding/json, encoding/xml and
// encoding.TextMarshaler users see Plaintext as [installstore.Redacted], and
// encoding/gob refuses it.
type DataKey struct {
	// KeyID is the master key that wrapped it (a KMS key ARN, a keyring
	// key name). It is stored, in clear, in every value the key seals.
	KeyID string
	// Wrapped is the data key encrypted under KeyID, bound to the tenant.
	Wrapped []byte
	// Plaintext is the 32-byte AES-256 key ([NewKeyMaterial]).
	Plaintext KeyMaterial `json:"-"`
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

// GobEncode implements [encoding/gob.GobEncoder] by refusing: a data key is
// never serialized.
func (DataKey) GobEncode() ([]byte, error) { return nil, errNotSerializable }

// KeyMaterial holds plaintext key bytes behind a pointer, so that nothing
// prints them by accident: fmt (every verb; after a bad verb fmt prints the
// pointer's address), log/slog, JSON, XML and other text encoders and
// templates see [installstore.Redacted], and gob refuses it. The bytes are
// reached only through [KeyMaterial.Bytes], where the key is used.
type KeyMaterial struct {
	b *[]byte
}

// NewKeyMaterial returns key material holding b (not a copy: wipe b through
// [KeyMaterial.Wipe] when done).
func NewKeyMaterial(b []byte) KeyMaterial { return KeyMaterial{b: &b} }

// Bytes returns the key bytes (nil for the zero KeyMaterial).
func (m KeyMaterial) Bytes() []byte {
	if m.b == nil {
		return nil
	}
	return *m.b
}

// Len returns the number of key bytes.
func (m KeyMaterial) Len() int { return len(m.Bytes()) }

// Wipe zeroes the key bytes.
func (m KeyMaterial) Wipe() { wipe(m.Bytes()) }

var errNotSerializable = errors.New("crypto: key material is never serialized")

func (m KeyMaterial) redacted() string {
	if m.Len() == 0 {
		return ""
	}
	return installstore.Redacted
}

// String returns [installstore.Redacted] ("" when empty).
func (m KeyMaterial) String() string { return m.redacted() }

// GoString returns the redacted form, quoted, for %#v.
func (m KeyMaterial) GoString() string { return strconv.Quote(m.redacted()) }

// Format implements [fmt.Formatter]: every verb prints the redacted form.
func (m KeyMaterial) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		_, _ = f.Write([]byte(strconv.Quote(m.redacted())))
		return
	}
	_, _ = f.Write([]byte(m.redacted()))
}

// MarshalJSON encodes the redacted form.
func (m KeyMaterial) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(m.redacted())), nil }

// MarshalText encodes the redacted form (encoding/xml and other text encoders).
func (m KeyMaterial) MarshalText() ([]byte, error) { return []byte(m.redacted()), nil }

// GobEncode implements [encoding/gob.GobEncoder] by refusing.
func (KeyMaterial) GobEncode() ([]byte, error) { return nil, errNotSerializable }

// LogValue implements [slog.LogValuer].
func (m KeyMaterial) LogValue() slog.Value { return slog.StringValue(m.redacted()) }

// wipe zeroes a key's plaintext bytes.
func wipe(b []byte) { clear(b) }
