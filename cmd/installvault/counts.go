package main

import (
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

// countSkipped is installstore.CountSkipped for the CLI's stacks: records
// skipped as corrupt or as not opening.
func countSkipped(err error) (n int, complete bool) {
	return installstore.CountSkipped(err, installstore.ErrCorrupt, crypto.ErrDecrypt)
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
