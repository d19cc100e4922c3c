package sqlite

import (
	"context"
	"errors"
	"fmt"

	sqlite3 "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"

	"github.com/installvault/installvault/installstore"
)

// wrap names the operation and tenant of a failed database call. Errors that
// may pass (a lock still held after the busy timeout, an I/O error, a full
// disk, ...) also wrap [installstore.ErrUnavailable]. SQLite's messages name
// tables and columns, never a bound value, so no secret can appear.
func wrap(op string, t installstore.Tenant, err error) error {
	return wrapKey(op+" tenant "+t.String(), err)
}

// wrapKey is wrap for operations without a tenant (nonces, leases, listings).
func wrapKey(what string, err error) error {
	if isTransient(err) {
		return fmt.Errorf("sqlite: %s: %w: %w", what, installstore.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

// isTransient reports whether err is a SQLite failure that may pass on
// retry. Context errors are the caller's own, not the database's.
func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var e *sqlite3.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary result code of an extended one
	case sqlitelib.SQLITE_BUSY, // another connection holds the lock past busy_timeout
		sqlitelib.SQLITE_LOCKED, // a table lock within one connection's shared cache
		sqlitelib.SQLITE_IOERR,  // read, write, fsync, lock failures of the OS
		sqlitelib.SQLITE_FULL,   // the disk is full
		sqlitelib.SQLITE_NOMEM,
		sqlitelib.SQLITE_PROTOCOL: // a WAL lock race SQLite gave up on
		return true
	}
	return false
}

// corruptf returns an error wrapping [installstore.ErrCorrupt] about the
// record of q. Messages name the column, never its content.
func corruptf(op string, q installstore.Query, format string, args ...any) error {
	return fmt.Errorf("sqlite: %s %s: %w: %s", op, recordName(q), installstore.ErrCorrupt, fmt.Sprintf(format, args...))
}

// recordName names a record: "tenant E:T" or "tenant E:T user U".
func recordName(q installstore.Query) string {
	if q.UserID != "" {
		return "tenant " + q.Tenant().String() + " user " + q.UserID
	}
	return "tenant " + q.Tenant().String()
}

func notFound(op string, q installstore.Query) error {
	return fmt.Errorf("sqlite: %s %s: %w", op, recordName(q), installstore.ErrNotFound)
}
