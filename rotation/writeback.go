package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/installvault/installvault/installstore"
)

// Write-back retry bounds: the first retry after writeBackFirst, doubling,
// at most every writeBackMax (jittered). Each attempt is bounded by half
// the lease TTL.
const (
	writeBackFirst = 50 * time.Millisecond
	writeBackMax   = 5 * time.Second
	// writeBackMaxRefused is the cap while the store refuses the write
	// for a reason that is not transient but may be repaired (a KMS key
	// disabled, a corrupt record): every attempt may call KMS, and many
	// tokens may be stuck at once.
	writeBackMaxRefused = 5 * time.Minute
)

// writeBack stores fresh (Slack's answer to a refresh of old) in q's record
// on cur's Version. Unrelated concurrent writes are re-applied on; a write
// that cannot be made now (the store or KMS unavailable, too many conflicts)
// goes on in the background (retryWriteBack) and fresh is returned at once:
// Slack has already rotated the refresh token, so fresh is the only valid
// one and must not be dropped. A deleted installation or token stays
// deleted (ErrNotFound).
func (r *Refresher) writeBack(ctx context.Context, q installstore.Query, p part, cur *installstore.Installation, old, fresh token, rejected installstore.Secret, l *heldLease, intent string) (token, error) {
	var lastErr error
	for range writeAttempts {
		upd := cur.Clone()
		p.set(upd, fresh)
		err := r.store.UpdateInstallation(ctx, upd)
		if err == nil {
			fresh.version = upd.Version
			r.consumeIntent(ctx, intent)
			return fresh, nil
		}
		if errors.Is(err, installstore.ErrNotFound) {
			return token{}, fmt.Errorf("write back: %w", err) // deleted meanwhile: stays deleted
		}
		lastErr = err
		if !errors.Is(err, installstore.ErrConflict) {
			break
		}
		if cur, err = r.store.FetchInstallation(ctx, q); err != nil {
			if errors.Is(err, installstore.ErrNotFound) {
				return token{}, fmt.Errorf("write back: %w", err)
			}
			lastErr = err
			break
		}
		switch now := p.get(cur); {
		case !now.present():
			return token{}, fmt.Errorf("write back: the %s token was revoked meanwhile: %w", p, installstore.ErrNotFound)
		case same(now.token, fresh.token) && same(now.refresh, fresh.refresh):
			// An earlier attempt landed after all (it failed after writing).
			fresh.version = cur.Version
			r.consumeIntent(ctx, intent)
			return fresh, nil
		case !same(now.refresh, old.refresh) || !same(now.token, old.token):
			// Another writer replaced this token (a re-install, a
			// revocation, a replica without the lease): theirs wins if it
			// is usable.
			if t, done, err := r.check(cur, q, p, rejected); done || err != nil {
				return t, err
			}
			return token{}, failed("the %s token was replaced meanwhile by one that is due again", p)
		}
		// Only other fields changed: apply our token on the new Version.
	}
	r.pending.put(flightKey(q, p), old.refresh, fresh)
	r.metrics.add(ctx, outcomeWriteBackRetried)
	r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: write-back failed; retrying in the background, the new token is served by this process meanwhile",
		slog.String("tenant", q.Tenant().String()), slog.String("user", q.UserID), slog.String("token", p.String()),
		slog.String("error", lastErr.Error()))
	l.handedOff = true
	r.bg.add()
	go r.retryWriteBack(context.WithoutCancel(ctx), q, p, old, fresh, l, intent)
	return fresh, nil
}

// retryWriteBack retries the write-back of fresh until it is stored, the
// installation or token is gone, or another writer replaced the token,
// with bounded, jittered exponential backoff (capped at writeBackMax while
// the store is unavailable or conflicting, at writeBackMaxRefused while it
// refuses otherwise), detached from every caller. It keeps extending the
// lease l meanwhile, so that no replica calls Slack with the refresh token
// Slack already rotated, and releases it when done. A write the store
// rejects as invalid can never be made: it is given up at once, logged as
// an error; the intent stays, so the next refresh of the token (rejected
// by Slack) reports the write-back lost and requires a re-install.
func (r *Refresher) retryWriteBack(ctx context.Context, q installstore.Query, p part, old, fresh token, l *heldLease, intent string) {
	defer r.bg.done()
	key := flightKey(q, p)
	defer r.pending.del(key, fresh)
	defer r.release(ctx, q, p, l)
	attrs := []slog.Attr{slog.String("tenant", q.Tenant().String()), slog.String("user", q.UserID), slog.String("token", p.String())}
	wait := writeBackFirst
	for attempt := 2; ; attempt++ {
		_ = sleep(ctx, wait/2+rand.N(wait/2+1))
		actx, cancel := context.WithTimeout(ctx, r.leaseTTL/2)
		result, err := r.writeOnce(actx, q, p, old, fresh, l)
		cancel()
		switch result {
		case "":
			if errors.Is(err, installstore.ErrInvalid) {
				r.log.LogAttrs(ctx, slog.LevelError, "rotation: write-back refused by the store as invalid; the refreshed token is dropped and the installation needs a re-install",
					append(attrs, slog.Int("attempt", attempt), slog.String("error", err.Error()))...)
				return
			}
			limit := writeBackMax
			if !errors.Is(err, installstore.ErrUnavailable) && !errors.Is(err, installstore.ErrConflict) && !errors.Is(err, context.DeadlineExceeded) {
				limit = writeBackMaxRefused
			}
			wait = min(2*wait, limit)
			r.log.LogAttrs(ctx, slog.LevelDebug, "rotation: write-back retry failed; retrying",
				append(attrs, slog.Int("attempt", attempt), slog.String("error", err.Error()))...)
			continue
		case "stored":
			r.consumeIntent(ctx, intent)
			r.log.LogAttrs(ctx, slog.LevelInfo, "rotation: write-back stored after retrying", append(attrs, slog.Int("attempts", attempt))...)
		case "gone":
			r.log.LogAttrs(ctx, slog.LevelInfo, "rotation: write-back dropped: the installation or token was deleted meanwhile", attrs...)
		default: // "replaced"
			r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: write-back dropped: another writer replaced the token meanwhile (a re-install)", attrs...)
		}
		return
	}
}

// writeOnce is one background write-back attempt: "stored", "gone",
// "replaced", or "" with the error to retry after.
func (r *Refresher) writeOnce(ctx context.Context, q installstore.Query, p part, old, fresh token, l *heldLease) (string, error) {
	// Extend the lease; if that fails it may lapse, and the conditional
	// write below stays safe.
	_ = r.store.AcquireLease(ctx, l.name, l.owner, r.leaseTTL)
	cur, err := r.store.FetchInstallation(ctx, q)
	switch {
	case errors.Is(err, installstore.ErrNotFound):
		return "gone", nil
	case err != nil:
		return "", err
	}
	switch now := p.get(cur); {
	case !now.present():
		return "gone", nil
	case same(now.token, fresh.token) && same(now.refresh, fresh.refresh):
		return "stored", nil
	case !same(now.refresh, old.refresh):
		return "replaced", nil
	}
	upd := cur.Clone()
	p.set(upd, fresh)
	switch err := r.store.UpdateInstallation(ctx, upd); {
	case err == nil:
		return "stored", nil
	case errors.Is(err, installstore.ErrNotFound):
		return "gone", nil
	default:
		return "", err // a conflict is re-read at the next attempt
	}
}

// pendingWrites are the refreshed tokens of this process not stored yet,
// by flight key, with the refresh token each replaced. Entries live while
// their write-back is retried.
type pendingWrites struct {
	mu sync.Mutex
	m  map[string]pendingWrite
	n  atomic.Int64 // len(m), read without the lock on the hot path
}

type pendingWrite struct {
	old   installstore.Secret // the stored refresh token fresh replaces
	fresh token
}

func (w *pendingWrites) put(key string, old installstore.Secret, fresh token) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[string]pendingWrite)
	}
	w.m[key] = pendingWrite{old, fresh}
	w.n.Store(int64(len(w.m)))
}

// del forgets key's pending write if it is still fresh's.
func (w *pendingWrites) del(key string, fresh token) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pw, ok := w.m[key]; ok && same(pw.fresh.token, fresh.token) {
		delete(w.m, key)
	}
	w.n.Store(int64(len(w.m)))
}

// overlay replaces, in inst, each token a pending write-back replaces.
func (w *pendingWrites) overlay(inst *installstore.Installation) {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range parts {
		t := p.get(inst)
		if !t.present() {
			continue
		}
		if pw, ok := w.m[flightKey(flightQuery(inst, p), p)]; ok && same(t.refresh, pw.old) {
			p.set(inst, pw.fresh)
		}
	}
}

func (w *pendingWrites) len() int { return int(w.n.Load()) }
