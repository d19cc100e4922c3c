package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/installvault/installvault/installstore"
)

// wtx is one write transaction: BEGIN IMMEDIATE, so it holds the file's
// write lock from its start and never fails on a lock upgrade.
type wtx struct {
	s   *Store
	ctx context.Context
	tx  *sql.Tx
}

// described marks an error that already names its operation and tenant.
type described struct{ error }

func (d described) Unwrap() error { return d.error }

// fail returns err as an error of fn that needs no further wrapping.
func fail(err error) error { return described{err} }

// write runs fn in a write transaction of operation op on tenant t and
// commits it. Nothing fn wrote stays when fn or the commit fails. Database
// errors are wrapped with op and t; errors fn marked with fail already name
// them and pass unchanged.
func (s *Store) write(ctx context.Context, op string, t installstore.Tenant, fn func(w *wtx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, t, err)
	}
	w := &wtx{s: s, ctx: ctx, tx: tx}
	if err := fn(w); err != nil {
		_ = tx.Rollback()
		var d described
		if errors.As(err, &d) {
			return d.error
		}
		return wrap(op, t, err)
	}
	if err := tx.Commit(); err != nil {
		return wrap(op, t, err)
	}
	return nil
}

// stmt returns the cached prepared statement for query, bound to the
// transaction.
func (w *wtx) stmt(query string) (*sql.Stmt, error) {
	st, err := w.s.stmt(w.s.w, query)
	if err != nil {
		return nil, err
	}
	return w.tx.StmtContext(w.ctx, st), nil
}

func (w *wtx) exec(query string, args ...any) (int64, error) {
	st, err := w.stmt(query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(w.ctx, w.s.args(query, args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// row scans the first row of query into dest; found is false when there
// is none.
func (w *wtx) row(query string, args []any, dest ...any) (found bool, err error) {
	st, err := w.stmt(query)
	if err != nil {
		return false, err
	}
	err = st.QueryRowContext(w.ctx, w.s.args(query, args)...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

var sqlBump = writeSQL(`UPDATE counter SET version = version + 1 WHERE id = 1 RETURNING version`)

// bump takes the next version from the file's counter: versions are never
// reused, across tenants, deletes and re-installs.
func (w *wtx) bump() (int64, error) {
	var v int64
	_, err := w.row(sqlBump, nil, &v)
	if err == nil && v == 0 {
		err = errors.New("the version counter row is missing")
	}
	return v, err
}
