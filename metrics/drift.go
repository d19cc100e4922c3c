package metrics

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"

	"github.com/installvault/installvault/crypto"
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
// want. It reads scopes only; it never looks at a token, so l is best the
// backend below the encryption layer.
//
// A record the listing skips (corrupt, or unreadable through an encryption
// layer) does not stop it: the drifts of every other record are returned
// together with the listing's error, which names the records skipped. When
// the listing itself fails, the drifts found before are returned with its
// error.
func ScopeDrift(ctx context.Context, l installstore.Lister, want Scopes) ([]Drift, error) {
	if l == nil {
		return nil, fmt.Errorf("metrics: scope drift: %w: nil lister", installstore.ErrInvalid)
	}
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
	if err != nil {
		return out, fmt.Errorf("metrics: scope drift: %w", err)
	}
	return out, nil
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

// DriftMonitor runs [ScopeDrift] on demand and exports, as of the last
// check that listed every record it could read, the count of drifting
// installations (gauge installvault.scope_drift) and of records skipped as
// corrupt or, over an encryption layer, unreadable (gauge
// installvault.scope_drift_skipped).
type DriftMonitor struct {
	lister        installstore.Lister
	want          Scopes
	last, skipped atomic.Int64
}

// NewDriftMonitor returns a monitor over l for the requested scopes. A nil
// l is refused with an error wrapping [installstore.ErrInvalid].
func NewDriftMonitor(l installstore.Lister, want Scopes, opts ...Option) (*DriftMonitor, error) {
	if l == nil {
		return nil, fmt.Errorf("metrics: new drift monitor: %w: nil lister", installstore.ErrInvalid)
	}
	c := newConfig(opts)
	if c.provider == nil {
		return nil, fmt.Errorf("metrics: new drift monitor: %w: WithMeterProvider(nil)", installstore.ErrInvalid)
	}
	d := &DriftMonitor{lister: l, want: want}
	m := c.provider.Meter(ScopeName)
	_, err := m.Int64ObservableGauge("installvault.scope_drift",
		metric.WithDescription("Installations whose granted scopes differ from the requested scopes, at the last check."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(d.last.Load())
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("metrics: new drift monitor: %w", err)
	}
	_, err = m.Int64ObservableGauge("installvault.scope_drift_skipped",
		metric.WithDescription("Records the last scope-drift check skipped because they are corrupt or do not open."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(d.skipped.Load())
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("metrics: new drift monitor: %w", err)
	}
	return d, nil
}

// Check lists the store, records the counts and returns the drifting
// installations. Records skipped as corrupt or unreadable do not stop it: the gauges are
// updated, and the drifts are returned with the error naming the records
// skipped. A listing that fails leaves the gauges as they were.
func (d *DriftMonitor) Check(ctx context.Context) ([]Drift, error) {
	drifts, err := ScopeDrift(ctx, d.lister, d.want)
	if n, complete := installstore.CountSkipped(err, installstore.ErrCorrupt, crypto.ErrDecrypt); err == nil || complete {
		d.last.Store(int64(len(drifts)))
		d.skipped.Store(int64(n))
	}
	return drifts, err
}
