package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

// Export writes every record of src to w, one JSON line each, and the
// history entries of every tenant when src keeps history (see History in
// the package doc), and returns how many of each it wrote. When src is a
// stack with encryption layers, Export reads the stores below them, so that
// records stay sealed. A record or entry src cannot decode does not stop
// it: see [SkippedError]. Memory does not grow with the number of records.
func Export(ctx context.Context, src installstore.Lister, w io.Writer, opts ...Option) (Stats, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if src == nil || w == nil {
		return Stats{}, fmt.Errorf("backup: export: %w: nil source or writer", installstore.ErrInvalid)
	}
	sources := []installstore.Lister{src}
	if full, ok := src.(installstore.FullStore); ok {
		sources = sealedSources(full)
	}
	x := &exporter{c: &c, bw: bufio.NewWriter(w)}
	x.enc = json.NewEncoder(x.bw)
	var listErrs []error
	for _, l := range sources {
		hist, _ := l.(installstore.History)
		var fnErr error
		err := l.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
			fnErr = x.write(kindRecord, q, inst)
			if fnErr == nil {
				x.st.Records++
				x.progress()
			}
			if fnErr == nil && q.UserID == "" && hist != nil {
				var skipped error
				skipped, fnErr = x.history(ctx, l, hist, q)
				if skipped != nil {
					listErrs = append(listErrs, skipped)
				}
				if errors.Is(fnErr, installstore.ErrHistoryOff) {
					hist, fnErr = nil, nil // off for the whole store: no entries
				}
			}
			return fnErr
		})
		if fnErr != nil {
			return x.st, fmt.Errorf("backup: export: %w", fnErr)
		}
		if err != nil {
			listErrs = append(listErrs, err)
		}
	}
	if err := x.bw.Flush(); err != nil {
		return x.st, fmt.Errorf("backup: export: %w", err)
	}
	if len(listErrs) == 0 {
		return x.st, nil
	}
	err := errors.Join(listErrs...)
	if _, complete := installstore.CountSkipped(err, installstore.ErrCorrupt, crypto.ErrDecrypt); complete {
		return x.st, &SkippedError{Records: x.skippedRecords(listErrs), History: x.skippedHistory, Err: err}
	}
	return x.st, fmt.Errorf("backup: export: the listing failed after %d %s: %w", x.st.Records, plural(x.st.Records, "record"), err)
}

// exporter writes the lines of one Export.
type exporter struct {
	c              *config
	bw             *bufio.Writer
	enc            *json.Encoder
	st             Stats
	skippedHistory int // history entries skipped as corrupt
}

func (x *exporter) progress() {
	if x.c.progress != nil {
		x.c.progress(x.st.Lines())
	}
}

// skippedRecords counts the records (not history entries) that the
// listings' errors report as skipped.
func (x *exporter) skippedRecords(errs []error) int {
	n, _ := installstore.CountSkipped(errors.Join(errs...), installstore.ErrCorrupt, crypto.ErrDecrypt)
	return n - x.skippedHistory
}

// history writes the history entries of the tenant of q, the latest record
// just listed from l: its own, and those a Grid migration kept under the
// standalone workspace (no enterprise, the same team) when l holds no
// record of that workspace. It returns the listing's report of entries it
// skipped (corrupt), and any error that stops the export; an error that
// matches [installstore.ErrHistoryOff] means l keeps no history.
func (x *exporter) history(ctx context.Context, l installstore.Lister, h installstore.History, q installstore.Query) (skipped, err error) {
	skipped, err = x.historyOf(ctx, h, q)
	if err != nil || q.EnterpriseID == "" || q.TeamID == "" || q.IsEnterpriseInstall {
		return skipped, err
	}
	tenants := []installstore.Query{q, {TeamID: q.TeamID}}
	if s, ok := l.(installstore.Store); ok {
		if tenants, err = installstore.HistoryTenants(ctx, s, q); err != nil {
			return skipped, err
		}
	}
	for _, tq := range tenants[1:] {
		more, err := x.historyOf(ctx, h, tq)
		if skipped = errors.Join(skipped, more); err != nil {
			return skipped, err
		}
	}
	return skipped, nil
}

// historyOf writes the history entries of q's tenant.
func (x *exporter) historyOf(ctx context.Context, h installstore.History, q installstore.Query) (skipped, err error) {
	var fnErr error
	q.UserID = ""
	err = h.ListHistory(ctx, q,
		func(inst *installstore.Installation) error {
			hq := q // the tenant listed; Import checks that inst is of it
			hq.UserID = inst.User.ID
			if fnErr = x.write(kindHistory, hq, inst); fnErr != nil {
				return fnErr
			}
			x.st.History++
			x.progress()
			return nil
		})
	switch {
	case fnErr != nil:
		return nil, fnErr
	case err == nil:
		return nil, nil
	case errors.Is(err, installstore.ErrHistoryOff):
		return nil, err
	}
	if n, complete := installstore.CountSkipped(err, installstore.ErrCorrupt, crypto.ErrDecrypt); complete {
		x.skippedHistory += n
		return fmt.Errorf("history of tenant %s: %w", q.Tenant(), err), nil
	}
	return nil, fmt.Errorf("history of tenant %s (after %d %s): %w", q.Tenant(), x.st.History, pluralEntry(x.st.History), err)
}

// write writes one line of kind for q and inst, refusing a plaintext
// secret unless AllowPlaintext.
func (x *exporter) write(kind string, q installstore.Query, inst *installstore.Installation) error {
	if !x.c.plaintext {
		what := "record"
		if kind == kindHistory {
			what = "history entry"
		}
		if err := inst.Secrets(func(field string, s *installstore.Secret) error {
			if !s.IsSealed() {
				return fmt.Errorf("%w: %s of tenant %s user %q field %s (export the store below the encryption layer, or pass AllowPlaintext)", ErrPlaintext, what, inst.Tenant(), q.UserID, field)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return x.enc.Encode(record{V: FormatVersion, Kind: kind, Query: q, Installation: toWire(inst)})
}

// sealedSources returns what Export lists of the stack s: the store below
// each encryption layer, every branch of a router, and s itself when no
// encryption layer is below it.
func sealedSources(s installstore.FullStore) []installstore.Lister {
	if cs, ok := s.(*crypto.Store); ok {
		return []installstore.Lister{cs.Inner}
	}
	u, ok := s.(installstore.Unwrapper)
	if !ok || !hasEncryption(s) {
		return []installstore.Lister{s}
	}
	var out []installstore.Lister
	for _, inner := range u.Unwrap() {
		out = append(out, sealedSources(inner)...)
	}
	return out
}

// hasEncryption reports whether the stack s holds an encryption layer.
func hasEncryption(s installstore.FullStore) bool {
	found := false
	installstore.Walk(s, func(x installstore.FullStore) bool {
		if _, ok := x.(*crypto.Store); ok {
			found = true
		}
		return !found
	})
	return found
}
