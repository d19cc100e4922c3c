package crypto

import (
	"context"
	"errors"
	"fmt"

	"github.com/installvault/installvault/installstore"
)

// Error classes. Every error of the layer matches at most one of
// [installstore.ErrUnavailable] (transient: retry) and [ErrDecrypt]
// (permanent for the record), and every path (fetch, list, update, rewrap)
// keeps the class. The inner store's own errors ([installstore.ErrNotFound],
// [installstore.ErrCorrupt], [installstore.ErrUnavailable], ...) pass
// through with theirs.
var (
	// ErrDecrypt is wrapped by every error for a record that cannot be
	// opened: authentication failed (tampered or truncated value, moved to
	// another tenant, user or field), a secret that is not sealed or is
	// malformed, a key the provider does not have or refuses for good (KMS
	// NotFoundException, DisabledException, KMSInvalidStateException such
	// as pending deletion, InvalidCiphertextException,
	// IncorrectKeyException; a keyring without the key). Retrying does not
	// help. It never matches [installstore.ErrUnavailable]: when KMS does
	// not answer (throttling, timeouts, 5xx, lost connections) or refuses
	// the app's role (AccessDeniedException: IAM or the key policy, which an
	// operator fixes) the error wraps that instead, and
	// the record may open later. The underlying cause (for example a KMS
	// error type) is wrapped too.
	ErrDecrypt = errors.New("cannot decrypt")
	// ErrSeal is wrapped by every error of a write that could not seal its
	// secrets because the key provider failed (KMS GenerateDataKey). Nothing
	// was written. When the failure is transient the error also matches
	// [installstore.ErrUnavailable]; otherwise (a disabled or missing key,
	// access denied) retrying does not help until the key is fixed.
	ErrSeal = errors.New("cannot seal")
)

// openClass returns cause annotated with its class for an open: cause itself
// when it already matches installstore.ErrUnavailable or ErrDecrypt, a
// wrapping of installstore.ErrUnavailable for a canceled or expired context
// (nothing was learned about the record), and a wrapping of ErrDecrypt for
// anything else (the record did not open).
func openClass(cause error) error {
	switch {
	case errors.Is(cause, installstore.ErrUnavailable), errors.Is(cause, ErrDecrypt):
		return cause
	case errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", installstore.ErrUnavailable, cause)
	}
	return fmt.Errorf("%w: %w", ErrDecrypt, cause)
}

// errV1Unbound is the cause of a format 1 value met by an app-scoped layer.
var errV1Unbound = errors.New("a format 1 value, which binds no app, in a store scoped to one app")

// decryptError returns an error for a field that did not open, naming the
// field and tenant (never a value), of cause's class (see openClass); a
// nil cause is ErrDecrypt.
func decryptError(t installstore.Tenant, field string, cause error) error {
	if cause == nil {
		return fmt.Errorf("crypto: open %s of tenant %s: %w", field, t, ErrDecrypt)
	}
	return fmt.Errorf("crypto: open %s of tenant %s: %w", field, t, openClass(cause))
}

// sealError returns an error for a data key that could not be generated:
// ErrSeal, and installstore.ErrUnavailable when cause is transient. It never
// matches ErrDecrypt.
func sealError(t installstore.Tenant, cause error) error {
	transient := errors.Is(cause, installstore.ErrUnavailable) ||
		errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded)
	if transient && !errors.Is(cause, installstore.ErrUnavailable) {
		return fmt.Errorf("crypto: seal tenant %s: %w: %w: %w", t, ErrSeal, installstore.ErrUnavailable, cause)
	}
	return fmt.Errorf("crypto: seal tenant %s: %w: %w", t, ErrSeal, cause)
}
