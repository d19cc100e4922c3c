package residency_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/audit"
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
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, err := residency.NewStore(byKey, map[string]installstore.FullStore{"eu": memory.New(), "us": memory.New()}, residency.WithHomeRegion("eu"))
		require.NoError(t, err)
		return s
	})
}

// RunHistory's Grid migration moves team T5 from "us" (standalone) to "eu"
// (under E1): the superseded record's history must survive in "us".
func TestHistoryConformance(t *testing.T) {
	storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
		s, err := residency.NewStore(byKey, map[string]installstore.FullStore{
			"eu": memory.New(memory.WithHistory()), "us": memory.New(memory.WithHistory()),
		}, residency.WithHomeRegion("eu"))
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

func (w *watched) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	w.saw(q.Tenant())
	return w.FullStore.DeleteInstallationIf(ctx, q, version)
}

func (w *watched) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	w.saw(q.Tenant())
	return w.FullStore.DeleteBotIf(ctx, q, version)
}

func TestTenantsNeverReachAnotherRegion(t *testing.T) {
	ctx := context.Background()
	eu := &watched{FullStore: memory.New(), tenants: map[string]bool{}}
	us := &watched{FullStore: memory.New(), tenants: map[string]bool{}}
	s, err := residency.NewStore(byKey, map[string]installstore.FullStore{"eu": eu, "us": us}, residency.WithHomeRegion("us"))
	require.NoError(t, err)

	var teams []string
	for i := range 40 {
		team := fmt.Sprintf("T%03d", i)
		teams = append(teams, team)
		inst := storetest.Fixture("", team, "U1", "a")
		require.NoError(t, s.StoreInstallation(ctx, inst))
		got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team, UserID: "U1"})
		require.NoError(t, err)
		got.Bot.Token = installstore.NewSecret("xoxb-test-updated")
		require.NoError(t, s.UpdateInstallation(ctx, got))
		require.NoError(t, s.DeleteBotIf(ctx, installstore.Query{TeamID: team}, got.Version))
		require.NoError(t, s.DeleteBot(ctx, installstore.Query{TeamID: team}))
		switch i % 3 {
		case 0:
			require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: team}))
		case 1:
			require.ErrorIs(t, s.DeleteInstallationIf(ctx, installstore.Query{TeamID: team}, 0), installstore.ErrConflict)
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
		home, other := eu.FullStore, us.FullStore
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
	}, map[string]installstore.FullStore{"eu": memory.New()}, residency.WithHomeRegion("eu"))
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
	eu, us := memory.New(), memory.New()
	regions := map[string]installstore.FullStore{"eu": eu, "us": us}
	audited, err := audit.NewStore(eu, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		route   residency.Router
		regions map[string]installstore.FullStore
		opts    []residency.Option
		want    string
	}{
		"no router":        {nil, regions, nil, "nil router"},
		"no regions":       {byKey, nil, nil, "no regions"},
		"nil region":       {byKey, map[string]installstore.FullStore{"eu": eu, "us": nil}, nil, `region "us" has a nil store`},
		"no home":          {byKey, regions, nil, "WithHomeRegion"},
		"unknown home":     {byKey, regions, []residency.Option{residency.WithHomeRegion("ap")}, `home region "ap"`},
		"same store twice": {byKey, map[string]installstore.FullStore{"eu": eu, "us": eu}, []residency.Option{residency.WithHomeRegion("eu")}, "share a store"},
		"shared below a layer": {byKey, map[string]installstore.FullStore{"eu": audited, "us": eu},
			[]residency.Option{residency.WithHomeRegion("eu")}, `regions "eu" and "us" share a store`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := residency.NewStore(tc.route, tc.regions, tc.opts...)
			require.ErrorIs(t, err, installstore.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err = residency.NewStore(byKey, regions, residency.WithHomeRegion("ap"))
	require.ErrorIs(t, err, residency.ErrUnknownRegion)

	// One region is its own home.
	one, err := residency.NewStore(byKey, map[string]installstore.FullStore{"eu": eu})
	require.NoError(t, err)
	require.NoError(t, one.PutNonce(context.Background(), "n1", time.Now().Add(time.Minute)))
	require.NoError(t, eu.ConsumeNonce(context.Background(), "n1"))
}

func TestUnwrapReachesEveryRegion(t *testing.T) {
	eu, us := memory.New(), memory.New()
	s, err := residency.NewStore(byKey, map[string]installstore.FullStore{"us": us, "eu": eu}, residency.WithHomeRegion("eu"))
	require.NoError(t, err)
	require.Equal(t, []installstore.FullStore{eu, us}, s.Unwrap(), "every region, in the order of their names")
	require.Equal(t, []string{"eu", "us"}, s.Regions())
	var walked []installstore.FullStore
	installstore.Walk(s, func(x installstore.FullStore) bool { walked = append(walked, x); return true })
	require.Equal(t, []installstore.FullStore{s, eu, us}, walked)
}

// down fails its listings, as a region whose table is unreachable does.
type down struct{ installstore.FullStore }

var errDown = fmt.Errorf("dynamo: list (scan): %w", installstore.ErrUnavailable)

func (down) ListInstallations(context.Context, func(installstore.Query, *installstore.Installation) error) error {
	return errDown
}

func (down) ListDue(context.Context, time.Time, func(installstore.Query, time.Time) error) error {
	return errDown
}

func TestListingGoesPastAFailedRegion(t *testing.T) {
	ctx := context.Background()
	eu, us := memory.New(), memory.New()
	// "ap" and "eu" fail; "us" works, and is listed although it comes after "ap".
	s, err := residency.NewStore(byKey, map[string]installstore.FullStore{"ap": down{memory.New()}, "eu": down{eu}, "us": us},
		residency.WithHomeRegion("us"))
	require.NoError(t, err)
	soon := time.Now().Add(time.Minute)
	var usTeams []string
	for i := range 10 {
		team := fmt.Sprintf("T%03d", i)
		inst := storetest.Fixture("", team, "U1", "a")
		inst.Bot.ExpiresAt = soon
		region, _ := byKey(inst.Tenant())
		if region == "us" {
			usTeams = append(usTeams, team)
		}
		if region == "us" {
			require.NoError(t, s.StoreInstallation(ctx, inst))
		} else {
			require.NoError(t, eu.StoreInstallation(ctx, inst))
		}
	}
	require.NotEmpty(t, usTeams)

	listed := map[string]bool{}
	err = s.ListInstallations(ctx, func(q installstore.Query, _ *installstore.Installation) error {
		listed[q.TeamID] = true
		return nil
	})
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.ErrorContains(t, err, "regions not listed in full (records skipped, or the listing failed): ap, eu")
	require.ErrorContains(t, err, `list region "eu"`)
	require.Len(t, listed, len(usTeams))
	for _, team := range usTeams {
		require.True(t, listed[team], team)
	}

	due := map[string]bool{}
	err = s.ListDue(ctx, soon.Add(time.Hour), func(q installstore.Query, _ time.Time) error {
		due[q.TeamID] = true
		return nil
	})
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.ErrorContains(t, err, "list due: regions not listed in full")
	require.Equal(t, listed, due)

	// An error of fn stops everything and is returned as is.
	stop := errors.New("stop")
	calls := 0
	err = s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { calls++; return stop })
	require.Equal(t, stop, err)
	require.Equal(t, 1, calls)
}

func TestListDueFansOut(t *testing.T) {
	ctx := context.Background()
	s, err := residency.NewStore(byKey, map[string]installstore.FullStore{"eu": memory.New(), "us": memory.New()}, residency.WithHomeRegion("eu"))
	require.NoError(t, err)
	soon := time.Now().Add(time.Minute)
	regions := map[string]bool{}
	for i := range 10 {
		inst := storetest.Fixture("", fmt.Sprintf("T%03d", i), "U1", "a")
		inst.Bot.ExpiresAt = soon
		inst.User.ExpiresAt = time.Time{}
		region, _ := byKey(inst.Tenant())
		regions[region] = true
		require.NoError(t, s.StoreInstallation(ctx, inst))
	}
	require.Len(t, regions, 2)
	n := 0
	require.NoError(t, s.ListDue(ctx, soon.Add(time.Second), func(q installstore.Query, _ time.Time) error {
		if q.UserID == "" {
			n++
		}
		return nil
	}))
	require.Equal(t, 10, n, "every tenant's latest record is due, in either region")
}

func Example() {
	ctx := context.Background()
	eu, us := memory.New(), memory.New()
	euTeams := map[string]bool{"T0BERLIN": true}
	store, err := residency.NewStore(func(t installstore.Tenant) (string, error) {
		if euTeams[t.TeamID] {
			return "eu", nil
		}
		return "us", nil
	}, map[string]installstore.FullStore{"eu": eu, "us": us}, residency.WithHomeRegion("us"))
	if err != nil {
		fmt.Println(err)
		return
	}
	// In production: crypto.NewStore over this store, or one crypto store per region below it.
	if err := store.StoreInstallation(ctx, &installstore.Installation{TeamID: "T0BERLIN", Bot: &installstore.Bot{Token: installstore.NewSecret("xoxb-test-berlin")}}); err != nil {
		fmt.Println(err)
		return
	}
	_, errEU := eu.FetchInstallation(ctx, installstore.Query{TeamID: "T0BERLIN"})
	_, errUS := us.FetchInstallation(ctx, installstore.Query{TeamID: "T0BERLIN"})
	fmt.Println("in eu:", errEU == nil, "in us:", errUS == nil)
	// Output: in eu: true in us: false
}

func TestEnterpriseAndWorkspacesShareARegion(t *testing.T) {
	ctx := context.Background()
	eu, us := memory.New(), memory.New()
	regions := map[string]installstore.FullStore{"eu": eu, "us": us}
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
