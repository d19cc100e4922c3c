// Package residency is the layer that routes each tenant to one of several
// regional stores, so that, for example, EU workspaces' tokens live only in
// an EU DynamoDB table.
//
// A [Router] names the region of a tenant; every operation on that tenant
// (store, fetch, update, every delete) goes to that region's store and no
// other. Tenant-less data (OAuth state nonces, refresh leases) lives in one
// home region ([WithHomeRegion]). Listings (ListInstallations, ListDue) fan
// out to every region, one after the other: a region that fails does not
// stop the others, and the error names every region that was not listed in
// full. [Store] implements the whole [installstore.FullStore] contract.
//
// # Where it goes
//
// The layers stack in one order (README's diagram):
//
//	oauth.Handler → rotation.Refresher → audit / metrics → crypto → residency or backend
//
// Residency sits where a backend would, below the encryption layer (one
// crypto store over every region); or above per-region crypto stores, when
// each region has its own keys (a KMS key per region). [Store.Unwrap]
// returns every region, so whole-stack operations (crypto.Rewrap, backup,
// order checks) reach each of them. NewStore refuses regions that are not
// distinct stores: two regions sharing a store (directly or anywhere below)
// would put one region's tenants in the other's table. It also refuses
// regions of which only some have an encryption layer (a tenant's tokens
// would be sealed or not by region). Crypto over a router that has
// encryption layers in its regions is refused by crypto.NewStore.
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
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/installvault/installvault/crypto"
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

// Store is the routing layer. Create it with [NewStore].
type Store struct {
	route   Router
	regions map[string]installstore.FullStore
	names   []string // sorted, for deterministic listing
	home    string
}

var (
	_ installstore.FullStore = (*Store)(nil)
	_ installstore.Unwrapper = (*Store)(nil)
)

// Option configures [NewStore].
type Option func(*Store)

// WithHomeRegion names the region that keeps tenant-less data: OAuth state
// nonces and refresh leases. Required with more than one region.
func WithHomeRegion(region string) Option { return func(s *Store) { s.home = region } }

// NewStore returns a store routing each tenant to regions[route(tenant)].
// Bad arguments are refused with an error wrapping [installstore.ErrInvalid]:
// no router, no region, a nil region store, regions that are not distinct
// stores, a missing or unknown home region (also [ErrUnknownRegion]).
func NewStore(route Router, regions map[string]installstore.FullStore, opts ...Option) (*Store, error) {
	if route == nil {
		return nil, invalidf("nil router")
	}
	if len(regions) == 0 {
		return nil, invalidf("no regions")
	}
	s := &Store{route: route, regions: make(map[string]installstore.FullStore, len(regions))}
	for name, r := range regions {
		if r == nil {
			return nil, invalidf("region %q has a nil store", name)
		}
		if name == "" {
			return nil, invalidf("a region with an empty name")
		}
		s.regions[name] = r
		s.names = append(s.names, name)
	}
	slices.Sort(s.names)
	for _, o := range opts {
		o(s)
	}
	if s.home == "" && len(s.names) == 1 {
		s.home = s.names[0]
	}
	if s.home == "" {
		return nil, invalidf("name the region that keeps OAuth state nonces and refresh leases with WithHomeRegion")
	}
	if s.regions[s.home] == nil {
		return nil, fmt.Errorf("residency: new store: %w: home region %q: %w", installstore.ErrInvalid, s.home, ErrUnknownRegion)
	}
	if err := s.checkDistinct(); err != nil {
		return nil, err
	}
	if err := s.checkSealing(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkSealing refuses regions of which some have an encryption layer and
// others do not: a tenant's tokens would then be sealed or kept as they are
// depending on its region.
func (s *Store) checkSealing() error {
	var sealed, plain []string
	for _, name := range s.names {
		found := false
		installstore.Walk(s.regions[name], func(x installstore.FullStore) bool {
			_, found = x.(*crypto.Store)
			return !found
		})
		if found {
			sealed = append(sealed, name)
		} else {
			plain = append(plain, name)
		}
	}
	if len(sealed) > 0 && len(plain) > 0 {
		return invalidf("regions %s have an encryption layer and %s do not: give every region one (crypto.NewStore per region), or put one above the router",
			strings.Join(sealed, ", "), strings.Join(plain, ", "))
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("residency: new store: %w: %s", installstore.ErrInvalid, fmt.Sprintf(format, args...))
}

// checkDistinct refuses two regions that reach the same store (the same
// pointer), at any depth of their stacks.
func (s *Store) checkDistinct() error {
	owner := make(map[installstore.FullStore]string)
	for _, name := range s.names {
		var err error
		installstore.Walk(s.regions[name], func(x installstore.FullStore) bool {
			if err != nil {
				return false
			}
			if reflect.TypeOf(x).Kind() != reflect.Pointer {
				return true // a value has no identity to share
			}
			if other, seen := owner[x]; seen && other != name {
				err = invalidf("regions %q and %q share a store (%T): each region needs its own backend", other, name, x)
				return false
			}
			owner[x] = name
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Unwrap implements [installstore.Unwrapper]: every region's store, in the
// order of the regions' names.
func (s *Store) Unwrap() []installstore.FullStore {
	out := make([]installstore.FullStore, len(s.names))
	for i, name := range s.names {
		out[i] = s.regions[name]
	}
	return out
}

// Regions returns the regions' names, sorted.
func (s *Store) Regions() []string { return slices.Clone(s.names) }

func (s *Store) storeFor(t installstore.Tenant) (installstore.FullStore, error) {
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

// forQuery validates q and returns its tenant's region.
func (s *Store) forQuery(q installstore.Query) (installstore.FullStore, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return s.storeFor(q.Tenant())
}

// forInstallation validates inst and returns its tenant's region.
func (s *Store) forInstallation(inst *installstore.Installation) (installstore.FullStore, error) {
	if err := inst.Validate(); err != nil {
		return nil, err
	}
	return s.storeFor(inst.Tenant())
}

// StoreInstallation writes to the tenant's region. Storing a workspace of an
// enterprise also removes the standalone record of its team, in whichever
// region that is (the contract's Grid migration).
func (s *Store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	r, err := s.forInstallation(inst)
	if err != nil {
		return err
	}
	sr, err := s.migratedFrom(inst.Tenant(), r)
	if err != nil {
		return err
	}
	if err := r.StoreInstallation(ctx, inst); err != nil {
		return err
	}
	if sr != nil {
		if err := supersede(ctx, sr, inst.TeamID); err != nil {
			return fmt.Errorf("residency: store tenant %s: remove the standalone record of team %s it supersedes: %w", inst.Tenant(), inst.TeamID, err)
		}
	}
	return nil
}

// supersede removes the standalone record of team from region r but keeps
// its history, as a backend's own Grid migration does: the history is read
// first and written back after the delete.
func supersede(ctx context.Context, r installstore.FullStore, team string) error {
	q := installstore.Query{TeamID: team}
	var kept []*installstore.Installation
	err := r.ListHistory(ctx, q, func(h *installstore.Installation) error {
		kept = append(kept, h)
		return nil
	})
	if err != nil && !errors.Is(err, installstore.ErrHistoryOff) {
		return err
	}
	if err := r.DeleteInstallation(ctx, q); err != nil {
		return err
	}
	for _, h := range kept {
		if err := r.PutHistory(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// FetchInstallation reads from the tenant's region, with the contract's
// fallbacks: a workspace of an enterprise with no record of its own is
// served by its team's standalone record (in that record's region), then by
// the org-wide install.
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	r, err := s.forQuery(q)
	if err != nil {
		return nil, err
	}
	if q.IsEnterpriseInstall {
		return r.FetchInstallation(ctx, q)
	}
	sr, err := s.migratedFrom(q.Tenant(), r)
	if err != nil || sr == nil {
		if err != nil {
			return nil, err
		}
		return r.FetchInstallation(ctx, q)
	}
	inst, err := r.FetchInstallation(ctx, q)
	switch {
	case err == nil && inst.Tenant() == q.Tenant():
		return inst, nil // its own record
	case err != nil && !errors.Is(err, installstore.ErrNotFound):
		return nil, err
	}
	if q.UserID != "" && err != nil {
		// The tenant may exist without this user: then nothing falls back.
		latest, lerr := r.FetchInstallation(ctx, installstore.Query{EnterpriseID: q.EnterpriseID, TeamID: q.TeamID})
		switch {
		case lerr == nil && latest.Tenant() == q.Tenant():
			return nil, err
		case lerr != nil && !errors.Is(lerr, installstore.ErrNotFound):
			return nil, lerr
		}
	}
	own, serr := sr.FetchInstallation(ctx, standalone(q))
	switch {
	case serr == nil:
		return own, nil
	case !errors.Is(serr, installstore.ErrNotFound):
		return nil, serr
	}
	return inst, err // the org-wide install, or not found
}

// DeleteInstallation deletes in the tenant's region; for a workspace of an
// enterprise, also the standalone record of its team, in its region.
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	r, err := s.forQuery(q)
	if err != nil {
		return err
	}
	sr, err := s.migratedFrom(q.Tenant(), r)
	if err != nil {
		return err
	}
	err = r.DeleteInstallation(ctx, q)
	if sr != nil {
		err = errors.Join(err, sr.DeleteInstallation(ctx, standalone(q)))
	}
	return err
}

// DeleteBot deletes the bot in the tenant's region.
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	r, err := s.forQuery(q)
	if err != nil {
		return err
	}
	return r.DeleteBot(ctx, q)
}

// DeleteInstallationIf deletes conditionally in the tenant's region; for a
// workspace of an enterprise that exists and is deleted, also the
// standalone record of its team, as [Store.DeleteInstallation] does.
func (s *Store) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	r, err := s.forQuery(q)
	if err != nil {
		return err
	}
	sr, err := s.migratedFrom(q.Tenant(), r)
	if err != nil {
		return err
	}
	if sr == nil {
		return r.DeleteInstallationIf(ctx, q, version)
	}
	// A tenant that does not exist is not deleted, nor is its team's
	// standalone record: the condition is on the tenant itself.
	// A record that exists but does not open (corrupt, unreadable) is
	// deleted like any other.
	cur, err := r.FetchInstallation(ctx, installstore.Query{EnterpriseID: q.EnterpriseID, TeamID: q.TeamID})
	switch {
	case errors.Is(err, installstore.ErrNotFound), err == nil && cur.Tenant() != q.Tenant():
		return nil
	case errors.Is(err, installstore.ErrUnavailable):
		return err
	}
	if err := r.DeleteInstallationIf(ctx, q, version); err != nil {
		return err
	}
	return sr.DeleteInstallation(ctx, standalone(q))
}

// DeleteBotIf deletes the bot conditionally in the tenant's region.
func (s *Store) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	r, err := s.forQuery(q)
	if err != nil {
		return err
	}
	return r.DeleteBotIf(ctx, q, version)
}

// UpdateInstallation updates in the tenant's region.
func (s *Store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	r, err := s.forInstallation(inst)
	if err != nil {
		return err
	}
	return r.UpdateInstallation(ctx, inst)
}

// PutNonce writes to the home region.
func (s *Store) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	return s.regions[s.home].PutNonce(ctx, nonce, expiresAt)
}

// ConsumeNonce consumes in the home region.
func (s *Store) ConsumeNonce(ctx context.Context, nonce string) error {
	return s.regions[s.home].ConsumeNonce(ctx, nonce)
}

// AcquireLease acquires in the home region.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	return s.regions[s.home].AcquireLease(ctx, name, owner, ttl)
}

// ReleaseLease releases in the home region.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	return s.regions[s.home].ReleaseLease(ctx, name, owner)
}

// ListHistory lists the history of the tenant's region.
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	r, err := s.forQuery(q)
	if err != nil {
		return err
	}
	return r.ListHistory(ctx, q, fn)
}

// PutHistory writes to the tenant's region.
func (s *Store) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	r, err := s.forInstallation(inst)
	if err != nil {
		return err
	}
	return r.PutHistory(ctx, inst)
}
