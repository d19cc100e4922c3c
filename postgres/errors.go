package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/installvault/installvault/installstore"
)

// maxAttempts bounds how often an operation is tried when it failed in a
// way that certainly changed nothing (a serialization failure, a deadlock, a
// lost connection before the request was sent).
const maxAttempts = 4

// retryable reports whether err certainly left the database unchanged and
// the same call may be sent again at once: PostgreSQL rolled the
// transaction back (serialization failure, deadlock, lock timeout), or the
// request never left the client.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01", "55P03":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &ce)
}

// backoff waits before attempt (1, 2, ...): 5 ms doubling, with jitter.
func backoff(ctx context.Context, attempt int) error {
	d := 5 * time.Millisecond << (attempt - 1)
	d = d/2 + rand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transient reports whether err is a failure of the database or the
// network that may pass: a lost or refused connection, a server shutting
// down or restarting, insufficient resources, a serialization failure or
// deadlock that persisted after retries, a timeout that is not the
// caller's.
func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") {
			return true
		}
		switch pe.Code {
		case "40001", "40P01", "40003", // serialization failure, deadlock, statement completion unknown
			"55P03",                   // lock not available (lock_timeout)
			"57014",                   // query canceled (statement_timeout; the caller's cancel is told apart first)
			"57P01", "57P02", "57P03", // admin shutdown, crash shutdown, cannot connect now
			"57P05", "25P03", // idle session / idle-in-transaction timeout
			"25006",          // read-only transaction: a standby, during a failover
			"58000", "58030": // system error, I/O error
			return true
		}
		return false // any other answer of the server is permanent
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) // a deadline of the pool (connect_timeout), not the caller's
}

// dbError carries a driver error without its message when the message
// could hold a value the statement carried (a data exception quotes the
// input it rejected): it prints the SQLSTATE and the names PostgreSQL
// reported, and unwraps to the *pgconn.PgError for errors.As.
type dbError struct{ err error }

func (e dbError) Error() string {
	var pe *pgconn.PgError
	if !errors.As(e.err, &pe) {
		return e.err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SQLSTATE %s", pe.Code)
	if !strings.HasPrefix(pe.Code, "22") { // data exceptions quote the rejected value
		fmt.Fprintf(&b, ": %s", pe.Message)
	}
	for _, kv := range [][2]string{{"table", pe.TableName}, {"column", pe.ColumnName}, {"constraint", pe.ConstraintName}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " (%s %s)", kv[0], kv[1])
		}
	}
	if pe.Code == "42P01" || pe.Code == "42703" {
		b.WriteString(" (run postgres.Migrate)")
	}
	return b.String()
}

func (e dbError) Unwrap() error { return e.err }

// wrapErr names the operation and its subject ("store tenant T1") once and
// gives the error its class: the caller's context error when ctx is done,
// [installstore.ErrUnavailable] when transient; errors this package made
// (classified already) pass unchanged.
func wrapErr(ctx context.Context, subject string, err error) error {
	if err == nil {
		return nil
	}
	if ours(err) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("postgres: %s: %w (%w)", subject, cerr, dbError{err})
	}
	if transient(err) {
		return fmt.Errorf("postgres: %s: %w: %w", subject, installstore.ErrUnavailable, dbError{err})
	}
	return fmt.Errorf("postgres: %s: %w", subject, dbError{err})
}

// ourError marks errors this package made with their class.
type ourError struct{ error }

func (e ourError) Unwrap() error { return e.error }

func ours(err error) bool {
	var o ourError
	return errors.As(err, &o)
}

// fail makes an error of this package: "postgres: <subject>: <class>...".
func fail(subject string, class error, format string, args ...any) error {
	msg := ""
	if format != "" {
		msg = ": " + fmt.Sprintf(format, args...)
	}
	return ourError{fmt.Errorf("postgres: %s: %w%s", subject, class, msg)}
}
