package crypto

import (
	"fmt"
	"strings"

	"github.com/installvault/installvault/installstore"
)

// SealedKey returns the provider name ("aws-kms", "local") and the master key
// ID (a KMS key ARN, a keyring key name) recorded in clear in a sealed value,
// without opening it: no key is needed and nothing secret is returned. Operator
// tools use it to show which key protects each record (for example to check
// that a rotation finished).
//
// s may be a value of either format, or a format 2 marker (the value of a
// group's second field, which names the key of the group's sealed value).
// It fails, with an error that never quotes the value, when s is not a
// well-formed sealed value. Success says nothing about whether s opens.
func SealedKey(s installstore.Secret) (provider, keyID string, err error) {
	p, err := parseSealed(s.Reveal())
	if err != nil {
		return "", "", fmt.Errorf("crypto: inspect sealed value: %w", err)
	}
	// encoding/base64 skips '\r' and '\n' even in strict mode: refuse them,
	// so that a key ID is shown only as exactly stored.
	if strings.ContainsAny(p.keyID, "\r\n") {
		return "", "", fmt.Errorf("crypto: inspect sealed value: key ID: %w: bad base64", errMalformed)
	}
	id, err := decodeField(p.keyID)
	if err != nil || len(id) == 0 {
		return "", "", fmt.Errorf("crypto: inspect sealed value: key ID: %w", errMalformed)
	}
	return p.provider, string(id), nil
}
