package residency

import "github.com/installvault/installvault/installstore"

// migratedFrom returns the region of the standalone tenant (no enterprise,
// same team) that a workspace of an enterprise t supersedes (an Enterprise
// Grid migration), when the router puts it in another region than r; nil
// when there is none or it shares r, where r's backend handles it.
func (s *Store) migratedFrom(t installstore.Tenant, r installstore.FullStore) (installstore.FullStore, error) {
	if t.EnterpriseID == "" || t.TeamID == "" {
		return nil, nil
	}
	sr, err := s.storeFor(installstore.Tenant{TeamID: t.TeamID})
	if err != nil {
		return nil, err
	}
	if sr == r {
		return nil, nil
	}
	return sr, nil
}

// standalone returns q addressed to the standalone tenant of its team.
func standalone(q installstore.Query) installstore.Query {
	return installstore.Query{TeamID: q.TeamID, UserID: q.UserID}
}
