package installstore

import "fmt"

// fmt skips a value's methods in two places: unexported struct fields, and
// the fallback it prints after a bad verb (such as %s on a pointer), where it
// dereferences and prints raw. Giving every type that holds a Secret its own
// Format closes the second hole: fmt then always calls Format, which prints
// a method-less copy whose Secret fields redact themselves.
//
// The first hole cannot be closed from here: a Secret in an unexported field
// of the caller's own struct prints raw. Keep Secrets in exported fields, or
// never print such structs.

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
