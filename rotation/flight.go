package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

// Polling bounds for a replica waiting on another's lease.
const (
	pollFirst = 20 * time.Millisecond
	pollMax   = time.Second
	// writeAttempts bounds the inline conditional write-back retried after
	// unrelated concurrent writes; past it the write-back goes on in the
	// background (see writeback.go).
	writeAttempts = 5
)

// flightKey names the flight (and dead mark) of one token: the bot token is
// the tenant's, a user token the tenant user's.
func flightKey(q installstore.Query, p part) string {
	if p == partBot {
		return "bot|" + q.Tenant().Key()
	}
	return "user|" + q.Tenant().Key() + "|" + q.UserID
}

// leaseName names the cross-replica lease of one token. It is shared by
// every replica (and version) of the app: it uses the tenant's stable key.
func leaseName(q installstore.Query, p part) string {
	if p == partBot {
		return "refresh:" + q.Tenant().Key() + ":bot"
	}
	return "refresh:" + q.Tenant().Key() + ":user:" + q.UserID
}

// flightQuery is the record a flight of part p of inst reads and writes:
// the bot is the tenant's, so its flight uses the tenant's latest
// installation, whichever user's record the caller holds (that user may
// uninstall meanwhile; the bot stays).
func flightQuery(inst *installstore.Installation, p part) installstore.Query {
	q := inst.Query()
	if p == partBot {
		q.UserID = ""
	}
	return q
}

// join returns the flight refreshing part p of inst's record, starting it
// when none runs; led reports whether this call started it. A refresh token
// marked dead, or one in its failure backoff, gives the remembered error
// (wrapped in repeated) and starts nothing. A non-zero rejected forces a
// refresh while the stored token equals it (Slack refused it). A flight
// started in the background logs its own failure.
func (r *Refresher) join(ctx context.Context, inst *installstore.Installation, p part, rejected installstore.Secret, background bool) (*call, bool, error) {
	q := flightQuery(inst, p)
	key := flightKey(q, p)
	now := r.now()
	if r.dead.dead(key, fingerprintOf(p.get(inst).refresh), now) {
		return nil, false, repeated{reinstall("Slack rejected this refresh token before")}
	}
	if err := r.recent.get(key, now); err != nil {
		return nil, false, repeated{err}
	}
	fkey := key
	if !rejected.IsZero() {
		fkey = "force|" + key
	}
	detached := context.WithoutCancel(ctx)
	c, led := r.flights.start(fkey, func(c *call) {
		// The flight runs detached from any one caller's context, bounded
		// by twice the lease TTL; a caller whose context ends stops
		// waiting, the flight does not.
		fctx, cancel := context.WithTimeout(detached, 2*r.leaseTTL)
		defer cancel()
		c.tok, c.err = r.flight(fctx, q, p, rejected)
		if background && c.err != nil {
			level := slog.LevelWarn
			if errors.Is(c.err, installstore.ErrNotFound) {
				level = slog.LevelInfo // uninstalled or revoked meanwhile
			}
			r.log.LogAttrs(detached, level, "rotation: background refresh failed; the still-valid token is served meanwhile",
				slog.String("tenant", q.Tenant().String()), slog.String("user", q.UserID), slog.String("token", p.String()),
				slog.String("error", c.err.Error()))
		}
	})
	return c, led, nil
}

// refresh returns a fresh token for part p of inst's record, waiting (as
// long as ctx allows) for the one flight every concurrent caller shares.
func (r *Refresher) refresh(ctx context.Context, inst *installstore.Installation, p part, rejected installstore.Secret) (token, error) {
	c, led, err := r.join(ctx, inst, p, rejected, false)
	if err != nil {
		return token{}, err
	}
	select {
	case <-c.done:
		if c.err != nil {
			return token{}, c.err
		}
		if !led {
			r.metrics.add(ctx, outcomeShared)
		}
		return c.tok, nil
	case <-ctx.Done():
		return token{}, ctx.Err()
	}
}

// heldLease is the cross-replica lease a flight holds. A flight whose
// write-back goes on in the background hands it to the retrier, which
// keeps extending it and releases it when done.
type heldLease struct {
	name, owner string
	handedOff   bool
}

// flight is one refresh of one token: take the lease (or wait for whoever
// holds it), re-read, call Slack if still needed, write back.
func (r *Refresher) flight(ctx context.Context, q installstore.Query, p part, rejected installstore.Secret) (token, error) {
	// Every read of a flight (and of its write-back) must see the backend's
	// current state, not an encryption layer's cached record: a stale read
	// would send Slack a refresh token another replica already rotated.
	ctx = crypto.WithFreshRead(ctx)
	// One owner per flight, so that two flights of this process for the
	// same token (a forced one and a normal one) exclude each other too.
	l := &heldLease{name: leaseName(q, p), owner: r.owner + "-" + strconv.FormatUint(r.flightSeq.Add(1), 10)}
	wait := pollFirst
	waited := false
	for {
		err := r.store.AcquireLease(ctx, l.name, l.owner, r.leaseTTL)
		if err == nil {
			break
		}
		if !errors.Is(err, installstore.ErrLeaseHeld) {
			return token{}, failed("acquire lease: %w", err)
		}
		if !waited {
			waited = true
			r.metrics.add(ctx, outcomeLeaseWait)
		}
		// Another replica is refreshing: use what it writes.
		if t, done, err := r.settled(ctx, q, p, rejected); done || err != nil {
			return t, err
		}
		if err := sleep(ctx, wait/2+rand.N(wait/2+1)); err != nil {
			return token{}, failed("waiting for the replica holding lease %s: %w", l.name, err)
		}
		wait = min(2*wait, pollMax)
	}
	defer func() {
		if !l.handedOff {
			r.release(ctx, q, p, l)
		}
	}()
	// Holding the lease: re-read, someone may have finished.
	cur, err := r.fetch(ctx, q)
	if err != nil {
		return token{}, err
	}
	if t, done, err := r.check(cur, q, p, rejected); done || err != nil {
		return t, err
	}
	return r.renew(ctx, q, p, cur, rejected, l)
}

// release frees the lease; a failure only delays the next holder until the
// lease expires.
func (r *Refresher) release(ctx context.Context, q installstore.Query, p part, l *heldLease) {
	if err := r.store.ReleaseLease(context.WithoutCancel(ctx), l.name, l.owner); err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: release lease failed; it expires on its own",
			slog.String("tenant", q.Tenant().String()), slog.String("token", p.String()), slog.String("error", err.Error()))
	}
}

// fetch reads the record, with the tokens this process refreshed but has
// not stored yet (pending write-backs) in place of the ones they replaced.
// ErrNotFound passes through; any other error is a refresh failure, with
// its class (installstore.ErrUnavailable when transient).
func (r *Refresher) fetch(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	cur, err := r.store.FetchInstallation(ctx, q)
	if err != nil {
		if errors.Is(err, installstore.ErrNotFound) {
			return nil, err
		}
		return nil, failed("read installation: %w", err)
	}
	r.pending.overlay(cur)
	return cur, nil
}

// settled reads the record and reports whether the token needs no refresh
// (any more): it is not due and is not the rejected one. A token that
// disappeared (bot revoked, user uninstalled) gives ErrNotFound: nothing is
// written back for it.
func (r *Refresher) settled(ctx context.Context, q installstore.Query, p part, rejected installstore.Secret) (token, bool, error) {
	cur, err := r.fetch(ctx, q)
	if err != nil {
		return token{}, false, err
	}
	return r.check(cur, q, p, rejected)
}

// check is settled on a record already read.
func (r *Refresher) check(cur *installstore.Installation, q installstore.Query, p part, rejected installstore.Secret) (token, bool, error) {
	t := p.get(cur)
	now := r.now()
	switch {
	case !t.present():
		return token{}, false, fmt.Errorf("the %s token was revoked meanwhile: %w", p, installstore.ErrNotFound)
	case !r.due(t, now) && (rejected.IsZero() || !same(t.token, rejected)):
		return t, true, nil
	case t.refresh.IsZero():
		if r.usable(t, now) && rejected.IsZero() {
			return t, true, nil
		}
		return token{}, false, reinstall("expired and no refresh token stored")
	}
	if r.dead.stored(flightKey(q, p), fingerprintOf(t.refresh), now) {
		return token{}, false, reinstall("Slack rejected this refresh token before")
	}
	return token{}, false, nil
}

// renew calls Slack with cur's refresh token, under the lease l, and
// writes the new token back on cur's Version. rejected is the flight's (see
// join).
//
// Before calling Slack it records the refresh's intent in the store (a
// nonce named after the refresh token's keyed fingerprint), and removes it
// once the answer is stored. An intent found already recorded means an
// earlier refresh with this refresh token got no stored answer: if Slack
// now rejects the token, that answer was lost (write_back_lost), which the
// metrics and the log name as such.
func (r *Refresher) renew(ctx context.Context, q installstore.Query, p part, cur *installstore.Installation, rejected installstore.Secret, l *heldLease) (token, error) {
	old := p.get(cur)
	key := flightKey(q, p)
	intent := r.intentName(q, p, old.refresh)
	prior := false
	if err := r.store.PutNonce(ctx, intent, r.now().Add(intentTTL)); err != nil {
		if !errors.Is(err, installstore.ErrConflict) {
			// Without the intent recorded, a lost answer could not be told
			// from a dead token: do not call Slack.
			return token{}, failed("record the refresh intent: %w", err)
		}
		prior = true
	}
	fresh, f := r.callSlack(ctx, old.refresh)
	if f == nil {
		r.recent.clear(key)
		r.dead.lift(key)
		r.metrics.add(ctx, outcomeRefreshed)
		return r.writeBack(ctx, q, p, cur, old, fresh, rejected, l, intent)
	}
	err := f.err()
	if !errors.Is(err, ErrReinstallRequired) {
		r.metrics.add(ctx, outcomeFailed)
		r.recent.put(key, r.now().Add(max(r.failureBackoff, f.retryAfter)), err, r.now())
		return token{}, err
	}
	// A refresh that another writer finished meanwhile (a lease that
	// expired under a slow holder) also invalidates ours.
	t, done, serr := r.settled(ctx, q, p, rejected)
	switch {
	case done:
		return t, nil
	case errors.Is(serr, installstore.ErrNotFound):
		return token{}, serr
	case serr != nil && !errors.Is(serr, ErrReinstallRequired):
		// The store cannot tell us: remember nothing, fail with its class.
		return token{}, failed("Slack answered %s, and re-reading the installation failed: %w", f.code, serr)
	}
	r.consumeIntent(ctx, intent)
	r.dead.mark(key, fingerprintOf(old.refresh), r.now())
	r.metrics.add(ctx, outcomeReinstall)
	attrs := []slog.Attr{slog.String("tenant", q.Tenant().String()), slog.String("user", q.UserID), slog.String("token", p.String())}
	if prior {
		r.metrics.add(ctx, outcomeWriteBackLost)
		r.log.LogAttrs(ctx, slog.LevelError, "rotation: write-back lost: an earlier refresh with this refresh token was never stored "+
			"(the process holding Slack's answer stopped, or the answer was lost on the way) and Slack no longer accepts it; the app must be re-installed",
			append(attrs, slog.String("error", f.msg))...)
		return token{}, reinstall("write-back lost: an earlier refresh's answer was never stored; " + f.msg)
	}
	r.log.LogAttrs(ctx, slog.LevelError, "rotation: Slack rejected the refresh token; the app must be re-installed",
		append(attrs, slog.String("error", f.msg))...)
	return token{}, err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
