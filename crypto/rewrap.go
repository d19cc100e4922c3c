package crypto

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/installvault/installvault/installstore"
)

// maxRewrapAttempts bounds the conditional-update retries per record.
const maxRewrapAttempts = 5

// RewrapStats counts what [Rewrap] did. Seen = Rewrapped + Current + Gone +
// Failed.
type RewrapStats struct {
	// Seen is the number of records listed.
	Seen int
	// Rewrapped records were re-sealed under the current key.
	Rewrapped int
	// Current records were already sealed under the current key (or hold
	// no secret) and were left alone.
	Current int
	// Gone records were deleted while the rewrap ran.
	Gone int
	// Failed records could not be rewrapped (unreadable, key unavailable,
	// or updated concurrently more than a few times in a row).
	Failed int
}

// probe finds the crypto store behind a Store returned by NewStore, through
// ListInstallations, which the store answers with itself.
type (
	probeKey struct{}
	probe    struct{ s *store }
)

// Rewrap re-encrypts every record of s under the tenant's current master key
// (the keyring's primary, the tenant's KMS key): key rotation, online. s must
// be a store returned by [NewStore] over a backend that implements
// [installstore.Lister] and [installstore.Updater].
//
// Each record is opened and re-sealed with a fresh data key per tenant, and
// written back with UpdateInstallation conditioned on the Version it was read
// at; on [installstore.ErrConflict] it is read again and retried (a few
// times), so a concurrent write is never overwritten. Records already under
// the current key are left alone. A record that fails is counted and the
// rewrap goes on; the returned error then wraps the first failure. When
// Failed is zero, the old key can be retired.
func Rewrap(ctx context.Context, s installstore.Store) (RewrapStats, error) {
	var stats RewrapStats
	cs, err := cryptoStore(ctx, s)
	if err != nil {
		return stats, err
	}
	lister, okL := cs.Inner.(installstore.Lister)
	updater, okU := cs.Inner.(installstore.Updater)
	if !okL || !okU {
		return stats, fmt.Errorf("crypto: rewrap: %w: the inner store must implement installstore.Lister and installstore.Updater", installstore.ErrInvalid)
	}
	r := &rewrapper{s: cs, updater: updater, keys: make(map[installstore.Tenant]*dataKey)}
	var firstErr error
	err = lister.ListInstallations(ctx, func(q installstore.Query, raw *installstore.Installation) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		stats.Seen++
		switch res, err := r.one(ctx, q, raw); res {
		case rewrapped:
			stats.Rewrapped++
		case current:
			stats.Current++
		case gone:
			stats.Gone++
		default:
			stats.Failed++
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil
	})
	if err != nil {
		return stats, fmt.Errorf("crypto: rewrap: list: %w", err)
	}
	if firstErr != nil {
		return stats, fmt.Errorf("crypto: rewrap: %d of %d records failed; first: %w", stats.Failed, stats.Seen, firstErr)
	}
	return stats, nil
}

// cryptoStore returns the crypto store s was made from.
func cryptoStore(ctx context.Context, s installstore.Store) (*store, error) {
	if cs, ok := s.(*store); ok {
		return cs, nil
	}
	notOurs := fmt.Errorf("crypto: rewrap: %w: the store was not made by crypto.NewStore over a store that can list", installstore.ErrInvalid)
	l, ok := s.(installstore.Lister)
	if !ok {
		return nil, notOurs
	}
	p := &probe{}
	errStop := errors.New("stop")
	if err := l.ListInstallations(context.WithValue(ctx, probeKey{}, p), func(installstore.Query, *installstore.Installation) error {
		return errStop
	}); err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("crypto: rewrap: %w", err)
	}
	if p.s == nil {
		return nil, notOurs
	}
	return p.s, nil
}

type outcome int

const (
	failed outcome = iota
	rewrapped
	current
	gone
)

type rewrapper struct {
	s       *store
	updater installstore.Updater
	keys    map[installstore.Tenant]*dataKey // one fresh data key per tenant per run
}

// one rewraps the record q names, starting from raw (as listed, sealed).
func (r *rewrapper) one(ctx context.Context, q installstore.Query, raw *installstore.Installation) (outcome, error) {
	for range maxRewrapAttempts {
		t := raw.Tenant()
		dk, err := r.key(ctx, t)
		if err != nil {
			return failed, fmt.Errorf("%s: %w", describe(q), err)
		}
		if r.isCurrent(raw, dk) {
			return current, nil
		}
		inst := raw.Clone()
		if err := r.s.open(ctx, inst); err != nil {
			return failed, fmt.Errorf("%s: %w", describe(q), err)
		}
		if err := r.s.sealWith(inst, dk); err != nil {
			return failed, fmt.Errorf("%s: %w", describe(q), err)
		}
		err = r.updater.UpdateInstallation(ctx, inst)
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
		if raw.Tenant() != q.Tenant() { // the tenant went; the query fell back to its organization
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
	r.keys[t] = dk
	return dk, nil
}

// isCurrent reports whether every secret of raw is sealed by this store's
// provider under dk's master key.
func (r *rewrapper) isCurrent(raw *installstore.Installation, dk *dataKey) bool {
	prefix := formatVersion + "." + r.s.provider + "." + dk.keyIDEnc + "."
	return raw.Secrets(func(_ string, sec *installstore.Secret) error {
		p, err := parseSealed(sec.Reveal())
		if err != nil || !strings.HasPrefix(p.header, prefix) {
			return errFound
		}
		return nil
	}) == nil
}
