package crypto

import (
	"context"
	"errors"
	"fmt"

	"github.com/installvault/installvault/installstore"
)

// maxRewrapAttempts bounds the conditional-update retries per record.
const maxRewrapAttempts = 5

// RewrapStats counts what [Rewrap] did, summed over every encryption layer
// of the stack. Seen = Rewrapped + Current + Gone + Failed, and
// HistorySeen = HistoryRewrapped + HistoryCurrent + HistoryFailed.
type RewrapStats struct {
	// Seen is the number of records listed.
	Seen int
	// Rewrapped records were re-sealed under the current key.
	Rewrapped int
	// Current records were opened (fetched and authenticated) under the
	// current key, or hold no secret, and were left alone.
	Current int
	// Gone records were deleted while the rewrap ran.
	Gone int
	// Failed records could not be rewrapped (unreadable, key unavailable,
	// or updated concurrently more than a few times in a row).
	Failed int

	// HistorySeen is the number of installation history entries listed
	// ([installstore.History]), including those the backend could not
	// decode; zero for stores without history.
	HistorySeen int
	// HistoryRewrapped entries were re-sealed under the current key and
	// written back (PutHistory).
	HistoryRewrapped int
	// HistoryCurrent entries were opened under the current key, or hold no
	// secret, and were left alone.
	HistoryCurrent int
	// HistoryGone entries belong to a user uninstalled while the rewrap
	// ran (the uninstall purged them): they are not written back.
	HistoryGone int
	// HistoryFailed entries could not be rewrapped: unreadable (the
	// backend's or this layer's), the key unavailable, the write failed, or
	// their tenant was uninstalled while they were rewrapped.
	HistoryFailed int
}

func (st *RewrapStats) add(o RewrapStats) {
	st.Seen += o.Seen
	st.Rewrapped += o.Rewrapped
	st.Current += o.Current
	st.Gone += o.Gone
	st.Failed += o.Failed
	st.HistorySeen += o.HistorySeen
	st.HistoryRewrapped += o.HistoryRewrapped
	st.HistoryCurrent += o.HistoryCurrent
	st.HistoryGone += o.HistoryGone
	st.HistoryFailed += o.HistoryFailed
}

// Rewrap re-encrypts every record of s under the tenant's current master key
// (the keyring's primary, the tenant's KMS key): key rotation, online.
//
// s is any stack ([installstore.FullStore]): Rewrap finds every [Store] in it
// with [installstore.Walk] (not below a Store it found) and rewraps the
// records of each, listing and updating the store right below it. A
// residency router over per-region encryption layers thus gets every region
// rewrapped, each with its own keys; an encryption layer over a router gets
// all regions through it. A stack without an encryption layer gives
// [installstore.ErrInvalid].
//
// Each record is opened — fetched and authenticated — with the current keys.
// One whose every secret opened under the tenant's current master key
// counts as Current; any other is re-sealed with a fresh data key per tenant
// and written back with UpdateInstallation conditioned on the Version it was
// read at; on [installstore.ErrConflict] it is read again and retried (a few
// times), so a concurrent write is never overwritten. A record that fails is
// counted and the rewrap goes on. The returned error is nil only when every
// record of every layer was listed and none failed; otherwise it names the
// layer and what failed or was skipped (records the backend could not
// decode, [installstore.ErrCorrupt]; a listing that stopped,
// [installstore.ErrUnavailable]), keeping each error's class. Only when the
// error is nil can the old key be retired.
//
// Every record in format 1 counts as not current and is re-sealed in
// format 2, whatever key sealed it.
//
// Installation history is rewrapped too: after a layer's records, the
// history entries ([installstore.History]) of every tenant it listed (and,
// for a workspace of an enterprise, of the standalone tenant of the same
// team, whose history a Grid migration keeps) are listed from the store
// below, opened, and those not current re-sealed and written back with
// PutHistory. A store without history ([installstore.ErrHistoryOff]) is
// skipped. PutHistory is not conditional: when a tenant is uninstalled
// between the listing of its history and the write-back, the rewritten
// entries would outlive the uninstall; Rewrap checks that the tenant still
// exists after writing and, when it does not, fails the entries with an
// error (wrapping [installstore.ErrConflict]) that names the tenant, to be
// deleted again. A history-only tenant (a superseded standalone record)
// has no record to check.
func Rewrap(ctx context.Context, s installstore.Store) (RewrapStats, error) {
	var stats RewrapStats
	full, ok := s.(installstore.FullStore)
	if !ok {
		return stats, fmt.Errorf("crypto: rewrap: %w: %T is not an installstore.FullStore stack", installstore.ErrInvalid, s)
	}
	layers := encryptionLayers(full)
	if len(layers) == 0 {
		return stats, fmt.Errorf("crypto: rewrap: %w: the stack (%T) has no encryption layer (crypto.NewStore)", installstore.ErrInvalid, s)
	}
	var errs []error
	for i, cs := range layers {
		st, err := rewrapLayer(ctx, cs)
		stats.add(st)
		if err != nil {
			if len(layers) > 1 {
				err = fmt.Errorf("encryption layer %d of %d (over %T): %w", i+1, len(layers), cs.Inner, err)
			}
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			if i+1 < len(layers) {
				errs = append(errs, fmt.Errorf("%d of %d encryption layers not rewrapped: %w", len(layers)-i-1, len(layers), ctx.Err()))
			}
			break
		}
	}
	if len(errs) == 0 {
		return stats, nil
	}
	return stats, fmt.Errorf("crypto: rewrap: %w", joinClassed(errs))
}

// encryptionLayers returns every Store of the stack s, once each, not
// looking below a Store.
func encryptionLayers(s installstore.FullStore) []*Store {
	var layers []*Store
	seen := map[*Store]bool{}
	installstore.Walk(s, func(x installstore.FullStore) bool {
		cs, ok := x.(*Store)
		if !ok {
			return true
		}
		if !seen[cs] {
			seen[cs] = true
			layers = append(layers, cs)
		}
		return false
	})
	return layers
}

// joinClassed joins errs, but when one is transient keeps only the
// transient ones, so the result never matches both
// installstore.ErrUnavailable and ErrDecrypt. The others are counted in the
// message.
func joinClassed(errs []error) error {
	var transient []error
	for _, err := range errs {
		if errors.Is(err, installstore.ErrUnavailable) {
			transient = append(transient, err)
		}
	}
	if len(transient) == 0 || len(transient) == len(errs) {
		return errors.Join(errs...)
	}
	return fmt.Errorf("%w (and %d more failures of other classes)", errors.Join(transient...), len(errs)-len(transient))
}

// rewrapLayer rewraps the records below one encryption layer.
func rewrapLayer(ctx context.Context, cs *Store) (RewrapStats, error) {
	var stats RewrapStats
	r := &rewrapper{s: cs, keys: make(map[installstore.Tenant]*dataKey), known: make(map[string]*dataKey)}
	var (
		failed      []error
		histErrs    []error
		unavailable error
	)
	err := cs.Inner.ListInstallations(ctx, func(q installstore.Query, raw *installstore.Installation) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		stats.Seen++
		defer func() {
			// The tenant's history, once, when its latest record is listed:
			// nothing is kept per tenant for after the listing.
			if q.UserID != "" || r.historyOff || unavailable != nil {
				return
			}
			if err := r.histories(ctx, q, &stats); err != nil {
				if errors.Is(err, installstore.ErrUnavailable) {
					unavailable = err
					return
				}
				histErrs = append(histErrs, err)
			}
		}()
		switch res, err := r.one(ctx, q, raw); res {
		case rewrapped:
			stats.Rewrapped++
		case current:
			stats.Current++
		case gone:
			stats.Gone++
		default:
			stats.Failed++
			if errors.Is(err, installstore.ErrUnavailable) {
				// KMS or the backend did not answer: every later record
				// would fail the same way. Stop; the caller runs again.
				unavailable = err
				return err
			}
			failed = append(failed, err)
		}
		return nil
	})
	if err == nil && unavailable != nil {
		err = unavailable // a history's backend or KMS stopped answering
	}
	var errs []error
	switch {
	case unavailable != nil:
		return stats, fmt.Errorf("stopped after %d records (%d failed): %w", stats.Seen, stats.Failed, unavailable)
	case err != nil && ctx.Err() != nil:
		return stats, fmt.Errorf("stopped after %d records: %w: %w", stats.Seen, installstore.ErrUnavailable, err)
	case err != nil:
		// The backend skipped records it could not decode (ErrCorrupt), or
		// stopped the listing: either way, records were not rewrapped.
		errs = append(errs, fmt.Errorf("list (records not rewrapped): %w", err))
	}
	if len(failed) > 0 {
		errs = append(errs, fmt.Errorf("%d of %d records failed: %w", stats.Failed, stats.Seen, errors.Join(failed...)))
	}
	if len(histErrs) > 0 {
		errs = append(errs, fmt.Errorf("history: %d of %d entries failed: %w", stats.HistoryFailed, stats.HistorySeen, errors.Join(histErrs...)))
	}
	if len(errs) == 0 {
		return stats, nil
	}
	return stats, joinClassed(errs)
}

type outcome int

const (
	failed outcome = iota
	rewrapped
	current
	gone
)

// rewrapKeys bounds the fresh data keys a run keeps: listings hand out a
// tenant's records one after another, so a key evicted early costs at most
// one more data key for a tenant listed again later, and what the run
// sealed under an evicted key still opens (through the provider).
const rewrapKeys = 256

type rewrapper struct {
	s          *Store
	keys       map[installstore.Tenant]*dataKey // one fresh data key per tenant, for the last rewrapKeys tenants
	known      map[string]*dataKey              // the same keys by header, to open what the run sealed
	order      []installstore.Tenant            // keys' tenants, oldest first
	historyOff bool                             // the store keeps no history
}

// one rewraps the record q names, starting from raw (as listed, sealed).
func (r *rewrapper) one(ctx context.Context, q installstore.Query, raw *installstore.Installation) (outcome, error) {
	for range maxRewrapAttempts {
		if err := belongs(q, raw); err != nil {
			return failed, fmt.Errorf("%s: %w", describe(q), err)
		}
		t := raw.Tenant()
		// Open first: a record counts as current only once it opened.
		inst := raw.Clone()
		if _, err := r.s.openKnown(ctx, inst, r.known); err != nil {
			return failed, fmt.Errorf("%s: %w", describe(q), err)
		}
		if !hasSecrets(inst) {
			return current, nil
		}
		dk, err := r.key(ctx, t)
		if err != nil {
			return failed, fmt.Errorf("%s: %w", describe(q), sealError(t, err))
		}
		if r.isCurrent(raw, dk) {
			return current, nil
		}
		if err := r.s.sealWith(inst, dk); err != nil {
			return failed, fmt.Errorf("%s: %w", describe(q), err)
		}
		err = r.s.Inner.UpdateInstallation(ctx, inst)
		r.s.invalidate(t) // the Version changed: a cached copy would make the refresher's next write conflict
		switch {
		case err == nil:
			return rewrapped, nil
		case errors.Is(err, installstore.ErrNotFound):
			return gone, nil
		case !errors.Is(err, installstore.ErrConflict):
			return failed, fmt.Errorf("%s: update: %w", describe(q), err)
		}
		// Lost to a concurrent write: read the record again.
		raw, err = r.s.Inner.FetchInstallation(ctx, q)
		if errors.Is(err, installstore.ErrNotFound) {
			return gone, nil
		}
		if err != nil {
			return failed, fmt.Errorf("%s: fetch: %w", describe(q), err)
		}
		if raw.Tenant() != q.Tenant() { // the tenant went; the query fell back to another record
			return gone, nil
		}
	}
	return failed, fmt.Errorf("%s: %w after %d attempts", describe(q), installstore.ErrConflict, maxRewrapAttempts)
}

// key returns the run's data key for the tenant.
func (r *rewrapper) key(ctx context.Context, t installstore.Tenant) (*dataKey, error) {
	if dk := r.keys[t]; dk != nil {
		return dk, nil
	}
	dk, err := r.s.generate(ctx, t)
	if err != nil {
		return nil, err
	}
	if len(r.order) == rewrapKeys {
		old := r.order[0]
		r.order = r.order[1:]
		delete(r.known, r.keys[old].header)
		delete(r.keys, old)
	}
	r.order = append(r.order, t)
	r.keys[t] = dk
	r.known[dk.header] = dk
	return dk, nil
}

// isCurrent reports whether every secret of raw (which opened) is in
// format 2 (a sealed value or a marker), sealed by this store's provider
// under dk's master key. A format 1 value is never current: Rewrap
// migrates it.
func (r *rewrapper) isCurrent(raw *installstore.Installation, dk *dataKey) bool {
	return raw.Secrets(func(_ string, sec *installstore.Secret) error {
		p, err := parseSealed(sec.Reveal())
		if err != nil || p.version != formatV2 || p.provider != r.s.provider || p.keyID != dk.keyIDEnc {
			return errFound
		}
		return nil
	}) == nil
}

// histories rewraps the history of q's tenant (its latest record was just
// listed) and of the tenants [installstore.HistoryTenants] puts with it.
// It returns an error wrapping ErrUnavailable when the backend or KMS
// stopped answering.
func (r *rewrapper) histories(ctx context.Context, q installstore.Query, stats *RewrapStats) error {
	qs, err := installstore.HistoryTenants(ctx, r.s.Inner, q)
	if errors.Is(err, installstore.ErrUnavailable) {
		return err
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for i, hq := range qs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("history: stopped: %w: %w", installstore.ErrUnavailable, err)
		}
		off, err := r.history(ctx, hq, i == 0, stats)
		if off {
			r.historyOff = true // no history in this store
			return nil
		}
		if err != nil {
			if errors.Is(err, installstore.ErrUnavailable) {
				return fmt.Errorf("history: stopped after %d entries (%d failed): %w", stats.HistorySeen, stats.HistoryFailed, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// history rewraps the history of q's tenant. hasRecord says whether the
// tenant was listed with a record (so that its existence can be checked
// after writing). off reports a store without history.
func (r *rewrapper) history(ctx context.Context, q installstore.Query, hasRecord bool, stats *RewrapStats) (off bool, err error) {
	var entries []*installstore.Installation
	listErr := r.s.Inner.ListHistory(ctx, q, func(inst *installstore.Installation) error {
		entries = append(entries, inst)
		return nil
	})
	if errors.Is(listErr, installstore.ErrHistoryOff) {
		return true, nil
	}
	var errs []error
	if listErr != nil {
		n, complete := installstore.CountSkipped(listErr)
		if !complete {
			return false, fmt.Errorf("list history of %s: %w", describe(q), listErr)
		}
		stats.HistorySeen += n
		stats.HistoryFailed += n
		errs = append(errs, fmt.Errorf("list history (entries not rewrapped): %w", listErr))
	}
	// A user uninstalled since the listing has had its entries purged:
	// writing them back would bring them back. Each user's record is
	// checked before its entries are written, and again after.
	tenantQ := installstore.Query{EnterpriseID: q.EnterpriseID, TeamID: q.TeamID, IsEnterpriseInstall: q.IsEnterpriseInstall}
	userGone := func(user string) (bool, error) {
		uq := tenantQ
		uq.UserID = user
		raw, err := r.s.Inner.FetchInstallation(ctx, uq)
		switch {
		case errors.Is(err, installstore.ErrNotFound), err == nil && raw.Tenant() != q.Tenant():
			return true, nil
		case errors.Is(err, installstore.ErrUnavailable):
			return false, fmt.Errorf("%s user %s: %w", describe(q), user, err)
		}
		return false, nil // a record that does not open is still there
	}
	checked := map[string]bool{} // user → gone, for users with entries
	wrote, wroteBy := 0, map[string]int{}
	for _, raw := range entries {
		stats.HistorySeen++
		if u := raw.User.ID; hasRecord && u != "" {
			if _, ok := checked[u]; !ok {
				gone, err := userGone(u)
				if err != nil {
					return false, err
				}
				checked[u] = gone
			}
			if checked[u] {
				stats.HistoryGone++
				continue
			}
		}
		res, err := r.entry(ctx, q, raw)
		switch res {
		case rewrapped:
			stats.HistoryRewrapped++
			wrote++
			wroteBy[raw.User.ID]++
		case current:
			stats.HistoryCurrent++
		default:
			stats.HistoryFailed++
			if errors.Is(err, installstore.ErrUnavailable) {
				return false, err
			}
			errs = append(errs, err)
		}
	}
	if wrote > 0 && hasRecord {
		// PutHistory is not conditional: an uninstall since the check may
		// have purged what was just written back. Say so, never delete
		// (a delete here could hit an install landing meanwhile).
		raw, err := r.s.Inner.FetchInstallation(ctx, tenantQ)
		tenantGone := false
		switch {
		case errors.Is(err, installstore.ErrNotFound) || (err == nil && raw.Tenant() != q.Tenant()):
			tenantGone = true
			stats.HistoryRewrapped -= wrote
			stats.HistoryFailed += wrote
			errs = append(errs, fmt.Errorf("%s: %w: the tenant was uninstalled while %d history entries were rewrapped: "+
				"they may be stored again; delete the tenant again to purge them", describe(q), installstore.ErrConflict, wrote))
		case err != nil && errors.Is(err, installstore.ErrUnavailable):
			return false, fmt.Errorf("%s: history written back, tenant not checked: %w", describe(q), err)
		}
		for u, n := range wroteBy {
			if u == "" || tenantGone {
				continue
			}
			gone, err := userGone(u)
			if err != nil {
				return false, fmt.Errorf("history written back, user not checked: %w", err)
			}
			if gone {
				stats.HistoryRewrapped -= n
				stats.HistoryFailed += n
				errs = append(errs, fmt.Errorf("%s user %s: %w: the user was uninstalled while %d history entries were rewrapped: "+
					"they may be stored again; delete the user again to purge them", describe(q), u, installstore.ErrConflict, n))
			}
		}
	}
	return false, joinClassed(errs)
}

// entry rewraps one history entry of q's tenant, starting from raw (as
// listed, sealed).
func (r *rewrapper) entry(ctx context.Context, q installstore.Query, raw *installstore.Installation) (outcome, error) {
	what := describeEntry(raw)
	if err := historyBelongs(q, raw); err != nil {
		return failed, fmt.Errorf("%s: %w", what, err)
	}
	t := raw.Tenant()
	inst := raw.Clone()
	if _, err := r.s.openKnown(ctx, inst, r.known); err != nil {
		return failed, fmt.Errorf("%s: %w", what, err)
	}
	if !hasSecrets(inst) {
		return current, nil
	}
	dk, err := r.key(ctx, t)
	if err != nil {
		return failed, fmt.Errorf("%s: %w", what, sealError(t, err))
	}
	if r.isCurrent(raw, dk) {
		return current, nil
	}
	if err := r.s.sealWith(inst, dk); err != nil {
		return failed, fmt.Errorf("%s: %w", what, err)
	}
	if err := r.s.Inner.PutHistory(ctx, inst); err != nil {
		return failed, fmt.Errorf("%s: put history: %w", what, err)
	}
	return rewrapped, nil
}
