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

	"golang.org/x/sync/singleflight"

	"github.com/installvault/installvault/installstore"
)

// Refresher hands out installations whose tokens are valid, refreshing
// rotating tokens once per installation across goroutines and replicas.
// Create it with [New]; it is safe for concurrent use.
type Refresher struct {
	store   installstore.Store
	updater installstore.Updater
	leaser  installstore.Leaser // nil: in-process de-duplication only
	lister  installstore.Lister // nil: Run is unavailable

	config // the options, validated and defaulted by New

	owner     string // lease owner prefix: random per Refresher
	flightSeq atomic.Uint64
	flights   singleflight.Group
	dead      deadMarks
	recent    recentFailures
	metrics   metrics
}

// New returns a Refresher over store, which must implement
// [installstore.Updater] (the conditional write-back). If store implements
// [installstore.Leaser], refreshes are coordinated across replicas; if it
// implements [installstore.Lister], [Refresher.Run] is available.
// [WithClientCredentials] is required.
func New(store installstore.Store, opts ...Option) (*Refresher, error) {
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
	if store == nil {
		return nil, fmt.Errorf("rotation: new: %w: nil store", installstore.ErrInvalid)
	}
	up, ok := store.(installstore.Updater)
	if !ok {
		return nil, fmt.Errorf("rotation: new: %w: the store cannot write conditionally (no installstore.Updater)", installstore.ErrInvalid)
	}
	switch {
	case c.clientID == "" || c.clientSecret.IsZero():
		return nil, fmt.Errorf("rotation: new: %w: WithClientCredentials is required", installstore.ErrInvalid)
	case c.refreshBefore < 0 || c.safetyMargin < 0 || c.failureBackoff < 0:
		return nil, fmt.Errorf("rotation: new: %w: negative refresh margin, safety margin or failure backoff", installstore.ErrInvalid)
	case c.leaseTTL <= 0 || c.runInterval <= 0 || c.runConcurrency <= 0:
		return nil, fmt.Errorf("rotation: new: %w: lease TTL, run interval and run concurrency must be positive", installstore.ErrInvalid)
	case c.now == nil:
		return nil, fmt.Errorf("rotation: new: %w: nil clock", installstore.ErrInvalid)
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
		updater: up,
		config:  c,
		owner:   "rotation-" + hex.EncodeToString(id[:]),
	}
	r.leaser, _ = store.(installstore.Leaser)
	r.lister, _ = store.(installstore.Lister)
	if err := r.metrics.init(c.meter); err != nil {
		return nil, fmt.Errorf("rotation: new: metrics: %w", err)
	}
	return r, nil
}

// Authorize returns the installation q selects, with its bot token and user
// token valid for at least the refresh margin: tokens entering the margin
// are refreshed first (once, whoever else asks at the same time).
//
// If a refresh fails while the current token is still outside the safety
// margin, that token is returned and the failure logged and counted. If it
// fails for a token that expired (or is within the safety margin), the error
// matches [ErrRefreshFailed] and no installation is returned. A missing or
// meanwhile deleted installation gives [installstore.ErrNotFound].
func (r *Refresher) Authorize(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	inst, err := r.store.FetchInstallation(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("rotation: authorize %s: %w", where(q), err)
	}
	return r.ensure(ctx, "authorize", inst, "")
}

// ensure refreshes the tokens of inst that are due (and the bot token when
// it equals rejected, a token Slack refused) and returns inst updated.
func (r *Refresher) ensure(ctx context.Context, op string, inst *installstore.Installation, rejected installstore.Secret) (*installstore.Installation, error) {
	now := r.now()
	if rejected.IsZero() && r.fresh(inst, now) {
		return inst, nil // the hot path: nothing to refresh
	}
	for _, p := range parts {
		var force installstore.Secret
		if p == partBot {
			force = rejected
		}
		t := p.get(inst)
		if !t.present() {
			continue
		}
		if !r.due(t, now) && (force.IsZero() || !same(t.token, force)) {
			continue
		}
		if t.refresh.IsZero() {
			if r.usable(t, now) && force.IsZero() {
				continue // cannot be refreshed, still valid: Slack decides
			}
			return nil, fmt.Errorf("rotation: %s %s: %s token: %w", op, where(inst.Query()), p, reinstall("expired and no refresh token stored"))
		}
		fresh, err := r.refresh(ctx, inst, p, force)
		if err == nil {
			p.set(inst, fresh)
			inst.Version = max(inst.Version, fresh.version)
			continue
		}
		if errors.Is(err, installstore.ErrNotFound) || ctx.Err() != nil {
			return nil, fmt.Errorf("rotation: %s %s: refresh %s token: %w", op, where(inst.Query()), p, err)
		}
		if force.IsZero() && r.usable(t, r.now()) {
			r.metrics.add(ctx, outcomeServedValid)
			level := slog.LevelWarn
			if errors.As(err, new(repeated)) {
				level = slog.LevelDebug
			}
			r.log.LogAttrs(ctx, level, "rotation: refresh failed; serving the still-valid token",
				slog.String("op", op), slog.String("tenant", inst.Tenant().String()), slog.String("user", inst.User.ID),
				slog.String("token", p.String()), slog.Time("expires_at", t.expires), slog.String("error", err.Error()))
			continue
		}
		r.metrics.add(ctx, outcomeRejected)
		return nil, fmt.Errorf("rotation: %s %s: refresh %s token: %w", op, where(inst.Query()), p, err)
	}
	return inst, nil
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

// due reports whether t rotates and expires within the refresh margin.
func (r *Refresher) due(t token, now time.Time) bool {
	return !t.expires.IsZero() && !now.Add(r.refreshBefore).Before(t.expires)
}

// usable reports whether t may still be handed out: it does not expire, or
// expires after the safety margin.
func (r *Refresher) usable(t token, now time.Time) bool {
	return t.expires.IsZero() || now.Add(r.safetyMargin).Before(t.expires)
}
