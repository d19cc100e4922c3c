package installstore

import "fmt"

// Unwrapper is implemented by layers: Unwrap returns the stores directly
// below (one for a layer, one per region for a router). Whole-stack
// operations (key rotation, backup, order checks) walk a stack through it,
// as net/http's ResponseController walks ResponseWriters; a backend does not
// implement it.
type Unwrapper interface {
	Unwrap() []FullStore
}

// Walk calls fn for s and every store below it, depth first, top to bottom,
// following [Unwrapper]. fn returning false stops the walk below that store.
func Walk(s FullStore, fn func(FullStore) bool) {
	if s == nil || !fn(s) {
		return
	}
	if u, ok := s.(Unwrapper); ok {
		for _, inner := range u.Unwrap() {
			Walk(inner, fn)
		}
	}
}

// CheckAppScope reports whether the app with clientID may use s: every
// [AppScoped] store in s's stack (found with [Walk]) must be unscoped or
// scoped to clientID, else [ErrInvalid] naming both. The refresher and the
// OAuth handler check it at construction, so an app never reads, refreshes
// or installs into another app's records.
func CheckAppScope(s FullStore, clientID string) error {
	var other string
	Walk(s, func(x FullStore) bool {
		if a, ok := x.(AppScoped); ok && other == "" {
			if id := a.ClientID(); id != "" && id != clientID {
				other = id
			}
		}
		return other == ""
	})
	if other != "" {
		return fmt.Errorf("%w: the store is scoped to the Slack app with client ID %s, not to this app's %s: build the store with WithClientID(%q)",
			ErrInvalid, other, clientID, clientID)
	}
	return nil
}
