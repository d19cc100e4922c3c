package installstore

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
