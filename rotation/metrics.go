package rotation

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// outcome is what happened to one refresh attempt.
type outcome int

const (
	outcomeRefreshed        outcome = iota // Slack issued a new token
	outcomeFailed                          // Slack or the network failed
	outcomeReinstall                       // Slack rejected the refresh token
	outcomeServedValid                     // refresh failed; the still-valid token was served
	outcomeRejected                        // refresh failed; the caller got ErrRefreshFailed
	outcomeLeaseWait                       // a flight waited for another replica's lease
	outcomeShared                          // a caller got the token another caller's refresh made
	outcomeServedRefreshing                // a caller got its still-valid token while the refresh ran in the background
	outcomeWriteBackRetried                // the write-back of a refreshed token failed and was retried in the background
	outcomeWriteBackLost                   // a refreshed token was lost before it was stored: re-install required
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"refreshed", "failed", "reinstall_required", "served_valid", "rejected", "lease_wait", "shared",
	"served_while_refreshing", "write_back_retried", "write_back_lost"}

// Stats counts refresh outcomes since [New], in this process.
type Stats struct {
	// Refreshed counts oauth.v2.access calls that issued a new token.
	Refreshed int64
	// Failed counts oauth.v2.access calls that failed (network, Slack error
	// other than a rejected refresh token).
	Failed int64
	// ReinstallRequired counts refresh tokens Slack rejected.
	ReinstallRequired int64
	// ServedValid counts calls that got a still-valid token after a failed refresh.
	ServedValid int64
	// Rejected counts calls that got ErrRefreshFailed.
	Rejected int64
	// LeaseWaits counts flights that waited for another replica's lease.
	LeaseWaits int64
	// Shared counts callers in this process that got the token a
	// concurrent caller's refresh made, instead of refreshing themselves.
	Shared int64
	// ServedWhileRefreshing counts calls that got their token, still valid
	// beyond the safety margin, at once while its refresh ran in the
	// background.
	ServedWhileRefreshing int64
	// WriteBackRetried counts refreshed tokens whose write-back failed (the
	// store or KMS unavailable) and was retried in the background until
	// stored or the installation was gone; callers in this process got the
	// new token meanwhile.
	WriteBackRetried int64
	// WriteBackLost counts refreshed tokens found lost: an earlier
	// refresh with the stored refresh token started (its intent is
	// recorded) and Slack rotated it, but its answer never reached the store
	// (the process holding it stopped first, or the answer was lost on the
	// way). The tenant must re-install; each also counts in
	// ReinstallRequired.
	WriteBackLost int64
}

type metrics struct {
	n       [numOutcomes]atomic.Int64
	counter metric.Int64Counter // nil without WithMeterProvider
	attrs   [numOutcomes]metric.AddOption
}

func (m *metrics) init(mp metric.MeterProvider) error {
	if mp == nil {
		return nil
	}
	c, err := mp.Meter("github.com/installvault/installvault/rotation").Int64Counter("installvault.rotation.refreshes",
		metric.WithDescription("Token refresh outcomes, by outcome."))
	if err != nil {
		return err
	}
	m.counter = c
	for i, name := range outcomeNames {
		m.attrs[i] = metric.WithAttributes(attribute.String("outcome", name))
	}
	return nil
}

func (m *metrics) add(ctx context.Context, o outcome) {
	m.n[o].Add(1)
	if m.counter != nil {
		m.counter.Add(ctx, 1, m.attrs[o])
	}
}

// Stats returns the refresh outcomes counted so far.
func (r *Refresher) Stats() Stats {
	m := &r.metrics
	return Stats{
		Refreshed:         m.n[outcomeRefreshed].Load(),
		Failed:            m.n[outcomeFailed].Load(),
		ReinstallRequired: m.n[outcomeReinstall].Load(),
		ServedValid:       m.n[outcomeServedValid].Load(),
		Rejected:          m.n[outcomeRejected].Load(),
		LeaseWaits:        m.n[outcomeLeaseWait].Load(),
		Shared:            m.n[outcomeShared].Load(),

		ServedWhileRefreshing: m.n[outcomeServedRefreshing].Load(),
		WriteBackRetried:      m.n[outcomeWriteBackRetried].Load(),
		WriteBackLost:         m.n[outcomeWriteBackLost].Load(),
	}
}
