package crypto

import (
	"context"
	"fmt"
	"time"

	"github.com/installvault/installvault/installstore"
)

// ListHistory implements [installstore.History]: it lists the inner
// store's history entries of q, each opened as a record is (bound to its
// own tenant and user, and to the app). An entry that cannot be opened
// ([ErrDecrypt]) is never handed to fn and does not stop the listing, as
// [Store.ListInstallations] goes past a record: the returned error joins
// the inner store's report (entries it could not decode,
// [installstore.ErrCorrupt]) with one error per entry that did not open,
// naming its tenant, user and install time, never its content. An entry
// of another tenant or user than q's is refused the same way. When the key
// provider does not answer the listing stops with
// [installstore.ErrUnavailable]. A store without history gives
// [installstore.ErrHistoryOff], from below.
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	var l listing
	err := s.Inner.ListHistory(ctx, q, func(inst *installstore.Installation) error {
		err := historyBelongs(q, inst)
		if err == nil {
			err = s.open(ctx, inst)
		}
		return l.item(ctx, s, "list history", describeEntry(inst), err, func() error { return fn(inst) })
	})
	return l.result(err)
}

// PutHistory implements [installstore.History]: it seals a copy of inst,
// as StoreInstallation does (refusing a value that is already sealed), and
// writes that as a history entry. It touches no record, so the record
// cache is left alone.
func (s *Store) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if inst.InstalledAt.IsZero() {
		return fmt.Errorf("crypto: put history of tenant %s: %w: a history entry needs its InstalledAt", inst.Tenant(), installstore.ErrInvalid)
	}
	sealed := inst.Clone()
	if err := s.seal(ctx, sealed); err != nil {
		return err
	}
	return s.Inner.PutHistory(ctx, sealed)
}

// historyBelongs checks that an entry the inner store listed for q is q's:
// exactly its tenant (history has no Grid fallback) and, with q.UserID,
// that user's.
func historyBelongs(q installstore.Query, inst *installstore.Installation) error {
	if inst.Tenant() != q.Tenant() || (q.UserID != "" && inst.User.ID != q.UserID) {
		return fmt.Errorf("%w: the store listed an entry of tenant %s user %q", ErrDecrypt, inst.Tenant(), inst.User.ID)
	}
	return nil
}

// describeEntry names a history entry for errors: tenant, user, install
// time.
func describeEntry(inst *installstore.Installation) string {
	return describe(inst.Query()) + " installed " + inst.InstalledAt.UTC().Format(time.RFC3339Nano)
}
