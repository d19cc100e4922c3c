package crypto

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"

	"github.com/installvault/installvault/installstore"
)

// DefaultLocalKeyName is the name [ParseLocalKeys] gives the key of a
// bare-key spec (a key without "name=").
const DefaultLocalKeyName = "default"

// maxLocalKeyNameLen bounds a keyring key name in a spec.
const maxLocalKeyNameLen = 64

// ParseLocalKeys parses a local keyring spec, the one format of
// INSTALLVAULT_LOCAL_KEYS (the installvault CLI and the example app):
//
//	name=KEY[,name2=KEY2 ...]    named keys, separated by ',' or white space
//	KEY                          one bare key, named [DefaultLocalKeyName]
//
// A name is 1 to 64 letters, digits, '_', '-' and '.'; an entry is split at
// its first '='. KEY is 32 bytes in base64 (standard or URL-safe, padded or
// not: `openssl rand -base64 32`) or in hex (`openssl rand -hex 32`). An
// all-zero key is refused. primary is the name of the only key when there is
// one, "" when there are several (the caller names it).
//
// Errors wrap [installstore.ErrInvalid] and name the entry by its position
// ("entry 2: ..."), never quoting any part of spec: a spec may hold a key
// where a name was expected. The returned key slices are the caller's to
// wipe (see [ParseLocalKeyring], which does).
func ParseLocalKeys(spec string) (keys map[string][]byte, primary string, err error) {
	entries := strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(entries) == 0 {
		return nil, "", localKeysError("no keys (want name=base64key, or one bare base64 key)")
	}
	fail := func(format string, args ...any) (map[string][]byte, string, error) {
		for _, k := range keys {
			wipe(k)
		}
		return nil, "", localKeysError(format, args...)
	}
	keys = make(map[string][]byte, len(entries))
	for i, entry := range entries {
		n := i + 1
		name, value, named := strings.Cut(entry, "=")
		// A padded bare key ("...=") splits at its padding: the "value"
		// is then only more padding.
		if named && strings.Trim(value, "=") == "" {
			named = false
		}
		if !named {
			if len(entries) > 1 {
				return fail("entry %d: no name (with several keys, give each as name=base64key)", n)
			}
			name, value = DefaultLocalKeyName, entry
		}
		if !validLocalKeyName(name) {
			return fail("entry %d: the name before '=' is not 1 to %d letters, digits, '_', '-', '.'", n, maxLocalKeyNameLen)
		}
		if _, dup := keys[name]; dup {
			return fail("entry %d: the same name as an earlier entry", n)
		}
		key, ok := decodeLocalKey(value)
		if !ok {
			return fail("entry %d: not 32 bytes of base64 or hex", n)
		}
		if allZero(key) {
			return fail("entry %d: an all-zero key (make one with: openssl rand -base64 32)", n)
		}
		keys[name] = key
	}
	if len(keys) == 1 {
		for name := range keys {
			primary = name
		}
	}
	return keys, primary, nil
}

// ParseLocalKeyring parses spec with [ParseLocalKeys] and returns the
// keyring ([NewLocalKeyring]) whose primary is primary, or, when primary is
// "", the only key of spec. It wipes the parsed key bytes. Errors never
// quote spec or primary.
func ParseLocalKeyring(spec, primary string) (KeyProvider, error) {
	keys, only, err := ParseLocalKeys(spec)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, k := range keys {
			wipe(k)
		}
	}()
	if primary == "" {
		primary = only
	}
	if primary == "" {
		return nil, localKeysError("%d keys and no primary: name the key that seals new data keys", len(keys))
	}
	if _, ok := keys[primary]; !ok {
		return nil, localKeysError("the primary key's name is not one of the %d names in the spec", len(keys))
	}
	return NewLocalKeyring(keys, primary)
}

func localKeysError(format string, args ...any) error {
	return fmt.Errorf("crypto: local keys: %w: %s", installstore.ErrInvalid, fmt.Sprintf(format, args...))
}

// validLocalKeyName accepts 1 to 64 letters, digits, '_', '-' and '.'.
func validLocalKeyName(n string) bool {
	if n == "" || len(n) > maxLocalKeyNameLen {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// decodeLocalKey decodes 32 bytes of hex or base64 (standard or URL-safe,
// padded or not).
func decodeLocalKey(v string) ([]byte, bool) {
	if len(v) == 2*dataKeySize {
		if b, err := hex.DecodeString(v); err == nil {
			return b, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if enc.DecodedLen(len(v)) < dataKeySize || enc.DecodedLen(len(v)) > dataKeySize+2 {
			continue
		}
		b, err := enc.Strict().DecodeString(v)
		if err == nil && len(b) == dataKeySize {
			return b, true
		}
		wipe(b)
	}
	return nil, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
