package crypto

import (
	"errors"
	"fmt"

	"github.com/installvault/installvault/installstore"
)

// ErrDecrypt is wrapped by every error for a record that cannot be opened:
// wrong tenant or field, tampered or truncated value, unknown key, revoked or
// disabled KMS key, KMS unavailable, or a secret that is not sealed. Test it
// with [errors.Is]; the underlying cause (for example a KMS error type) is
// wrapped too.
var ErrDecrypt = errors.New("cannot decrypt")

// decryptError returns an error wrapping ErrDecrypt and, when non-nil, cause.
// It names the field and tenant, never a value.
func decryptError(t installstore.Tenant, field string, cause error) error {
	if cause == nil {
		return fmt.Errorf("crypto: open %s of tenant %s: %w", field, t, ErrDecrypt)
	}
	return fmt.Errorf("crypto: open %s of tenant %s: %w: %w", field, t, ErrDecrypt, cause)
}
