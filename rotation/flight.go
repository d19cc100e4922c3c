package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/installstore"
)

// Polling bounds for a replica waiting on another's lease.
const (
	pollFirst = 20 * time.Millisecond
	pollMax   = time.Second
	// writeAttempts bounds the conditional write-back retried after
	// unrelated concurrent writes.
	writeAttempts = 5
)

// flightKey names the flight (and dead mark) of one token: the bot token is
// the tenant's, a user token the tenant user's.
func flightKey(q installstore.Query, p part) string {
	if p == partBot {
		return "bot|" + q.Tenant().String()
	}
	return "user|" + q.Tenant().String() + "|" + q.UserID
}

// leaseName names the cross-replica lease of one token.
func leaseName(q installstore.Query, p part) string {
	if p == partBot {
		return "refresh:" + q.Tenant().String() + ":bot"
	}
	return "refresh:" + q.Tenant().String() + ":user:" + q.UserID
}

// refresh returns a fresh token for part p of inst's record, sharing one
// flight with every concurrent caller. A non-zero rejected forces a refresh
// while the stored token equals it (Slack refused it).
func (r *Refresher) refresh(ctx context.Context, inst *installstore.Installation, p part, rejected installstore.Secret) (token, error) {
	q := inst.Query()
	if p == partBot {
		// The bot is the tenant's: its flight reads and writes back the
		// tenant's latest installation, whichever user's record the caller
		// holds (that user may uninstall meanwhile; the bot stays).
		q.UserID = ""
	}
	key := flightKey(q, p)
	if r.dead.dead(key, fingerprintOf(p.get(inst).refresh)) {
		return token{}, repeated{reinstall("Slack rejected this refresh token before")}
	}
	if err := r.recent.get(key, r.now()); err != nil {
		return token{}, repeated{err}
	}
	fkey := key
	if !rejected.IsZero() {
		fkey = "force|" + key
	}
	led := false // set by the caller whose goroutine runs the flight
	ch := r.flights.DoChan(fkey, func() (any, error) {
		led = true
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.leaseTTL)
		defer cancel()
		return r.flight(fctx, q, p, rejected)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return token{}, res.Err
		}
		if !led { // the send on ch happens after the flight set led
			r.metrics.add(ctx, outcomeShared)
		}
		return res.Val.(token), nil
	case <-ctx.Done():
		return token{}, ctx.Err()
	}
}

// flight is one refresh of one token: take the lease (or wait for whoever
// holds it), re-read, call Slack if still needed, write back.
func (r *Refresher) flight(ctx context.Context, q installstore.Query, p part, rejected installstore.Secret) (token, error) {
	if r.leaser != nil {
		name := leaseName(q, p)
		// One owner per flight, so that two flights of this process for the
		// same token (a forced one and a normal one) exclude each other too.
		owner := r.owner + "-" + strconv.FormatUint(r.flightSeq.Add(1), 10)
		wait := pollFirst
		waited := false
		for {
			err := r.leaser.AcquireLease(ctx, name, owner, r.leaseTTL)
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
				return token{}, failed("waiting for the replica holding lease %s: %w", name, err)
			}
			wait = min(2*wait, pollMax)
		}
		defer func() {
			if err := r.leaser.ReleaseLease(context.WithoutCancel(ctx), name, owner); err != nil {
				r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: release lease failed; it expires on its own",
					slog.String("tenant", q.Tenant().String()), slog.String("token", p.String()), slog.String("error", err.Error()))
			}
		}()
	}
	// Holding the lease (or alone): re-read, someone may have finished.
	cur, err := r.fetch(ctx, q)
	if err != nil {
		return token{}, err
	}
	if t, done, err := r.check(cur, q, p, rejected); done || err != nil {
		return t, err
	}
	return r.renew(ctx, q, p, cur, rejected)
}

// fetch reads the record; ErrNotFound passes through, any other error
// is a refresh failure.
func (r *Refresher) fetch(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	cur, err := r.store.FetchInstallation(ctx, q)
	if err != nil {
		if errors.Is(err, installstore.ErrNotFound) {
			return nil, err
		}
		return nil, failed("read installation: %w", err)
	}
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
	switch {
	case !t.present():
		return token{}, false, fmt.Errorf("the %s token was revoked meanwhile: %w", p, installstore.ErrNotFound)
	case !r.due(t, r.now()) && (rejected.IsZero() || !same(t.token, rejected)):
		return t, true, nil
	case t.refresh.IsZero():
		if r.usable(t, r.now()) && rejected.IsZero() {
			return t, true, nil
		}
		return token{}, false, reinstall("expired and no refresh token stored")
	}
	if r.dead.stored(flightKey(q, p), fingerprintOf(t.refresh)) {
		return token{}, false, reinstall("Slack rejected this refresh token before")
	}
	return token{}, false, nil
}

// renew calls Slack with cur's refresh token and writes the new token back
// on cur's Version. rejected is the flight's (see refresh).
func (r *Refresher) renew(ctx context.Context, q installstore.Query, p part, cur *installstore.Installation, rejected installstore.Secret) (token, error) {
	old := p.get(cur)
	fresh, err := r.callSlack(ctx, old.refresh)
	if err != nil {
		if errors.Is(err, ErrReinstallRequired) {
			// A refresh that another writer finished meanwhile (a lease
			// that expired under a slow holder) also invalidates ours.
			if t, done, serr := r.settled(ctx, q, p, rejected); done {
				return t, nil
			} else if errors.Is(serr, installstore.ErrNotFound) {
				return token{}, serr
			}
			r.dead.mark(flightKey(q, p), fingerprintOf(old.refresh))
			r.metrics.add(ctx, outcomeReinstall)
			r.log.LogAttrs(ctx, slog.LevelError, "rotation: Slack rejected the refresh token; the app must be re-installed",
				slog.String("tenant", q.Tenant().String()), slog.String("user", q.UserID), slog.String("token", p.String()),
				slog.String("error", err.Error()))
			return token{}, err
		}
		r.metrics.add(ctx, outcomeFailed)
		wait := r.failureBackoff
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) && rl.RetryAfter > wait {
			wait = rl.RetryAfter
		}
		r.recent.put(flightKey(q, p), r.now().Add(wait), err)
		return token{}, err
	}
	r.recent.clear(flightKey(q, p))
	r.metrics.add(ctx, outcomeRefreshed)
	for range writeAttempts {
		upd := cur.Clone()
		p.set(upd, fresh)
		err := r.updater.UpdateInstallation(ctx, upd)
		if err == nil {
			fresh.version = upd.Version
			return fresh, nil
		}
		switch {
		case errors.Is(err, installstore.ErrNotFound):
			return token{}, fmt.Errorf("write back: %w", err) // deleted meanwhile: stays deleted
		case !errors.Is(err, installstore.ErrConflict):
			r.log.LogAttrs(ctx, slog.LevelError, "rotation: writing refreshed tokens failed; they are lost",
				slog.String("tenant", q.Tenant().String()), slog.String("user", q.UserID), slog.String("token", p.String()),
				slog.String("error", err.Error()))
			return token{}, failed("write back: %w", err)
		}
		if cur, err = r.fetch(ctx, q); err != nil {
			return token{}, err
		}
		if now := p.get(cur); !now.present() || !same(now.refresh, old.refresh) || !same(now.token, old.token) {
			// Another writer replaced this token (a replica, a re-install,
			// a revocation): theirs wins if it is usable.
			if t, done, err := r.check(cur, q, p, rejected); done || err != nil {
				return t, err
			}
			return token{}, failed("the %s token was replaced meanwhile by one that is due again", p)
		}
		// Only other fields changed: apply our token on the new Version.
	}
	return token{}, failed("write back: %d conflicting writes in a row", writeAttempts)
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
