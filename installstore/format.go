package installstore

import "fmt"

// fmt skips a value's methods in two places: unexported struct fields, and
// the fallback it prints after a bad verb (such as %s on a pointer), where it
// dereferences and prints the fields. Giving every type that holds a Secret
// its own Format makes fmt always call Format, which prints a method-less
// copy whose Secret fields redact themselves.
//
// Where fmt still calls no method (a bad verb on the Installation itself, as
// in fmt.Errorf("save: %w", inst), or an Installation in an unexported field
// of the caller's own struct), a Secret prints as a pointer address: its
// value sits behind an unexported pointer (see [Secret]).

type (
	installationFmt    Installation
	botFmt             Bot
	userFmt            User
	incomingWebhookFmt IncomingWebhook
)

// Format implements [fmt.Formatter]: the usual struct output, with secrets redacted.
func (i Installation) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), installationFmt(i))
}

// Format implements [fmt.Formatter]: the usual struct output, with secrets redacted.
func (b Bot) Format(f fmt.State, verb rune) { fmt.Fprintf(f, fmt.FormatString(f, verb), botFmt(b)) }

// Format implements [fmt.Formatter]: the usual struct output, with secrets redacted.
func (u User) Format(f fmt.State, verb rune) { fmt.Fprintf(f, fmt.FormatString(f, verb), userFmt(u)) }

// Format implements [fmt.Formatter]: the usual struct output, with secrets redacted.
func (w IncomingWebhook) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), incomingWebhookFmt(w))
}
