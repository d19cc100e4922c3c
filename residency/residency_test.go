package residency_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/residency"
)

// byKey routes on EnterpriseID when set, else TeamID: the sum of its bytes,
// even to "eu", odd to "us".
func byKey(t installstore.Tenant) (string, error) {
	key := t.EnterpriseID
	if key == "" {
		key = t.TeamID
	}
	sum := 0
	for _, b := range []byte(key) {
		sum += int(b)
	}
	if sum%2 == 0 {
		return "eu", nil
	}
	return "us", nil
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.Store {
		s, err := residency.NewStore(byKey, map[string]installstore.Store{"eu": memory.New(), "us": memory.New()}, residency.WithHomeRegion("eu"))
		require.NoError(t, err)
		return s
	})
}

// watched records every tenant its store is asked about.
type watched struct {
	installstore.FullStore
	mu      sync.Mutex
	tenants map[string]bool
}

func (w *watched) saw(t installstore.Tenant) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tenants[t.String()] = true
}

func (w *watched) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	w.saw(inst.Tenant())
	return w.FullStore.StoreInstallation(ctx, inst)
}

func (w *watched) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	w.saw(q.Tenant())
	return w.FullStore.FetchInstallation(ctx, q)
}

func (w *watched) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	w.saw(q.Tenant())
	return w.FullStore.DeleteInstallation(ctx, q)
}

func (w *watched) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	w.saw(inst.Tenant())
	return w.FullStore.UpdateInstallation(ctx, inst)
}

func (w *watched) DeleteBot(ctx context.Context, q installstore.Query) error {
	w.saw(q.Tenant())
	return w.FullStore.DeleteBot(ctx, q)
}

func TestTenantsNeverReachAnotherRegion(t *testing.T) {
	ctx := context.Background()
	eu := &watched{FullStore: memory.New(), tenants: map[string]bool{}}
	us := &watched{FullStore: memory.New(), tenants: map[string]bool{}}
	s, err := residency.NewStore(byKey, map[string]installstore.Store{"eu": eu, "us": us}, residency.WithHomeRegion("us"))
	require.NoError(t, err)

	var teams []string
	for i := range 40 {
		team := fmt.Sprintf("T%03d", i)
		teams = append(teams, team)
		inst := storetest.Fixture("", team, "U1", "a")
		require.NoError(t, s.StoreInstallation(ctx, inst))
		got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team, UserID: "U1"})
		require.NoError(t, err)
		got.Bot.Token = "xoxb-test-updated"
		require.NoError(t, s.(installstore.Updater).UpdateInstallation(ctx, got))
		require.NoError(t, s.(installstore.BotDeleter).DeleteBot(ctx, installstore.Query{TeamID: team}))
		if i%3 == 0 {
			require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: team}))
		}
	}
	// Fetches of tenants that do not exist are routed too.
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T999"})
	require.ErrorIs(t, err, installstore.ErrNotFound)

	for name, w := range map[string]*watched{"eu": eu, "us": us} {
		require.NotEmpty(t, w.tenants, name)
		for tenant := range w.tenants {
			team := strings.TrimPrefix(tenant, ":")
			region, _ := byKey(installstore.Tenant{TeamID: team})
			require.Equal(t, name, region, "tenant %s reached region %s", tenant, name)
		}
	}
	// And the data is where the router says, and only there.
	for i, team := range teams {
		if i%3 == 0 {
			continue
		}
		region, _ := byKey(installstore.Tenant{TeamID: team})
		home, other := installstore.Store(eu.FullStore), installstore.Store(us.FullStore)
		if region == "us" {
			home, other = other, home
		}
		_, err := home.FetchInstallation(ctx, installstore.Query{TeamID: team})
		require.NoError(t, err)
		_, err = other.FetchInstallation(ctx, installstore.Query{TeamID: team})
		require.ErrorIs(t, err, installstore.ErrNotFound)
	}
}

func TestRouterErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("no residency on file")
	s, err := residency.NewStore(func(t installstore.Tenant) (string, error) {
		if t.TeamID == "T0BAD" {
			return "", boom
		}
		return "ap", nil
	}, map[string]installstore.Store{"eu": memory.New()}, residency.WithHomeRegion("eu"))
	require.NoError(t, err)
	err = s.StoreInstallation(ctx, storetest.Fixture("", "T0BAD", "U1", "a"))
	require.ErrorIs(t, err, boom)
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, residency.ErrUnknownRegion)
	require.Contains(t, err.Error(), `"ap"`)
	_, err = s.FetchInstallation(ctx, installstore.Query{})
	require.ErrorIs(t, err, installstore.ErrInvalid)
}

func TestNewValidates(t *testing.T) {
	regions := map[string]installstore.Store{"eu": memory.New()}
	_, err := residency.NewStore(nil, regions)
	require.Error(t, err)
	_, err = residency.NewStore(byKey, nil)
	require.Error(t, err)
	_, err = residency.NewStore(byKey, regions)
	require.ErrorContains(t, err, "WithHomeRegion")
	_, err = residency.NewStore(byKey, regions, residency.WithHomeRegion("us"))
	require.ErrorIs(t, err, residency.ErrUnknownRegion)
	// A region without nonces or leases: the routed store has none either, and needs no home.
	s, err := residency.NewStore(byKey, map[string]installstore.Store{"eu": memory.New(), "us": struct{ installstore.Store }{memory.New()}})
	require.NoError(t, err)
	_, ok := s.(installstore.NonceStore)
	require.False(t, ok)
}

func Example() {
	ctx := context.Background()
	eu, us := memory.New(), memory.New()
	euTeams := map[string]bool{"T0BERLIN": true}
	store, _ := residency.NewStore(func(t installstore.Tenant) (string, error) {
		if euTeams[t.TeamID] {
			return "eu", nil
		}
		return "us", nil
	}, map[string]installstore.Store{"eu": eu, "us": us}, residency.WithHomeRegion("us"))

	_ = store.StoreInstallation(ctx, &installstore.Installation{TeamID: "T0BERLIN", User: installstore.User{ID: "U1"}})
	_, errEU := eu.FetchInstallation(ctx, installstore.Query{TeamID: "T0BERLIN"})
	_, errUS := us.FetchInstallation(ctx, installstore.Query{TeamID: "T0BERLIN"})
	fmt.Println("in eu:", errEU == nil, "in us:", errUS == nil)
	// Output: in eu: true in us: false
}

func TestEnterpriseAndWorkspacesShareARegion(t *testing.T) {
	ctx := context.Background()
	eu, us := memory.New(), memory.New()
	regions := map[string]installstore.Store{"eu": eu, "us": us}
	byEnterprise, err := residency.NewStore(byKey, regions, residency.WithHomeRegion("eu"))
	require.NoError(t, err)
	require.NoError(t, byEnterprise.StoreInstallation(ctx, storetest.OrgFixture("E1", "U1", "org")))
	got, err := byEnterprise.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T9"})
	require.NoError(t, err, "the org-wide fallback works when the router keeps the enterprise together")
	require.True(t, got.IsEnterpriseInstall)

	// A router that splits an enterprise by team is refused, not silently wrong.
	byTeam := func(t installstore.Tenant) (string, error) {
		if t.TeamID == "T9" {
			return "us", nil
		}
		return "eu", nil
	}
	split, err := residency.NewStore(byTeam, regions, residency.WithHomeRegion("eu"))
	require.NoError(t, err)
	_, err = split.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T9"})
	require.ErrorIs(t, err, residency.ErrSplitEnterprise)
	require.ErrorIs(t, split.StoreInstallation(ctx, storetest.Fixture("E1", "T9", "U1", "a")), residency.ErrSplitEnterprise)
	_, err = us.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T9"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "nothing written")
	// Workspaces outside any enterprise route freely.
	require.NoError(t, split.StoreInstallation(ctx, storetest.Fixture("", "T9", "U1", "a")))
}
