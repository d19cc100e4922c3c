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
// # History
//
// When the source keeps installation history ([installstore.History], each
// backend's WithHistory option), Export writes every tenant's history
// entries too, still sealed: those listed under each tenant's latest record,
// and, for a workspace of an Enterprise Grid organization, those its Grid
// migration kept under the standalone workspace when that workspace has no
// record of its own in the same store. A source without history
// ([installstore.ErrHistoryOff]) gives a backup without entries, and no
// error. Import restores the entries with PutHistory after every record:
// on a target with history, StoreInstallation writes an entry for each
// record it restores, holding what the record holds now (the tenant's
// current bot, refreshed tokens), and the backup's entry, as it was
// installed, replaces it. A backup holding entries is refused by a target
// without history ([installstore.ErrInvalid], nothing written) unless
// [SkipHistory] drops them.
//
// # Format
//
// A backup is JSON lines, one object per line, in no particular order:
//
//		{"v":2,"kind":"record","query":{...},"installation":{...}}
//		{"v":2,"kind":"history","query":{...},"installation":{...}}
//
//	  - "v" is the format version, [FormatVersion] (2). Import also reads
//	    version 1 lines (written before history was backed up: no "kind",
//	    each a record); it refuses any other version.
//	  - "kind" is "record" — a tenant's latest installation ("query" has no
//	    UserID) or a user's ("query" names the user) — or "history", one
//	    history entry ("query" names its tenant and its user, if any).
//	  - "query" is the [installstore.Query] that fetches the record (for an
//	    entry: its tenant and user), with Go's field names (EnterpriseID,
//	    TeamID, UserID, IsEnterpriseInstall).
//	  - "installation" is the installation with snake_case fields (app_id,
//	    team_id, bot, user, incoming_webhook, installed_at, ...), its secrets
//	    as their sealed strings. Versions are not restored: the target store
//	    assigns its own.
//
// Readers must ignore fields they do not know; a line of a kind they do not
// know is invalid (a newer format), so an older Import refuses a backup it
// would not restore in full.
package backup

import (
	"errors"
	"fmt"
)

// FormatVersion is the version written on every line (see Format above).
// Version 2 added history entries; Import reads versions 1 and 2.
const FormatVersion = 2

// maxLine bounds one record's size on import.
const maxLine = 1 << 20

// maxNamed bounds how many bad lines an import error names one by one.
const maxNamed = 20

type config struct {
	plaintext   bool
	progress    func(n int)
	concurrency int
	skipHistory bool
}

// Stats counts what Export wrote or Import stored.
type Stats struct {
	// Records are tenants' latest installations and users' installations.
	Records int
	// History entries (see History above).
	History int
}

// Lines returns Records + History: the lines of the backup.
func (s Stats) Lines() int { return s.Records + s.History }

// String gives "3 records, 2 history entries".
func (s Stats) String() string {
	return fmt.Sprintf("%d %s, %d history %s", s.Records, plural(s.Records, "record"), s.History, pluralEntry(s.History))
}

// Option configures Export and Import.
type Option func(*config)

// AllowPlaintext lets Export write records whose secrets are not sealed
// (a backend used without the encryption layer). The file then holds live
// tokens: protect it accordingly.
func AllowPlaintext() Option { return func(c *config) { c.plaintext = true } }

// WithProgress calls fn after every line with the count so far (records
// and history entries): lines written by Export, stored by Import. Calls
// never overlap.
func WithProgress(fn func(n int)) Option { return func(c *config) { c.progress = fn } }

// WithConcurrency lets Import have up to n writes in flight (default 1).
// Records of different users and tenants are independent; each tenant's
// latest installation is still stored after every user installation.
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// SkipHistory makes Import drop the backup's history entries instead of
// refusing a target that keeps no history. The records are restored in
// full; the entries are counted in neither Stats field.
func SkipHistory() Option { return func(c *config) { c.skipHistory = true } }

// ErrPlaintext is returned by Export for a record holding an unsealed secret.
var ErrPlaintext = errors.New("backup: plaintext secret")

// SkippedError is returned by [Export] when it wrote every record and
// history entry but Records records and History entries that the store
// could not read (corrupt, or unreadable): those are not in the backup. Err
// is the store's report, naming each of them (tenant and user, never a
// value); SkippedError matches its classes ([installstore.ErrCorrupt], ...).
type SkippedError struct {
	Records int
	History int
	Err     error
}

func (e *SkippedError) Error() string {
	what := fmt.Sprintf("%d %s", e.Records, plural(e.Records, "record"))
	if e.History > 0 {
		what += fmt.Sprintf(" and %d history %s", e.History, pluralEntry(e.History))
	}
	return fmt.Sprintf("backup: export: %s skipped, not in the backup: %v", what, e.Err)
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

// pluralEntry returns "entry" or "entries".
func pluralEntry(n int) string {
	if n == 1 {
		return "entry"
	}
	return "entries"
}
