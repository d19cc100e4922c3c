package installstore

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Redacted is what a non-empty [Secret] prints as, in every format.
const Redacted = "[REDACTED]"

// Secret holds a credential: an access token, a refresh token, an incoming
// webhook URL, a client or signing secret. Build one with [NewSecret]; the
// zero Secret is empty.
//
// A Secret is opaque: its value sits behind an unexported pointer, so the
// only way to it is [Secret.Reveal], which makes every use greppable (there
// is no string(tok) conversion). Wherever it could leak by accident it
// redacts itself: fmt (every verb, including %#v, %x and %d),
// [Secret.String], [Secret.GoString], encoding/json, encoding.TextMarshaler
// users (encoding/xml), text/template and log/slog all see [Redacted] (or ""
// for an empty Secret, so that absence stays visible); encoding/gob refuses
// it.
//
// The places where fmt calls no method print a pointer address, never the
// value: a bad verb (fmt.Printf("%p", tok), or fmt.Errorf("save: %w", inst)
// with inst not an error), and a Secret in an unexported field of the
// caller's own struct.
//
// Secrets are not comparable: a == b does not compile (a pointer comparison
// would be silently wrong), and a Secret cannot be a map key. Compare with
// [Secret.Equal], which runs in constant time.
//
// Unmarshalling from JSON or text is deliberately not redacted: a Secret can
// be read from a config file (as a JSON string, through
// [Secret.UnmarshalText]), but never written back out.
type Secret struct {
	// First: a trailing zero-size field would pad the struct to two words.
	_ [0]func() // not comparable: use Equal
	// A pointer to the value (not to its bytes: reflect.DeepEqual, which
	// testify's Equal uses, then compares whole values).
	v *string
}

// NewSecret returns a Secret holding s. NewSecret("") is the zero
// (empty) Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{v: &s}
}

// SetSecrets sets *dst[i] to NewSecret(vals[i]) for every i, with one
// allocation for all of them instead of one each: for a decoder that
// produces a record's secrets together (package crypto opens a record's
// secrets this way). It panics if the lengths differ.
func SetSecrets(dst []*Secret, vals []string) {
	if len(dst) != len(vals) {
		panic("installstore: SetSecrets: lengths differ")
	}
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	box := make([]string, 0, n)
	for i, v := range vals {
		if v == "" {
			*dst[i] = Secret{}
			continue
		}
		box = append(box, v)
		*dst[i] = Secret{v: &box[len(box)-1]}
	}
}

// Reveal returns the secret value. Call it only where the value leaves for
// its one legitimate use: an HTTP header to Slack, a cipher, a sealed record.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// Equal reports whether s and o hold the same value, in time that depends
// only on the lengths of the values (crypto/subtle), never on where they
// first differ. Two empty Secrets are equal.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(o.Reveal())) == 1
}

func (s Secret) redacted() string {
	if s.IsZero() {
		return ""
	}
	return Redacted
}

// String returns [Redacted], or "" for an empty Secret.
func (s Secret) String() string { return s.redacted() }

// GoString returns the redacted value quoted, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.redacted()) }

// Format implements [fmt.Formatter] so that every verb (%v %s %q %x %X %#v
// and any other) prints the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q' || (verb == 'v' && f.Flag('#')):
		_, _ = f.Write([]byte(strconv.Quote(s.redacted())))
	default:
		_, _ = f.Write([]byte(s.redacted()))
	}
}

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.redacted())), nil }

// MarshalText encodes the redacted form (used by encoding/xml, flag printers
// and slog's text handler for map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// UnmarshalText reads a secret from text, for configuration files (it is
// also what encoding/json uses for a quoted string). It refuses the
// redaction marker, so a redacted dump can never be loaded back as if it
// were the credential.
func (s *Secret) UnmarshalText(b []byte) error {
	if string(b) == Redacted {
		return fmt.Errorf("installstore: refusing to load the redaction marker %q as a secret", Redacted)
	}
	*s = NewSecret(string(b))
	return nil
}

// GobEncode refuses: encoding/gob would otherwise write the raw value, so
// an Installation never leaves a process through gob.
func (s Secret) GobEncode() ([]byte, error) {
	return nil, errors.New("installstore: a Secret is never gob-encoded; send what it is for (Reveal), not the Secret")
}

// LogValue implements [slog.LogValuer].
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// SealedPrefix begins every Secret sealed by package crypto (the rest of the
// format is crypto's). Backends that refuse to persist plaintext check it
// with [Secret.IsSealed]; it says nothing about whether the value opens.
const SealedPrefix = "ivsealed:"

// IsSealed reports whether the secret is in sealed form (starts with
// [SealedPrefix]).
func (s Secret) IsSealed() bool { return strings.HasPrefix(s.Reveal(), SealedPrefix) }
