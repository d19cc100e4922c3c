package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// parseLocalKeys parses a development keyring, "name=base64key,name2=base64key"
// (standard or URL base64, padded or not). Errors name a key, never its value.
func parseLocalKeys(s string) (map[string][]byte, error) {
	keys := make(map[string][]byte)
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, value, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		// A bare base64 key splits at its '=' padding: the "name" is then key
		// material, so only a name of the expected shape is ever echoed.
		if !ok || !validKeyName(name) {
			return nil, fmt.Errorf("entry %d is not name=base64key with a name of 1 to 64 letters, digits, '_', '-'", i+1)
		}
		if strings.TrimSpace(value) == "" {
			return nil, fmt.Errorf("entry %d (key %q): no key after '='", i+1, name)
		}
		if _, dup := keys[name]; dup {
			return nil, fmt.Errorf("key %q given twice", name)
		}
		b, err := decodeKey(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", name, err)
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("key %q: %d bytes, want 32", name, len(b))
		}
		keys[name] = b
	}
	return keys, nil
}

// validKeyName accepts 1 to 64 letters, digits, '_' and '-'.
func validKeyName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func decodeKey(v string) ([]byte, error) {
	if strings.ContainsAny(v, "\r\n") {
		return nil, errors.New("not base64")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}
