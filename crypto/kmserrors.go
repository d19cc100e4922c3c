package crypto

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/installvault/installvault/installstore"
)

// kmsClass is what a KMS failure says about a record.
type kmsClass int

const (
	// kmsTransient: KMS did not answer (throttled, timed out, failed
	// inside, unreachable). The record may open later.
	kmsTransient kmsClass = iota
	// kmsPermanent: KMS answered, and refuses this ciphertext or key for
	// good (until an operator changes the key).
	kmsPermanent
)

// kmsErrorClasses maps KMS exception codes (smithy.APIError.ErrorCode) to
// classes, as gocloud's secrets/awskms maps them to gcerrors codes. A code
// not listed is classified by its HTTP status (5xx: transient) and otherwise
// as transient too: an answer we do not understand is no proof that the
// record can never open, and the transient class only ever delays (the
// caller retries), while the permanent one lets callers drop the record.
var kmsErrorClasses = map[string]kmsClass{
	// Permanent: the ciphertext, the key, or the caller's right to use it.
	"NotFoundException":             kmsPermanent, // no such key (deleted, wrong ARN)
	"DisabledException":             kmsPermanent, // key disabled
	"KMSInvalidStateException":      kmsPermanent, // pending deletion, pending import, ...
	"InvalidCiphertextException":    kmsPermanent, // tampered blob, wrong encryption context
	"IncorrectKeyException":         kmsPermanent, // the blob is not under the named key
	"InvalidKeyUsageException":      kmsPermanent, // not an encryption key
	"InvalidGrantTokenException":    kmsPermanent,
	"InvalidArnException":           kmsPermanent,
	"UnsupportedOperationException": kmsPermanent,
	"ValidationException":           kmsPermanent,

	// Transient: KMS did not answer; the SDK's retryer already retried.
	// AccessDeniedException is here too: the key policy or IAM refuses the
	// app's role, which an operator's fix (or a mistake undone) changes. It
	// says nothing about the record, and the permanent class would let an
	// uninstall purge without its late-event check.
	"AccessDeniedException":               kmsTransient,
	"ThrottlingException":                 kmsTransient,
	"LimitExceededException":              kmsTransient, // request quota
	"DependencyTimeoutException":          kmsTransient,
	"KMSInternalException":                kmsTransient,
	"KeyUnavailableException":             kmsTransient, // custom key store briefly unavailable
	"CustomKeyStoreInvalidStateException": kmsTransient,
	"XksProxyUriUnreachableException":     kmsTransient,
	"XksProxyInvalidResponseException":    kmsTransient,
	"RequestLimitExceeded":                kmsTransient,
	"RequestTimeout":                      kmsTransient,
	"RequestTimeoutException":             kmsTransient,
	"ServiceUnavailable":                  kmsTransient,
	"ServiceUnavailableException":         kmsTransient,
	"InternalFailure":                     kmsTransient,
	"InternalServerError":                 kmsTransient,
}

// classifyKMS returns the class of an error from the aws-sdk-go-v2 KMS
// client. Exhausted retries (retry.MaxAttemptsError) and a canceled or
// expired context are transient; otherwise KMS's exception code decides
// (kmsErrorClasses). Everything else — a lost connection, a timeout, a 5xx
// without a known code, an unknown code — is transient.
func classifyKMS(err error) kmsClass {
	var maxAttempts *retry.MaxAttemptsError
	if errors.As(err, &maxAttempts) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return kmsTransient
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if c, ok := kmsErrorClasses[apiErr.ErrorCode()]; ok {
			return c
		}
	}
	return kmsTransient
}

// kmsError wraps an error of a KMS call with its class: for Decrypt,
// [installstore.ErrUnavailable] or [ErrDecrypt]; for GenerateDataKey,
// [installstore.ErrUnavailable] when transient (the store adds [ErrSeal]).
// The caller names the tenant.
func kmsError(op, key string, err error) error {
	switch {
	case classifyKMS(err) == kmsTransient:
		return fmt.Errorf("%w: kms %s under %s: %w", installstore.ErrUnavailable, op, key, err)
	case op == "Decrypt":
		return fmt.Errorf("%w: kms %s under %s: %w", ErrDecrypt, op, key, err)
	}
	return fmt.Errorf("kms %s under %s: %w", op, key, err)
}
