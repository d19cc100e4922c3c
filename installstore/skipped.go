package installstore

import (
	"context"
	"errors"
)

// CountSkipped reads the error of a listing ([Lister.ListInstallations], or
// a layer's): n is how many records it reports as skipped — each skipped
// record's error wraps one of classes once (default [ErrCorrupt]; the
// encryption layer's listings also report crypto.ErrDecrypt) — and complete
// is true when the listing went past them to its end: the error holds
// skipped records and no transient failure ([ErrUnavailable]) or
// cancellation. A nil error is complete with nothing skipped.
func CountSkipped(err error, classes ...error) (n int, complete bool) {
	if err == nil {
		return 0, true
	}
	if len(classes) == 0 {
		classes = []error{ErrCorrupt}
	}
	stopped := false
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if is, ok := e.(interface{ Is(error) bool }); ok && is.Is(ErrUnavailable) {
			stopped = true
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			for _, c := range classes {
				if errors.Is(e, c) {
					n++
				}
			}
			if errors.Is(e, ErrUnavailable) || errors.Is(e, context.Canceled) || errors.Is(e, context.DeadlineExceeded) {
				stopped = true
			}
		}
	}
	walk(err)
	return n, n > 0 && !stopped
}
