package installstore

import (
	"context"
	"errors"
	"fmt"
)

// HistoryTenants returns the queries, with no UserID, of the tenants whose
// history goes with q's tenant in a walk over a store's listing (q names a
// tenant's latest record as listed): q's own tenant and, for a workspace of
// an enterprise (E, T), the standalone tenant (no enterprise, T) whose
// history a Grid migration kept, unless s still holds a record of the
// standalone tenant (the listing visits that one itself). A standalone record
// that does not decode ([ErrCorrupt]) is not listed, so its history goes
// with q. Any other failure to look is returned, with q's own tenant alone.
// Export, verify and key rotation walk history this way.
func HistoryTenants(ctx context.Context, s Store, q Query) ([]Query, error) {
	own := Query{EnterpriseID: q.EnterpriseID, TeamID: q.TeamID, IsEnterpriseInstall: q.IsEnterpriseInstall}
	if q.EnterpriseID == "" || q.TeamID == "" || q.IsEnterpriseInstall {
		return []Query{own}, nil
	}
	standalone := Query{TeamID: q.TeamID}
	inst, err := s.FetchInstallation(ctx, standalone)
	switch {
	case err == nil && inst.Tenant() == standalone.Tenant():
		return []Query{own}, nil
	case err == nil, errors.Is(err, ErrNotFound), errors.Is(err, ErrCorrupt):
		return []Query{own, standalone}, nil
	}
	return []Query{own}, fmt.Errorf("history of tenant %s: look for the standalone workspace %s: %w", q.Tenant(), standalone.Tenant(), err)
}
