// Package metrics counts what happens to installations through the
// OpenTelemetry metric API, so operators plug in Prometheus, OTLP or any
// other exporter. Without a MeterProvider it records to a no-op provider.
//
// [NewStore] wraps any store and counts installs (new and re-installs),
// uninstalls, revocations and token reads by outcome. [DriftMonitor] finds
// installations whose granted scopes differ from the scopes the app requests
// now (scope drift) and records how many there are.
//
// Other layers count their own events; give them the same provider:
//
//	crypto.WithMeterProvider    installvault.crypto.decrypt_failures,
//	                            installvault.crypto.key_provider_calls {op, outcome} (KMS calls),
//	                            installvault.crypto.data_key_cache {use, result} (cache hits)
//	rotation.WithMeterProvider  installvault.rotation.refreshes {outcome="refreshed"|"failed"|
//	                            "shared"|"served_valid"|"rejected"|"reinstall_required"|"lease_wait"}
//
// Instruments (all counters are monotonic, int64):
//
//	installvault.installs        {kind="new"|"reinstall"}
//	installvault.uninstalls
//	installvault.revocations     {what="user"|"bot"}
//	installvault.token_reads     {outcome="ok"|"not_found"|"error"}
//	installvault.scope_drift     gauge: installations drifting at the last check
package metrics

import (
	"context"
	"errors"

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

type store struct {
	installstore.Passthrough
	installs, uninstalls, revocations, reads metric.Int64Counter
}

var (
	attrNew       = metric.WithAttributes(attribute.String("kind", "new"))
	attrReinstall = metric.WithAttributes(attribute.String("kind", "reinstall"))
	attrUser      = metric.WithAttributes(attribute.String("what", "user"))
	attrBot       = metric.WithAttributes(attribute.String("what", "bot"))
	attrOK        = metric.WithAttributes(attribute.String("outcome", "ok"))
	attrNotFound  = metric.WithAttributes(attribute.String("outcome", "not_found"))
	attrError     = metric.WithAttributes(attribute.String("outcome", "error"))
)

// NewStore returns inner wrapped so that its traffic is counted. The result
// implements exactly the optional interfaces inner implements. Telling a
// re-install from a new install costs one fetch before each store (installs
// are rare); place the layer below the encryption layer to keep that fetch
// from opening secrets.
func NewStore(inner installstore.Store, opts ...Option) (installstore.Store, error) {
	if inner == nil {
		return nil, errors.New("metrics: nil inner store")
	}
	c := newConfig(opts)
	m := c.provider.Meter(ScopeName)
	s := &store{Passthrough: installstore.Passthrough{Inner: inner}}
	var err error
	if s.installs, err = m.Int64Counter("installvault.installs", metric.WithDescription("Installations stored, by kind (new or reinstall).")); err != nil {
		return nil, err
	}
	if s.uninstalls, err = m.Int64Counter("installvault.uninstalls", metric.WithDescription("Tenants deleted whole (app_uninstalled).")); err != nil {
		return nil, err
	}
	if s.revocations, err = m.Int64Counter("installvault.revocations", metric.WithDescription("Tokens revoked, by what (user or bot).")); err != nil {
		return nil, err
	}
	if s.reads, err = m.Int64Counter("installvault.token_reads", metric.WithDescription("Installation fetches, by outcome.")); err != nil {
		return nil, err
	}
	return installstore.Mirror(s, inner), nil
}

// StoreInstallation counts a new install or a re-install.
func (s *store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
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
func (s *store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	inst, err := s.Inner.FetchInstallation(ctx, q)
	switch {
	case err == nil:
		s.reads.Add(ctx, 1, attrOK)
	case errors.Is(err, installstore.ErrNotFound):
		s.reads.Add(ctx, 1, attrNotFound)
	default:
		s.reads.Add(ctx, 1, attrError)
	}
	return inst, err
}

// DeleteInstallation counts an uninstall (no UserID) or a user revocation.
func (s *store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
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
func (s *store) DeleteBot(ctx context.Context, q installstore.Query) error {
	if err := s.Inner.(installstore.BotDeleter).DeleteBot(ctx, q); err != nil {
		return err
	}
	s.revocations.Add(ctx, 1, attrBot)
	return nil
}
