package residency

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
)

// ListInstallations lists every region, one after the other. A region whose
// listing fails, or skips records (corrupt, unreadable), does not stop the
// others; the returned error then joins every region's error, each naming
// its region. An error fn returns stops the listing at once and is returned
// as is.
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	return s.fanOut(ctx, "list", func(r installstore.FullStore, fnErr *error) error {
		return r.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
			*fnErr = fn(q, inst)
			return *fnErr
		})
	})
}

// ListDue lists the due index of every region, one after the other, with
// the same error handling as [Store.ListInstallations].
func (s *Store) ListDue(ctx context.Context, before time.Time, fn func(installstore.Query, time.Time) error) error {
	return s.fanOut(ctx, "list due", func(r installstore.FullStore, fnErr *error) error {
		return r.ListDue(ctx, before, func(q installstore.Query, due time.Time) error {
			*fnErr = fn(q, due)
			return *fnErr
		})
	})
}

// fanOut runs list on every region. list sets *fnErr to the last error of
// the caller's fn.
func (s *Store) fanOut(ctx context.Context, op string, list func(r installstore.FullStore, fnErr *error) error) error {
	var (
		errs   []error
		failed []string
	)
	for _, name := range s.names {
		if err := ctx.Err(); err != nil {
			failed = append(failed, name)
			errs = append(errs, fmt.Errorf("residency: %s region %q: %w", op, name, err))
			continue
		}
		var fnErr error
		err := list(s.regions[name], &fnErr)
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			failed = append(failed, name)
			errs = append(errs, fmt.Errorf("residency: %s region %q: %w", op, name, err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	head := fmt.Errorf("residency: %s: regions not listed in full (records skipped, or the listing failed): %s; the other regions were listed in full",
		op, strings.Join(failed, ", "))
	return errors.Join(append([]error{head}, errs...)...)
}
