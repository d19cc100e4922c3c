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

// Export writes every record of src to w, one JSON line each, and returns
// how many it wrote. When src is a stack with encryption layers, Export
// reads the stores below them, so that records stay sealed. A record src
// cannot decode does not stop it: see [SkippedError]. Memory does not grow
// with the number of records.
func Export(ctx context.Context, src installstore.Lister, w io.Writer, opts ...Option) (int, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if src == nil || w == nil {
		return 0, fmt.Errorf("backup: export: %w: nil source or writer", installstore.ErrInvalid)
	}
	sources := []installstore.Lister{src}
	if full, ok := src.(installstore.FullStore); ok {
		sources = sealedSources(full)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	var listErrs []error
	for _, l := range sources {
		var fnErr error
		err := l.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
			fnErr = exportOne(enc, &c, q, inst)
			if fnErr == nil {
				n++
				if c.progress != nil {
					c.progress(n)
				}
			}
			return fnErr
		})
		if fnErr != nil {
			return n, fmt.Errorf("backup: export: %w", fnErr)
		}
		if err != nil {
			listErrs = append(listErrs, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("backup: export: %w", err)
	}
	if len(listErrs) == 0 {
		return n, nil
	}
	err := errors.Join(listErrs...)
	if skipped, complete := installstore.CountSkipped(err, installstore.ErrCorrupt, crypto.ErrDecrypt); complete {
		return n, &SkippedError{Records: skipped, Err: err}
	}
	return n, fmt.Errorf("backup: export: the listing failed after %d %s: %w", n, plural(n, "record"), err)
}

func exportOne(enc *json.Encoder, c *config, q installstore.Query, inst *installstore.Installation) error {
	if !c.plaintext {
		if err := inst.Secrets(func(field string, s *installstore.Secret) error {
			if !s.IsSealed() {
				return fmt.Errorf("%w: tenant %s user %q field %s (export the store below the encryption layer, or pass AllowPlaintext)", ErrPlaintext, inst.Tenant(), q.UserID, field)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return enc.Encode(record{V: FormatVersion, Query: q, Installation: toWire(inst)})
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
