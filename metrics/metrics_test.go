package metrics_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/metrics"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.Store {
		s, err := metrics.NewStore(memory.New())
		require.NoError(t, err)
		return s
	})
}

// collect returns every int64 data point as "name{k=v}" → value.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, p := range points {
				key := m.Name
				for _, kv := range p.Attributes.ToSlice() {
					key += fmt.Sprintf("{%s=%s}", kv.Key, kv.Value.Emit())
				}
				out[key] = p.Value
			}
		}
	}
	return out
}

func TestStoreCountsLifecycle(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	s, err := metrics.NewStore(memory.New(), metrics.WithMeterProvider(provider))
	require.NoError(t, err)

	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "a")))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "b"))) // re-install
	require.Error(t, s.StoreInstallation(ctx, &installstore.Installation{}))             // invalid: not counted
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T404"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	_, err = s.FetchInstallation(ctx, installstore.Query{})
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}))
	require.NoError(t, s.(installstore.BotDeleter).DeleteBot(ctx, installstore.Query{TeamID: "T1"}))
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T2"}))

	got := collect(t, reader)
	require.Equal(t, map[string]int64{
		"installvault.installs{kind=new}":             2,
		"installvault.installs{kind=reinstall}":       1,
		"installvault.token_reads{outcome=ok}":        1,
		"installvault.token_reads{outcome=not_found}": 1,
		"installvault.token_reads{outcome=error}":     1,
		"installvault.revocations{what=user}":         1,
		"installvault.revocations{what=bot}":          1,
		"installvault.uninstalls":                     1,
	}, got)
}

func TestScopeDrift(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	old := storetest.Fixture("", "T1", "U1", "a") // bot: chat:write, commands; user: search:read
	require.NoError(t, s.StoreInstallation(ctx, old))
	current := storetest.Fixture("", "T2", "U1", "b")
	current.Bot.Scopes = []string{"chat:write", "commands", "reactions:write"}
	require.NoError(t, s.StoreInstallation(ctx, current))

	want := metrics.Scopes{Bot: []string{"chat:write", "commands", "reactions:write"}, User: []string{"search:read"}}
	drifts, err := metrics.ScopeDrift(ctx, s, want)
	require.NoError(t, err)
	require.Equal(t, []metrics.Drift{{Query: installstore.Query{TeamID: "T1"}, MissingBot: []string{"reactions:write"}}}, drifts)

	reader := sdkmetric.NewManualReader()
	mon, err := metrics.NewDriftMonitor(s, metrics.Scopes{Bot: []string{"chat:write"}, User: []string{"search:read", "users:read"}},
		metrics.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)
	drifts, err = mon.Check(ctx)
	require.NoError(t, err)
	// Both latest installations have extra bot scopes; both user installations miss users:read.
	require.Len(t, drifts, 4)
	for _, d := range drifts {
		if d.Query.UserID == "" {
			require.Contains(t, d.ExtraBot, "commands")
		} else {
			require.Equal(t, []string{"users:read"}, d.MissingUser)
		}
	}
	require.Equal(t, int64(4), collect(t, reader)["installvault.scope_drift"])
}

func Example() {
	ctx := context.Background()
	store := memory.New()
	_ = store.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0OLD",
		Bot:    &installstore.Bot{Token: "xoxb-test-old", Scopes: []string{"chat:write"}},
		User:   installstore.User{ID: "U1"},
	})
	drifts, _ := metrics.ScopeDrift(ctx, store, metrics.Scopes{Bot: []string{"chat:write", "commands"}})
	for _, d := range drifts {
		fmt.Printf("team %s misses %v\n", d.Query.TeamID, d.MissingBot)
	}
	// Output: team T0OLD misses [commands]
}
