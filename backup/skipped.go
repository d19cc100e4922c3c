package backup

import (
	"context"
	"errors"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

// countSkipped reads a listing's error: n is how many records it reports as
// skipped (each such record's error wraps installstore.ErrCorrupt or
// crypto.ErrDecrypt once), complete is true when the listing went past them
// to the end (the error holds skipped records and no transient failure or
// cancellation).
func countSkipped(err error) (n int, complete bool) {
	if err == nil {
		return 0, true
	}
	stopped := false
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if is, ok := e.(interface{ Is(error) bool }); ok && is.Is(installstore.ErrUnavailable) {
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
			if errors.Is(e, installstore.ErrCorrupt) || errors.Is(e, crypto.ErrDecrypt) {
				n++
			}
			if errors.Is(e, installstore.ErrUnavailable) || errors.Is(e, context.Canceled) || errors.Is(e, context.DeadlineExceeded) {
				stopped = true
			}
		}
	}
	walk(err)
	return n, n > 0 && !stopped
}
