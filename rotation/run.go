package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

// Run refreshes, in the background, the tokens entering the refresh margin,
// so that an app with no inbound request for hours still holds valid tokens.
// It scans the store at once and then every [WithRunInterval], spreads the
// refreshes of one scan over half the interval, makes at most
// [WithRunConcurrency] at once, and shares flights and leases with
// request-driven refreshes (it never races them). Failures are logged and
// retried at the next scan.
//
// Run returns nil once ctx ends: it starts no new refresh and waits for the
// ones it started (each bounded by twice the lease TTL). It needs a
// store implementing [installstore.Lister]; without one it returns an error
// matching [installstore.ErrInvalid] at once.
func (r *Refresher) Run(ctx context.Context) error {
	if r.lister == nil {
		return fmt.Errorf("rotation: run: %w: the store cannot list installations (no installstore.Lister)", installstore.ErrInvalid)
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := r.refreshDue(ctx, r.runInterval/2); err != nil && ctx.Err() == nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: run: scan failed; retrying at the next interval", slog.String("error", err.Error()))
		}
		t.Reset(r.runInterval)
	}
}

// RefreshDue makes one scan of [Refresher.Run] without spreading: it lists
// the installations, refreshes every rotating token entering the margin (at
// most [WithRunConcurrency] at once) and returns how many records it found
// due. Refresh failures are logged, not returned; listing errors are.
func (r *Refresher) RefreshDue(ctx context.Context) (int, error) {
	if r.lister == nil {
		return 0, fmt.Errorf("rotation: refresh due: %w: the store cannot list installations (no installstore.Lister)", installstore.ErrInvalid)
	}
	return r.refreshDue(ctx, 0)
}

// refreshDue lists the due records and refreshes them, the i-th of n
// starting at i*spread/n.
func (r *Refresher) refreshDue(ctx context.Context, spread time.Duration) (int, error) {
	now := r.now()
	seen := make(map[installstore.Query]bool)
	var due []*installstore.Installation
	err := r.lister.ListInstallations(ctx, func(_ installstore.Query, inst *installstore.Installation) error {
		rq := inst.Query()
		if seen[rq] {
			return nil
		}
		for _, p := range parts {
			if t := p.get(inst); t.present() && !t.refresh.IsZero() && r.due(t, now) {
				seen[rq] = true
				due = append(due, inst)
				break
			}
		}
		return nil
	})
	if err != nil {
		// Some records could not be listed (say, one tenant's key is
		// revoked): refresh the rest, then report it.
		err = fmt.Errorf("rotation: refresh due: list installations: %w", err)
		r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: run: listing failed; refreshing what was listed",
			slog.Int("due", len(due)), slog.String("error", err.Error()))
	}
	var g errgroup.Group
	g.SetLimit(r.runConcurrency)
	start := time.Now()
	for i, inst := range due {
		if spread > 0 {
			at := start.Add(spread * time.Duration(i) / time.Duration(len(due)))
			if err := sleep(ctx, time.Until(at)); err != nil {
				break
			}
		} else if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			// A started refresh finishes even if ctx ends meanwhile: a
			// Slack call cut short could rotate a token nobody stores.
			if _, err := r.ensure(context.WithoutCancel(ctx), "run", inst, ""); err != nil {
				level := slog.LevelWarn
				if errors.As(err, new(repeated)) {
					level = slog.LevelDebug // logged when it happened
				}
				r.log.LogAttrs(ctx, level, "rotation: run: refresh failed",
					slog.String("tenant", inst.Tenant().String()), slog.String("user", inst.User.ID), slog.String("error", err.Error()))
			}
			return nil
		})
	}
	_ = g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return len(due), cerr
	}
	return len(due), err
}
