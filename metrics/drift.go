package metrics

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"

	"github.com/installvault/installvault/installstore"
)

// Scopes are the scopes an app requests now.
type Scopes struct {
	Bot  []string
	User []string
}

// Drift is one installation whose granted scopes differ from the requested
// ones: it was installed before the app changed its scopes, and needs a
// re-install to get the new ones (or still holds scopes the app dropped).
type Drift struct {
	// Query fetches the drifting record.
	Query installstore.Query
	// MissingBot and ExtraBot compare the bot's granted scopes with the
	// requested ones (latest installations only).
	MissingBot, ExtraBot []string
	// MissingUser and ExtraUser compare a user's granted scopes with the
	// requested user scopes (user installations with a user token only).
	MissingUser, ExtraUser []string
}

// ScopeDrift lists every installation and returns those that drift from
// want. It reads scopes only; it never looks at a token.
func ScopeDrift(ctx context.Context, l installstore.Lister, want Scopes) ([]Drift, error) {
	var out []Drift
	err := l.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		d := Drift{Query: q}
		if q.UserID == "" && inst.Bot != nil {
			d.MissingBot, d.ExtraBot = diff(want.Bot, inst.Bot.Scopes)
		}
		if q.UserID != "" && !inst.User.Token.IsZero() {
			d.MissingUser, d.ExtraUser = diff(want.User, inst.User.Scopes)
		}
		if len(d.MissingBot)+len(d.ExtraBot)+len(d.MissingUser)+len(d.ExtraUser) > 0 {
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// diff returns the sorted scopes of want missing from got, and of got not in want.
func diff(want, got []string) (missing, extra []string) {
	for _, s := range want {
		if !slices.Contains(got, s) && !slices.Contains(missing, s) {
			missing = append(missing, s)
		}
	}
	for _, s := range got {
		if !slices.Contains(want, s) && !slices.Contains(extra, s) {
			extra = append(extra, s)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

// DriftMonitor runs [ScopeDrift] on demand and exports the count of
// drifting installations found by the last check as the gauge
// installvault.scope_drift.
type DriftMonitor struct {
	lister installstore.Lister
	want   Scopes
	last   atomic.Int64
}

// NewDriftMonitor returns a monitor over l for the requested scopes.
func NewDriftMonitor(l installstore.Lister, want Scopes, opts ...Option) (*DriftMonitor, error) {
	if l == nil {
		return nil, errors.New("metrics: nil lister")
	}
	c := newConfig(opts)
	d := &DriftMonitor{lister: l, want: want}
	_, err := c.provider.Meter(ScopeName).Int64ObservableGauge("installvault.scope_drift",
		metric.WithDescription("Installations whose granted scopes differ from the requested scopes, at the last check."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(d.last.Load())
			return nil
		}))
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Check lists the store, records the count and returns the drifting installations.
func (d *DriftMonitor) Check(ctx context.Context) ([]Drift, error) {
	drifts, err := ScopeDrift(ctx, d.lister, d.want)
	if err != nil {
		return nil, err
	}
	d.last.Store(int64(len(drifts)))
	return drifts, nil
}
