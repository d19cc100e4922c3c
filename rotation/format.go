package rotation

import (
	"fmt"
	"log/slog"
)

// Format implements [fmt.Formatter]. fmt does not call the methods of
// unexported fields, so without it %v would print the client secret as a
// pointer address and every internal field; every verb prints the client ID
// and the API URL, never a credential.
func (r *Refresher) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "rotation.Refresher{clientID: %s, apiURL: %s}", r.clientID, r.apiURL)
}

// String returns what Format prints. text/template prints a pointer's
// value unless the pointer is a Stringer, so without it {{.}} of a
// *Refresher would print the client secret raw.
func (r *Refresher) String() string { return fmt.Sprint(r) }

// LogValue implements [slog.LogValuer], with the same fields as Format.
func (r *Refresher) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", r.clientID), slog.String("api_url", r.apiURL))
}
