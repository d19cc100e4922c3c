package crypto

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/installvault/installvault/installstore"
)

// localProviderName is the local keyring's name in sealed values.
const localProviderName = "local"

// localWrapLabel starts the associated data of a keyring-wrapped data key.
const localWrapLabel = "installvault/local-keyring/1"

// localKeyring wraps data keys with AES-256-GCM under named master keys.
type localKeyring struct {
	primary string
	keys    map[string]cipher.AEAD
}

// NewLocalKeyring returns a [KeyProvider] for development and tests that
// wraps data keys with named 32-byte master keys held in memory: primary
// wraps new data keys, every key in keys can unwrap (rotation: add a new
// primary, run [Rewrap], then drop the old key). Wrapped keys are bound to
// their tenant and key name. The keys are copied; the caller may wipe its
// map. Use KMS in production: a keyring is only as safe as the process
// memory and configuration that hold it.
func NewLocalKeyring(keys map[string][]byte, primary string) (KeyProvider, error) {
	if _, ok := keys[primary]; !ok {
		return nil, fmt.Errorf("crypto: local keyring: %w: primary key %q is not in the keyring", installstore.ErrInvalid, primary)
	}
	k := &localKeyring{primary: primary, keys: make(map[string]cipher.AEAD, len(keys))}
	for name, key := range keys {
		if name == "" || len(name) > maxKeyIDLen {
			return nil, fmt.Errorf("crypto: local keyring: %w: key names must have 1 to %d bytes", installstore.ErrInvalid, maxKeyIDLen)
		}
		if len(key) != dataKeySize {
			return nil, fmt.Errorf("crypto: local keyring: %w: key %q has %d bytes, want %d", installstore.ErrInvalid, name, len(key), dataKeySize)
		}
		if allZero(key) {
			return nil, fmt.Errorf("crypto: local keyring: %w: key %q is all zero bytes: make one with openssl rand -base64 32", installstore.ErrInvalid, name)
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("crypto: local keyring: key %q: %w", name, err)
		}
		k.keys[name] = aead
	}
	return k, nil
}

// Name implements [KeyProvider].
func (k *localKeyring) Name() string { return localProviderName }

// GenerateDataKey implements [KeyProvider].
func (k *localKeyring) GenerateDataKey(ctx context.Context, t installstore.Tenant) (*DataKey, error) {
	return k.GenerateAppDataKey(ctx, t, "")
}

// UnwrapDataKey implements [KeyProvider].
func (k *localKeyring) UnwrapDataKey(ctx context.Context, t installstore.Tenant, keyID string, wrapped []byte) ([]byte, error) {
	return k.UnwrapAppDataKey(ctx, t, "", keyID, wrapped)
}

// GenerateAppDataKey implements [AppKeyProvider]: the wrapped key's
// associated data also names the app.
func (k *localKeyring) GenerateAppDataKey(_ context.Context, t installstore.Tenant, clientID string) (*DataKey, error) {
	pt := make([]byte, dataKeySize)
	_, _ = rand.Read(pt) // never fails (crypto/rand crashes the program instead)
	aead := k.keys[k.primary]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+dataKeySize+aead.Overhead())
	_, _ = rand.Read(nonce)
	wrapped := aead.Seal(nonce, nonce, pt, localWrapAAD(k.primary, t, clientID))
	return &DataKey{KeyID: k.primary, Wrapped: wrapped, Plaintext: NewKeyMaterial(pt)}, nil
}

// UnwrapAppDataKey implements [AppKeyProvider].
func (k *localKeyring) UnwrapAppDataKey(_ context.Context, t installstore.Tenant, clientID, keyID string, wrapped []byte) ([]byte, error) {
	aead, ok := k.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("crypto: local keyring: no key named %q, which sealed this value (add it to the keyring until Rewrap has moved every record to the primary)", keyID)
	}
	if len(wrapped) != aead.NonceSize()+dataKeySize+aead.Overhead() {
		return nil, fmt.Errorf("crypto: local keyring: the data key wrapped under %q has %d bytes, not %d", keyID, len(wrapped), aead.NonceSize()+dataKeySize+aead.Overhead())
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, wrapped[:n], wrapped[n:], localWrapAAD(keyID, t, clientID))
	if err != nil {
		return nil, fmt.Errorf("crypto: local keyring: key %q did not open the data key: the keyring's key of that name has other bytes than the one that sealed it, or the value was moved from another tenant", keyID)
	}
	return pt, nil
}

// localWrapAAD binds a wrapped data key to its master key and tenant, and
// to the app when clientID is set (nothing is added without one, so keys
// wrapped before apps were bound still open).
func localWrapAAD(keyID string, t installstore.Tenant, clientID string) []byte {
	b := make([]byte, 0, len(localWrapLabel)+len(keyID)+len(t.EnterpriseID)+len(t.TeamID)+len(clientID)+10)
	for _, s := range []string{localWrapLabel, keyID, t.EnterpriseID, t.TeamID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if clientID != "" {
		b = binary.AppendUvarint(b, uint64(len(clientID)))
		b = append(b, clientID...)
	}
	return b
}

// newAEAD returns AES-256-GCM under key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

var _ AppKeyProvider = (*localKeyring)(nil)
