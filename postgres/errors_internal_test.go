package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

func TestErrorClasses(t *testing.T) {
	ctx := context.Background()
	pg := func(code, msg string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg} }
	cases := []struct {
		name      string
		err       error
		transient bool
		retry     bool
	}{
		{"serialization failure", pg("40001", "could not serialize access"), true, true},
		{"deadlock", pg("40P01", "deadlock detected"), true, true},
		{"lock timeout", pg("55P03", "canceling statement due to lock timeout"), true, true},
		{"admin shutdown", pg("57P01", "terminating connection due to administrator command"), true, false},
		{"crash shutdown", pg("57P02", "terminating connection due to crash of another server process"), true, false},
		{"cannot connect now", pg("57P03", "the database system is starting up"), true, false},
		{"too many connections", pg("53300", "sorry, too many clients already"), true, false},
		{"disk full", pg("53100", "could not extend file"), true, false},
		{"connection failure", pg("08006", "connection failure"), true, false},
		{"read-only standby", pg("25006", "cannot execute INSERT in a read-only transaction"), true, false},
		{"statement timeout", pg("57014", "canceling statement due to statement timeout"), true, false},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true, false},
		{"conn closed", pgconn.ErrConnClosed, true, false},
		{"unique violation", pg("23505", "duplicate key value violates unique constraint"), false, false},
		{"undefined table", pg("42P01", `relation "installvault_tenants" does not exist`), false, false},
		{"bad password", pg("28P01", "password authentication failed"), false, false},
		{"invalid input", pg("22P02", `invalid input syntax for type bigint: "xoxb-test-leak"`), false, false},
	}
	for _, c := range cases {
		require.Equal(t, c.transient, transient(c.err), c.name)
		require.Equal(t, c.retry, retryable(c.err), c.name)
		err := wrapErr(ctx, "store tenant T1", c.err)
		require.Equal(t, c.transient, errors.Is(err, installstore.ErrUnavailable), c.name)
		require.ErrorIs(t, err, c.err, "the driver's error stays reachable: %s", c.name)
		require.Contains(t, err.Error(), "postgres: store tenant T1: ", c.name)
	}

	// A data exception's message quotes the rejected value: only its
	// SQLSTATE is printed.
	err := wrapErr(ctx, "store tenant T1", pg("22P02", `invalid input syntax for type bigint: "xoxb-test-leak"`))
	require.NotContains(t, err.Error(), "xoxb")
	require.Contains(t, err.Error(), "SQLSTATE 22P02")
	var pe *pgconn.PgError
	require.ErrorAs(t, err, &pe)

	// A missing table says what to do.
	require.Contains(t, wrapErr(ctx, "fetch tenant T1", pg("42P01", "relation does not exist")).Error(), "run postgres.Migrate")

	// The caller's deadline is the caller's, whatever the driver says.
	done, cancel := context.WithCancel(ctx)
	cancel()
	err = wrapErr(done, "fetch tenant T1", pgconn.ErrConnClosed)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, installstore.ErrUnavailable)

	// Errors of this package pass unchanged.
	ours := fail("fetch tenant T1", installstore.ErrNotFound, "")
	require.Equal(t, ours, wrapErr(ctx, "other", ours))
}
