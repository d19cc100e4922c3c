package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/installvault/installvault/installstore"
)

// Refresher hands out installations whose tokens are valid, refreshing
// rotating tokens once per installation across goroutines and replicas.
// Create it with [New]; it is safe for concurrent use.
type Refresher struct {
	store installstore.FullStore

	config // the options, validated and defaulted by New

	owner     string // lease owner prefix: random per Refresher
	flightSeq atomic.Uint64
	bg        tracker // background flights and write-backs, for Wait
	flights   flightGroup
	dead      deadMarks
	deadDue   *expiring[time.Time] // due records needing a re-install, by dueKey: skipped by Run
	recent    recentFailures
	pending   pendingWrites
	metrics   metrics

	shortLifetimeWarned atomic.Bool // logged once: Slack's tokens live less than the refresh margin
	hot                 hotClock    // the hot path's time.Now, without WithClock
}

// New returns a Refresher over store: typically crypto.NewStore over a
// backend, so that it sees plaintext secrets. The lease
// ([installstore.Leaser]) coordinates refreshes across replicas, the
// conditional write ([installstore.Updater]) keeps exactly one result, the
// nonces ([installstore.NonceStore]) record refresh intents, and the due
// index ([installstore.DueLister]) drives [Refresher.Run].
// [WithClientCredentials] is required.
func New(store installstore.FullStore, opts ...Option) (*Refresher, error) {
	c := config{
		refreshBefore:  DefaultRefreshBefore,
		safetyMargin:   DefaultSafetyMargin,
		now:            time.Now,
		leaseTTL:       DefaultLeaseTTL,
		runInterval:    DefaultRunInterval,
		runConcurrency: DefaultRunConcurrency,
		failureBackoff: DefaultFailureBackoff,
	}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case store == nil:
		return nil, fmt.Errorf("rotation: new: %w: nil store", installstore.ErrInvalid)
	case c.clientID == "" || c.clientSecret.IsZero():
		return nil, fmt.Errorf("rotation: new: %w: WithClientCredentials is required", installstore.ErrInvalid)
	case c.refreshBefore < 0 || c.safetyMargin < 0 || c.failureBackoff < 0:
		return nil, fmt.Errorf("rotation: new: %w: negative refresh margin, safety margin or failure backoff", installstore.ErrInvalid)
	case c.leaseTTL <= 0 || c.runInterval <= 0 || c.runConcurrency <= 0:
		return nil, fmt.Errorf("rotation: new: %w: lease TTL, run interval and run concurrency must be positive", installstore.ErrInvalid)
	case c.now == nil:
		return nil, fmt.Errorf("rotation: new: %w: nil clock", installstore.ErrInvalid)
	}
	if c.apiURL != "" {
		if err := checkAPIURL(c.apiURL); err != nil {
			return nil, err
		}
	}
	if err := installstore.CheckAppScope(store, c.clientID); err != nil {
		return nil, fmt.Errorf("rotation: new: %w", err)
	}
	if c.safetyMargin > c.refreshBefore {
		c.safetyMargin = c.refreshBefore
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("rotation: new: lease owner ID: %w", err)
	}
	r := &Refresher{
		store:   store,
		config:  c,
		owner:   "rotation-" + hex.EncodeToString(id[:]),
		dead:    newDeadMarks(),
		deadDue: newExpiring[time.Time](maxRemembered),
		recent:  newRecentFailures(),
	}
	r.flights.track = &r.bg
	if err := r.metrics.init(c.meter); err != nil {
		return nil, fmt.Errorf("rotation: new: metrics: %w", err)
	}
	return r, nil
}

// Authorize returns the installation q selects, with its bot token and user
// token valid: a token entering the refresh margin is refreshed (once,
// whoever else asks at the same time) in the background while it is still
// valid beyond the safety margin, and it is returned at once; only a token
// within the safety margin (or expired) makes the call wait for its
// refresh, as long as ctx allows.
//
// If that refresh fails, the error matches [ErrRefreshFailed] and no
// installation is returned (also [installstore.ErrUnavailable] when the
// store, KMS or Slack failed transiently; [ErrReinstallRequired] only when
// Slack rejected the refresh token). A missing or meanwhile deleted
// installation gives [installstore.ErrNotFound]; a failure of the first
// read is returned with its class.
func (r *Refresher) Authorize(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	inst, err := r.store.FetchInstallation(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("rotation: authorize: %w", err) // the store names the tenant
	}
	return r.ensure(ctx, "authorize", inst, installstore.Secret{}, false)
}

// Wait blocks until no background refresh or write-back of this Refresher
// runs, or ctx ends (its error). Call it when shutting down, after the last
// request: a token Slack rotated is then stored before the process exits
// (see the package doc's remaining window).
func (r *Refresher) Wait(ctx context.Context) error { return r.bg.wait(ctx) }

// ensure refreshes the tokens of inst that are due (and the bot token when
// it equals rejected, a token Slack refused) and returns inst updated. With
// waitAll (Run, Do) it waits for every due token's refresh; otherwise a
// token still usable beyond the safety margin is refreshed in the
// background and served as it is. The first token that cannot be served
// fails the call.
func (r *Refresher) ensure(ctx context.Context, op string, inst *installstore.Installation, rejected installstore.Secret, waitAll bool) (*installstore.Installation, error) {
	r.pending.overlay(inst)
	if rejected.IsZero() && !expires(inst) {
		return inst, nil // the hot path without a clock read: no token expires
	}
	if rejected.IsZero() && r.fresh(inst, r.hotNow()) {
		return inst, nil // the hot path: nothing to refresh
	}
	now := r.now()
	for _, p := range parts {
		var force installstore.Secret
		if p == partBot {
			force = rejected
		}
		if _, err := r.ensurePart(ctx, op, inst, p, force, waitAll, now); err != nil {
			return nil, err
		}
	}
	return inst, nil
}

// ensurePart is ensure for part p of inst (already overlaid with pending
// write-backs), as of now. due reports whether the token needed a refresh;
// a nil error means inst holds a token that may be served (or none).
func (r *Refresher) ensurePart(ctx context.Context, op string, inst *installstore.Installation, p part, force installstore.Secret, waitAll bool, now time.Time) (due bool, err error) {
	t := p.get(inst)
	if !t.present() {
		return false, nil
	}
	forced := !force.IsZero() && same(t.token, force)
	if !r.due(t, now) && !forced {
		return false, nil
	}
	if t.refresh.IsZero() {
		if r.usable(t, now) && !forced {
			return true, nil // cannot be refreshed, still valid: Slack decides
		}
		return true, fmt.Errorf("rotation: %s %s: %s token: %w", op, where(inst.Query()), p, reinstall("expired and no refresh token stored"))
	}
	if !forced && !waitAll && r.usable(t, now) {
		r.refreshInBackground(ctx, op, inst, p, t)
		return true, nil
	}
	fresh, err := r.refresh(ctx, inst, p, force)
	if err == nil {
		p.set(inst, fresh)
		inst.Version = max(inst.Version, fresh.version)
		return true, nil
	}
	if errors.Is(err, installstore.ErrNotFound) || ctx.Err() != nil {
		return true, fmt.Errorf("rotation: %s %s: refresh %s token: %w", op, where(inst.Query()), p, err)
	}
	if !forced && r.usable(t, r.now()) {
		r.servedValid(ctx, op, inst, p, t, err)
		return true, nil
	}
	r.metrics.add(ctx, outcomeRejected)
	return true, fmt.Errorf("rotation: %s %s: refresh %s token: %w", op, where(inst.Query()), p, err)
}

// refreshInBackground starts (or joins) the refresh of t, part p of inst,
// without waiting for it: t is served meanwhile. A refresh token known dead
// or in its failure backoff starts nothing; t is served all the same.
func (r *Refresher) refreshInBackground(ctx context.Context, op string, inst *installstore.Installation, p part, t token) {
	if _, _, err := r.join(ctx, inst, p, installstore.Secret{}, true); err != nil {
		r.servedValid(ctx, op, inst, p, t, err)
		return
	}
	r.metrics.add(ctx, outcomeServedRefreshing)
}

// servedValid counts and logs a still-valid token served after its refresh
// failed (at debug level when the failure was logged when it happened).
func (r *Refresher) servedValid(ctx context.Context, op string, inst *installstore.Installation, p part, t token, err error) {
	r.metrics.add(ctx, outcomeServedValid)
	level := slog.LevelWarn
	if errors.As(err, new(repeated)) {
		level = slog.LevelDebug
	}
	r.log.LogAttrs(ctx, level, "rotation: refresh failed; serving the still-valid token",
		slog.String("op", op), slog.String("tenant", inst.Tenant().String()), slog.String("user", inst.User.ID),
		slog.String("token", p.String()), slog.Time("expires_at", t.expires), slog.String("error", err.Error()))
}

// hotNow is the time for Authorize's check that nothing is due: the
// configured clock, or time.Now through hotClock.
func (r *Refresher) hotNow() time.Time {
	if r.clockSet {
		return r.now()
	}
	return r.hot.now()
}

// fresh reports whether no token of inst expires within the refresh margin.
func (r *Refresher) fresh(inst *installstore.Installation, now time.Time) bool {
	limit := now.Add(r.refreshBefore)
	if b := inst.Bot; b != nil && !b.Token.IsZero() && !b.ExpiresAt.IsZero() && !limit.Before(b.ExpiresAt) {
		return false
	}
	u := &inst.User
	return u.Token.IsZero() || u.ExpiresAt.IsZero() || limit.Before(u.ExpiresAt)
}

// expires reports whether a token of inst has an expiry (so that fresh
// needs the time).
func expires(inst *installstore.Installation) bool {
	if b := inst.Bot; b != nil && !b.Token.IsZero() && !b.ExpiresAt.IsZero() {
		return true
	}
	return !inst.User.Token.IsZero() && !inst.User.ExpiresAt.IsZero()
}

// due reports whether t rotates and expires within the refresh margin.
func (r *Refresher) due(t token, now time.Time) bool {
	return !t.expires.IsZero() && !now.Add(r.refreshBefore).Before(t.expires)
}

// usable reports whether t may still be handed out: it does not expire, or
// expires after the safety margin.
func (r *Refresher) usable(t token, now time.Time) bool {
	return t.expires.IsZero() || now.Add(r.safetyMargin).Before(t.expires)
}
