package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

// count returns "1 record", "2 records": n and word, plural unless n is 1.
func count(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

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

// skippedRecords handles the error of a listing that a command went
// through: nil stays nil; records skipped (corrupt, unreadable) are printed
// to stderr with the listing's report, which names each of them (tenant
// and user, never a value), and give a failedError with their count; any
// other error (the listing stopped) is returned wrapped with what.
func skippedRecords(e *env, what string, err error) error {
	if err == nil {
		return nil
	}
	n, complete := countSkipped(err)
	if !complete {
		return fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(e.stderr, "%s: %s skipped, every other record processed:\n%v\n", what, count(n, "record"), err)
	return &failedError{msg: fmt.Sprintf("%s skipped (corrupt or unreadable)", count(n, "record"))}
}

// countCorrupt returns how many records err reports as corrupt (each such
// record's error wraps installstore.ErrCorrupt once).
func countCorrupt(err error) int {
	n := 0
	var walk func(error)
	walk = func(e error) {
		switch u := e.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			if errors.Is(e, installstore.ErrCorrupt) {
				n++
			}
		}
	}
	walk(err)
	return n
}
