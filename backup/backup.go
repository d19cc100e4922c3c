// Package backup exports installations as JSON lines and imports them back,
// losslessly, idempotently and with bounded memory.
//
// # Where it goes
//
// The layers stack in one order (README's diagram):
//
//	oauth.Handler → rotation.Refresher → audit / metrics → crypto → residency or backend
//
// A backup holds sealed records only, so it is made and restored below the
// encryption layer:
//
//   - [Export] takes any stack and reads below its encryption layers (found
//     with [installstore.Walk]): from the store each crypto.Store wraps, and
//     from every region of a residency router, sealed or not. Records leave
//     sealed: a backup file holds no plaintext token, and restoring it needs
//     the same keys. Export refuses a record holding a plaintext secret
//     unless [AllowPlaintext] is given.
//   - [Import] refuses a target that holds an encryption layer
//     ([installstore.ErrInvalid]): it would seal the sealed values again.
//     Restore to the backend below it (or to a residency router over the
//     regions' backends).
//
// # Nothing lost
//
// Export goes past a record the backend cannot decode
// ([installstore.ErrCorrupt]): it writes every other record, and returns a
// [*SkippedError] counting and naming the records that are not in the
// backup. Import validates the whole input before its first write: an empty
// input, or any line that is not a valid record, fails the import with
// every bad line named and nothing written; it also reads the target once
// first, so a missing table fails before anything is written. Importing a
// file again leaves the same contents, so an interrupted import is resumed
// by running it again.
//
// Each line is one record: the [installstore.Query] that fetches it and the
// installation, with secrets as their (sealed) strings. Versions are not
// restored: the target store assigns its own.
package backup

import (
	"errors"
	"fmt"
)

// FormatVersion is the version written in every record.
const FormatVersion = 1

// maxLine bounds one record's size on import.
const maxLine = 1 << 20

// maxNamed bounds how many bad lines an import error names one by one.
const maxNamed = 20

type config struct {
	plaintext   bool
	progress    func(n int)
	concurrency int
}

// Option configures Export and Import.
type Option func(*config)

// AllowPlaintext lets Export write records whose secrets are not sealed
// (a backend used without the encryption layer). The file then holds live
// tokens: protect it accordingly.
func AllowPlaintext() Option { return func(c *config) { c.plaintext = true } }

// WithProgress calls fn after every record with the count so far: records
// written by Export, records stored by Import. Calls never overlap.
func WithProgress(fn func(n int)) Option { return func(c *config) { c.progress = fn } }

// WithConcurrency lets Import have up to n writes in flight (default 1).
// Records of different users and tenants are independent; each tenant's
// latest installation is still stored after every user installation.
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// ErrPlaintext is returned by Export for a record holding an unsealed secret.
var ErrPlaintext = errors.New("backup: plaintext secret")

// SkippedError is returned by [Export] when it wrote every record but
// Records records the store could not read (corrupt, or unreadable): those
// are not in the backup. Err is the store's report, naming each of them;
// SkippedError matches its classes ([installstore.ErrCorrupt], ...).
type SkippedError struct {
	Records int
	Err     error
}

func (e *SkippedError) Error() string {
	return fmt.Sprintf("backup: export: %d %s skipped, not in the backup: %v", e.Records, plural(e.Records, "record"), e.Err)
}

// Unwrap returns the store's report.
func (e *SkippedError) Unwrap() error { return e.Err }

// plural returns word, with an "s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
