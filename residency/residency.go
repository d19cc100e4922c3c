// Package residency routes each tenant to one of several backends, so that,
// for example, EU workspaces' tokens live only in an EU DynamoDB table.
//
// A [Router] names the region of a tenant; every operation on that tenant
// (store, fetch, update, delete) goes to that region's store and no other.
// Tenant-less data (OAuth state nonces, refresh leases) lives in one home
// region ([WithHomeRegion]). The routed store implements the optional
// capabilities every region's store shares.
//
// Enterprise Grid: a workspace of an organization with no install of its own
// is served by the organization's org-wide install, which the backend finds
// only within the same region. So an organization and its workspaces must
// share a region: route on EnterpriseID when it is set. The store enforces
// it: a workspace of an enterprise that the router sends to another region
// than the enterprise itself gets [ErrSplitEnterprise], never a silent miss.
package residency

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/installvault/installvault/installstore"
)

// Router returns the region of a tenant. It must be a pure function of the
// tenant: a tenant routed differently over time would lose its records.
type Router func(installstore.Tenant) (region string, err error)

// ErrUnknownRegion is returned when the router names a region that has no store.
var ErrUnknownRegion = errors.New("residency: unknown region")

// ErrSplitEnterprise is returned when the router sends a workspace of an
// enterprise to another region than the enterprise's org-wide tenant, which
// would break the org-wide fallback.
var ErrSplitEnterprise = errors.New("residency: a workspace routed away from its enterprise")

type store struct {
	route   Router
	regions map[string]installstore.Store
	names   []string // sorted, for deterministic listing
	home    string
}

// Option configures the routed store.
type Option func(*store)

// WithHomeRegion names the region that keeps tenant-less data: OAuth state
// nonces and refresh leases. Required when the regions' stores keep nonces
// or leases.
func WithHomeRegion(region string) Option { return func(s *store) { s.home = region } }

// NewStore returns a store routing each tenant to regions[route(tenant)].
func NewStore(route Router, regions map[string]installstore.Store, opts ...Option) (installstore.Store, error) {
	if route == nil {
		return nil, errors.New("residency: nil router")
	}
	if len(regions) == 0 {
		return nil, errors.New("residency: no regions")
	}
	s := &store{route: route, regions: make(map[string]installstore.Store, len(regions))}
	var stores []installstore.Store
	for name, r := range regions {
		if r == nil {
			return nil, fmt.Errorf("residency: region %q has a nil store", name)
		}
		s.regions[name] = r
		s.names = append(s.names, name)
		stores = append(stores, r)
	}
	slices.Sort(s.names)
	for _, o := range opts {
		o(s)
	}
	out := installstore.Mirror(s, stores[0], stores[1:]...)
	_, nonces := out.(installstore.NonceStore)
	_, leases := out.(installstore.Leaser)
	if s.home == "" && (nonces || leases) {
		return nil, errors.New("residency: the regions keep nonces and leases: name the region that keeps them with WithHomeRegion")
	}
	if s.home != "" && s.regions[s.home] == nil {
		return nil, fmt.Errorf("residency: home region %q: %w", s.home, ErrUnknownRegion)
	}
	return out, nil
}

func (s *store) storeFor(t installstore.Tenant) (installstore.Store, error) {
	name, err := s.route(t)
	if err != nil {
		return nil, fmt.Errorf("residency: route tenant %s: %w", t, err)
	}
	if t.EnterpriseID != "" && t.TeamID != "" {
		org := installstore.Tenant{EnterpriseID: t.EnterpriseID}
		orgRegion, err := s.route(org)
		if err != nil {
			return nil, fmt.Errorf("residency: route tenant %s: %w", org, err)
		}
		if orgRegion != name {
			return nil, fmt.Errorf("%w: tenant %s to %q, its enterprise to %q", ErrSplitEnterprise, t, name, orgRegion)
		}
	}
	r := s.regions[name]
	if r == nil {
		return nil, fmt.Errorf("residency: tenant %s routed to %q: %w", t, name, ErrUnknownRegion)
	}
	return r, nil
}

// StoreInstallation writes to the tenant's region.
func (s *store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	r, err := s.storeFor(inst.Tenant())
	if err != nil {
		return err
	}
	return r.StoreInstallation(ctx, inst)
}

// FetchInstallation reads from the tenant's region.
func (s *store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	r, err := s.storeFor(q.Tenant())
	if err != nil {
		return nil, err
	}
	return r.FetchInstallation(ctx, q)
}

// DeleteInstallation deletes in the tenant's region.
func (s *store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	r, err := s.storeFor(q.Tenant())
	if err != nil {
		return err
	}
	return r.DeleteInstallation(ctx, q)
}

// DeleteBot deletes the bot in the tenant's region.
func (s *store) DeleteBot(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	r, err := s.storeFor(q.Tenant())
	if err != nil {
		return err
	}
	return r.(installstore.BotDeleter).DeleteBot(ctx, q)
}

// UpdateInstallation updates in the tenant's region.
func (s *store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	r, err := s.storeFor(inst.Tenant())
	if err != nil {
		return err
	}
	return r.(installstore.Updater).UpdateInstallation(ctx, inst)
}

// ListInstallations lists every region, one after the other.
func (s *store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	for _, name := range s.names {
		if err := s.regions[name].(installstore.Lister).ListInstallations(ctx, fn); err != nil {
			return fmt.Errorf("residency: list region %q: %w", name, err)
		}
	}
	return nil
}

// PutNonce writes to the home region.
func (s *store) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	return s.regions[s.home].(installstore.NonceStore).PutNonce(ctx, nonce, expiresAt)
}

// ConsumeNonce consumes in the home region.
func (s *store) ConsumeNonce(ctx context.Context, nonce string) error {
	return s.regions[s.home].(installstore.NonceStore).ConsumeNonce(ctx, nonce)
}

// AcquireLease acquires in the home region.
func (s *store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	return s.regions[s.home].(installstore.Leaser).AcquireLease(ctx, name, owner, ttl)
}

// ReleaseLease releases in the home region.
func (s *store) ReleaseLease(ctx context.Context, name, owner string) error {
	return s.regions[s.home].(installstore.Leaser).ReleaseLease(ctx, name, owner)
}
