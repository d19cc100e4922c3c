package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

// Run refreshes, in the background, the tokens entering the refresh margin,
// so that an app with no inbound request for hours still holds valid tokens.
// It asks the store's due index ([installstore.DueLister]) at once and then
// every [WithRunInterval], spreads the refreshes of one tick over half the
// interval, makes at most [WithRunConcurrency] at once, and shares flights
// and leases with request-driven refreshes (it never races them). A tick
// opens only the records the index lists: with nothing due it reads no
// record and makes no KMS call. Failures are logged and retried at the next
// tick. Every replica may run it: the lease keeps one refresh per token.
//
// Run returns nil once ctx ends: it starts no new refresh and waits for the
// ones it started (each bounded by twice the lease TTL; a write-back still
// being retried goes on, see [Refresher.Wait]).
func (r *Refresher) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := r.refreshDue(ctx, r.runInterval/2); err != nil && ctx.Err() == nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: run: tick incomplete; retrying at the next interval", slog.String("error", err.Error()))
		}
		t.Reset(r.runInterval)
	}
}

// RefreshDue makes one tick of [Refresher.Run] without spreading: it lists
// the records the due index says enter the margin, reads each (through the
// whole store stack, once) and refreshes its due tokens, at most
// [WithRunConcurrency] tenants at once, and returns how many records were
// listed. Refresh failures are logged, not returned. Records that could not
// be read (unavailable, unreadable, corrupt) are skipped and named in the
// returned error, with their class; so is a failed listing, after the
// records listed before it are refreshed.
func (r *Refresher) RefreshDue(ctx context.Context) (int, error) {
	return r.refreshDue(ctx, 0)
}

// refreshDue lists the due records and refreshes them by tenant, the i-th
// of n tenants starting at i*spread/n. A tenant's records are handled in
// turn, its latest record first: that refreshes the bot, which every record
// of the tenant shares, before its users' records are read, so that no
// record is read more than twice (once here, once under the lease).
func (r *Refresher) refreshDue(ctx context.Context, spread time.Duration) (int, error) {
	now := r.now()
	seen := make(map[installstore.Query]bool)
	byTenant := make(map[installstore.Tenant][]dueRecord)
	var order []installstore.Tenant
	listErr := r.store.ListDue(ctx, now.Add(r.refreshBefore), func(q installstore.Query, at time.Time) error {
		if seen[q] {
			return nil
		}
		seen[q] = true
		t := q.Tenant()
		recs, ok := byTenant[t]
		if !ok {
			order = append(order, t)
		}
		if q.UserID == "" { // the latest record first
			recs = append([]dueRecord{{q, at}}, recs...)
		} else {
			recs = append(recs, dueRecord{q, at})
		}
		byTenant[t] = recs
		return nil
	})
	if listErr != nil {
		listErr = fmt.Errorf("rotation: refresh due: list due records: %w", listErr)
		r.log.LogAttrs(ctx, slog.LevelWarn, "rotation: run: listing failed; refreshing what was listed",
			slog.Int("due", len(seen)), slog.String("error", listErr.Error()))
	}
	var (
		g       errgroup.Group
		mu      sync.Mutex
		skipped []error
	)
	g.SetLimit(r.runConcurrency)
	start := time.Now()
	for i, t := range order {
		if spread > 0 {
			at := start.Add(spread * time.Duration(i) / time.Duration(len(order)))
			if err := sleep(ctx, time.Until(at)); err != nil {
				break
			}
		} else if ctx.Err() != nil {
			break
		}
		recs := byTenant[t]
		g.Go(func() error {
			// A started refresh finishes even if ctx ends meanwhile: a
			// Slack call cut short could rotate a token nobody stores.
			dctx := context.WithoutCancel(ctx)
			for _, rec := range recs {
				if err := r.refreshRecord(dctx, rec); err != nil {
					mu.Lock()
					skipped = append(skipped, err)
					mu.Unlock()
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return len(seen), cerr
	}
	if len(skipped) > 0 {
		skippedErr := fmt.Errorf("rotation: refresh due: %d due record(s) could not be read and were skipped: %w", len(skipped), errors.Join(skipped...))
		return len(seen), errors.Join(listErr, skippedErr)
	}
	return len(seen), listErr
}

// dueRecord is a record the due index listed, with its refresh time.
type dueRecord struct {
	q  installstore.Query
	at time.Time
}

// dueKey names a record in r.deadDue.
func dueKey(q installstore.Query) string { return q.Tenant().Key() + "|" + q.UserID }

// refreshRecord reads the due record rec and refreshes its due tokens. It
// returns an error only when the record could not be read; refresh
// failures are logged.
//
// A record whose refresh needed a re-install is remembered with its
// refresh time: while the index lists it with the same time (nothing
// rewrote its tokens), later ticks skip it without reading it, so that
// tenants that never re-install cost no read and no KMS call per tick.
func (r *Refresher) refreshRecord(ctx context.Context, rec dueRecord) error {
	q := rec.q
	key := dueKey(q)
	if at, _, ok := r.deadDue.get(key, r.now()); ok && at.Equal(rec.at) {
		return nil
	}
	inst, err := r.store.FetchInstallation(ctx, q)
	switch {
	case errors.Is(err, installstore.ErrNotFound):
		return nil // deleted since it was listed
	case err != nil:
		return fmt.Errorf("%s: %w", where(q), err)
	}
	// Each due token on its own: one that needs a re-install does not keep
	// the record's other token from being refreshed.
	r.pending.overlay(inst)
	now := r.now()
	due, dead := 0, 0
	for _, p := range parts {
		isDue, err := r.ensurePart(ctx, "run", inst, p, installstore.Secret{}, true, now)
		if isDue {
			due++
		}
		if err == nil {
			continue
		}
		if errors.Is(err, ErrReinstallRequired) {
			dead++
		}
		level := slog.LevelWarn
		if errors.As(err, new(repeated)) {
			level = slog.LevelDebug // logged when it happened
		}
		r.log.LogAttrs(ctx, level, "rotation: run: refresh failed",
			slog.String("tenant", inst.Tenant().String()), slog.String("user", inst.User.ID), slog.String("token", p.String()),
			slog.String("error", err.Error()))
	}
	if dead > 0 && dead == due {
		r.deadDue.put(key, rec.at, now.Add(deadMarkTTL), now)
	} else {
		r.deadDue.del(key)
	}
	return nil
}
