package installstore

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Redacted is what a non-empty [Secret] prints as, in every format.
const Redacted = "[REDACTED]"

// Secret holds a credential: an access token, a refresh token, an incoming
// webhook URL, a client or signing secret.
//
// A Secret redacts itself wherever it could leak by accident: fmt (every verb,
// including %#v and %x), [Secret.String], [Secret.GoString], encoding/json,
// encoding.TextMarshaler users and log/slog all see [Redacted] (or "" for an
// empty Secret, so that absence stays visible). The only way to the value is
// [Secret.Reveal], which makes every use greppable.
//
// Unmarshalling from JSON or text is deliberately not redacted: a Secret can be
// read from a config file, but never written back out. encoding/xml and
// text/template print it redacted (through MarshalText and fmt); encoding/gob
// refuses it.
//
// Two holes are fmt's and cannot be closed by a method: a Secret in an
// unexported field of your own struct, and a value printed after a bad verb
// (fmt.Printf("%p", tok), or fmt.Errorf("save: %w", inst) with inst not an
// error: go vet reports this one), print raw, because fmt skips methods
// there. Keep Secrets in exported fields and run go vet.
type Secret string

// Reveal returns the secret value. Call it only where the value leaves for
// its one legitimate use: an HTTP header to Slack, a cipher, a sealed record.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

func (s Secret) redacted() string {
	if s == "" {
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

// UnmarshalText reads a secret from text, for configuration files. It
// refuses the redaction marker, so a redacted dump can never be loaded back
// as if it were the credential.
func (s *Secret) UnmarshalText(b []byte) error {
	if string(b) == Redacted {
		return fmt.Errorf("installstore: refusing to load the redaction marker %q as a secret", Redacted)
	}
	*s = Secret(b)
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
func (s Secret) IsSealed() bool { return strings.HasPrefix(string(s), SealedPrefix) }
