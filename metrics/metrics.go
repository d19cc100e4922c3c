// Package metrics counts what happens to installations through the
// OpenTelemetry metric API, so operators plug in Prometheus, OTLP or any
// other exporter. Without a MeterProvider it records to a no-op provider.
//
// [Store] is a layer implementing the whole [installstore.FullStore]
// contract over the store below it: it counts installs (new and
// re-installs), uninstalls, revocations and token reads by outcome, and
// passes everything else through. [ScopeDrift] and [DriftMonitor] find
// installations whose granted scopes differ from the scopes the app
// requests now (scope drift) and record how many there are.
//
// # Where it goes
//
// The layers stack in one order (README's diagram):
//
//	oauth.Handler → rotation.Refresher → audit / metrics → crypto → residency or backend
//
// (residency may also sit above per-region crypto stores). Put [Store] above
// the encryption layer, beside audit: there a read the encryption layer
// fails is counted as an error. Below it, every count but one stays right
// (token_reads would count such a read "ok"; crypto.WithMeterProvider's
// installvault.crypto.decrypt_failures counts it either way), and nothing
// it sees is a secret, so that order breaks no guarantee and is not refused
// (a layer cannot see what is stacked above it anyway). [ScopeDrift] reads
// scopes only: run it over the backend below the encryption layer, which
// opens nothing.
//
// Other layers count their own events; give them the same provider:
//
//	crypto.WithMeterProvider    installvault.crypto.decrypt_failures,
//	                            installvault.crypto.key_provider_calls {op, outcome} (KMS calls),
//	                            installvault.crypto.data_key_cache {use, result} (cache hits)
//	rotation.WithMeterProvider  installvault.rotation.refreshes {outcome="refreshed"|"failed"|
//	                            "shared"|"served_valid"|"rejected"|"reinstall_required"|"lease_wait"|
//	                            "served_while_refreshing"|"write_back_retried"|"write_back_lost"}
//
// Instruments (all counters are monotonic, int64):
//
//	installvault.installs        {kind="new"|"reinstall"}
//	installvault.uninstalls      (DeleteInstallation and DeleteInstallationIf without a user)
//	installvault.revocations     {what="user"|"bot"}
//	installvault.token_reads     {outcome="ok"|"not_found"|"unavailable"|"error"}
//	installvault.scope_drift     gauge: installations drifting at the last check
//	installvault.scope_drift_skipped  gauge: records the last check skipped (corrupt, or not opening)
package metrics

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/installvault/installvault/installstore"
)

// ScopeName is the instrumentation scope of this package's meter.
const ScopeName = "github.com/installvault/installvault/metrics"

type config struct {
	provider metric.MeterProvider
}

// Option configures [NewStore] and [NewDriftMonitor].
type Option func(*config)

// WithMeterProvider sets the provider (default: a no-op provider).
func WithMeterProvider(p metric.MeterProvider) Option { return func(c *config) { c.provider = p } }

func newConfig(opts []Option) config {
	c := config{provider: noop.NewMeterProvider()}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Store is the counting layer. Methods it does not count are those of the
// embedded [installstore.Passthrough].
type Store struct {
	installstore.Passthrough
	installs, uninstalls, revocations, reads metric.Int64Counter
}

var (
	_ installstore.FullStore = (*Store)(nil)
	_ installstore.Unwrapper = (*Store)(nil)
)

var (
	attrNew       = metric.WithAttributes(attribute.String("kind", "new"))
	attrReinstall = metric.WithAttributes(attribute.String("kind", "reinstall"))
	attrUser      = metric.WithAttributes(attribute.String("what", "user"))
	attrBot       = metric.WithAttributes(attribute.String("what", "bot"))
	attrOK        = metric.WithAttributes(attribute.String("outcome", "ok"))
	attrNotFound  = metric.WithAttributes(attribute.String("outcome", "not_found"))
	attrError     = metric.WithAttributes(attribute.String("outcome", "error"))
	attrTransient = metric.WithAttributes(attribute.String("outcome", "unavailable"))
)

// NewStore returns inner wrapped so that its traffic is counted. A nil inner
// store is refused with an error wrapping [installstore.ErrInvalid].
//
// Telling a re-install from a new install costs one fetch of the tenant
// before each store (installs are rare); above the encryption layer, where
// the layer goes, that fetch opens the record.
func NewStore(inner installstore.FullStore, opts ...Option) (*Store, error) {
	if inner == nil {
		return nil, fmt.Errorf("metrics: new store: %w: nil inner store", installstore.ErrInvalid)
	}
	c := newConfig(opts)
	if c.provider == nil {
		return nil, fmt.Errorf("metrics: new store: %w: WithMeterProvider(nil)", installstore.ErrInvalid)
	}
	m := c.provider.Meter(ScopeName)
	s := &Store{Passthrough: installstore.Passthrough{Inner: inner}}
	var err error
	if s.installs, err = m.Int64Counter("installvault.installs", metric.WithDescription("Installations stored, by kind (new or reinstall).")); err != nil {
		return nil, fmt.Errorf("metrics: new store: %w", err)
	}
	if s.uninstalls, err = m.Int64Counter("installvault.uninstalls", metric.WithDescription("Tenants deleted whole (app_uninstalled).")); err != nil {
		return nil, fmt.Errorf("metrics: new store: %w", err)
	}
	if s.revocations, err = m.Int64Counter("installvault.revocations", metric.WithDescription("Tokens revoked, by what (user or bot).")); err != nil {
		return nil, fmt.Errorf("metrics: new store: %w", err)
	}
	if s.reads, err = m.Int64Counter("installvault.token_reads", metric.WithDescription("Installation fetches, by outcome.")); err != nil {
		return nil, fmt.Errorf("metrics: new store: %w", err)
	}
	return s, nil
}

// Unwrap implements [installstore.Unwrapper]: the store below.
func (s *Store) Unwrap() []installstore.FullStore { return []installstore.FullStore{s.Inner} }

// StoreInstallation counts a new install or a re-install.
func (s *Store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	kind := attrNew
	if inst != nil {
		// The org-wide fallback may answer for a workspace's first install:
		// only a record of the tenant itself makes this a re-install.
		if cur, err := s.Inner.FetchInstallation(ctx, installstore.Query{
			EnterpriseID: inst.EnterpriseID, TeamID: inst.TeamID, IsEnterpriseInstall: inst.IsEnterpriseInstall,
		}); err == nil && cur.Tenant() == inst.Tenant() {
			kind = attrReinstall
		}
	}
	if err := s.Inner.StoreInstallation(ctx, inst); err != nil {
		return err
	}
	s.installs.Add(ctx, 1, kind)
	return nil
}

// FetchInstallation counts the read by outcome.
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	inst, err := s.Inner.FetchInstallation(ctx, q)
	switch {
	case err == nil:
		s.reads.Add(ctx, 1, attrOK)
	case errors.Is(err, installstore.ErrNotFound):
		s.reads.Add(ctx, 1, attrNotFound)
	case errors.Is(err, installstore.ErrUnavailable):
		s.reads.Add(ctx, 1, attrTransient)
	default:
		s.reads.Add(ctx, 1, attrError)
	}
	return inst, err
}

// DeleteInstallation counts an uninstall (no UserID) or a user revocation.
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	if err := s.Inner.DeleteInstallation(ctx, q); err != nil {
		return err
	}
	if q.UserID == "" {
		s.uninstalls.Add(ctx, 1)
	} else {
		s.revocations.Add(ctx, 1, attrUser)
	}
	return nil
}

// DeleteBot counts a bot revocation.
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	if err := s.Inner.DeleteBot(ctx, q); err != nil {
		return err
	}
	s.revocations.Add(ctx, 1, attrBot)
	return nil
}

// DeleteInstallationIf counts as [Store.DeleteInstallation] does, when the
// delete happened (not on [installstore.ErrConflict]).
func (s *Store) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	if err := s.Inner.DeleteInstallationIf(ctx, q, version); err != nil {
		return err
	}
	if q.UserID == "" {
		s.uninstalls.Add(ctx, 1)
	} else {
		s.revocations.Add(ctx, 1, attrUser)
	}
	return nil
}

// DeleteBotIf counts a bot revocation, when the delete happened.
func (s *Store) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	if err := s.Inner.DeleteBotIf(ctx, q, version); err != nil {
		return err
	}
	s.revocations.Add(ctx, 1, attrBot)
	return nil
}
