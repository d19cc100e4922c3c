package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/metrics"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
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
	require.NoError(t, s.DeleteBot(ctx, installstore.Query{TeamID: "T1"}))
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

func TestConditionalDeletesCountWhenTheyDelete(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	s, err := metrics.NewStore(memory.New(), metrics.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)
	inst := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, s.StoreInstallation(ctx, inst))
	q := installstore.Query{TeamID: "T1"}
	require.ErrorIs(t, s.DeleteBotIf(ctx, q, inst.Version+1), installstore.ErrConflict)
	require.ErrorIs(t, s.DeleteInstallationIf(ctx, q, inst.Version+1), installstore.ErrConflict)
	require.NoError(t, s.DeleteBotIf(ctx, q, inst.Version))
	cur, err := s.FetchInstallation(ctx, q)
	require.NoError(t, err)
	require.NoError(t, s.DeleteInstallationIf(ctx, q, cur.Version))
	got := collect(t, reader)
	require.Equal(t, int64(1), got["installvault.revocations{what=bot}"])
	require.Equal(t, int64(1), got["installvault.uninstalls"])
}

// unavailable fails every fetch transiently.
type unavailable struct{ installstore.FullStore }

func (unavailable) FetchInstallation(context.Context, installstore.Query) (*installstore.Installation, error) {
	return nil, fmt.Errorf("dynamo: fetch tenant :T1: %w", installstore.ErrUnavailable)
}

func TestTransientReadsAreTheirOwnOutcome(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	s, err := metrics.NewStore(unavailable{memory.New()}, metrics.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)
	_, err = s.FetchInstallation(context.Background(), installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.Equal(t, map[string]int64{"installvault.token_reads{outcome=unavailable}": 1}, collect(t, reader))
}

func TestNewValidatesAndUnwraps(t *testing.T) {
	_, err := metrics.NewStore(nil)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	_, err = metrics.NewStore(memory.New(), metrics.WithMeterProvider(nil))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	_, err = metrics.NewDriftMonitor(nil, metrics.Scopes{})
	require.ErrorIs(t, err, installstore.ErrInvalid)
	inner := memory.New()
	s, err := metrics.NewStore(inner)
	require.NoError(t, err)
	require.Equal(t, []installstore.FullStore{inner}, s.Unwrap())
}

// corrupt lists its inner store and reports n records skipped as corrupt,
// joined, as a backend does; or, with fail, stops with a transient error.
type corrupt struct {
	installstore.FullStore
	n    int
	fail bool
}

func (c corrupt) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	if err := c.FullStore.ListInstallations(ctx, fn); err != nil {
		return err
	}
	var errs []error
	for i := range c.n {
		errs = append(errs, fmt.Errorf("memory: list tenant :T0BAD%d: %w", i, installstore.ErrCorrupt))
	}
	if c.fail {
		errs = append(errs, fmt.Errorf("dynamo: list (scan): %w", installstore.ErrUnavailable))
	}
	return errors.Join(errs...)
}

func TestDriftGoesPastCorruptRecords(t *testing.T) {
	ctx := context.Background()
	backend := memory.New()
	require.NoError(t, backend.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	want := metrics.Scopes{Bot: []string{"chat:write"}} // T1 also has commands; U1 has search:read
	drifts, err := metrics.ScopeDrift(ctx, corrupt{FullStore: backend, n: 2}, want)
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.Contains(t, err.Error(), ":T0BAD1")
	require.Len(t, drifts, 2, "the readable records are still checked")

	reader := sdkmetric.NewManualReader()
	src := &corrupt{FullStore: backend, n: 2}
	mon, err := metrics.NewDriftMonitor(src, want, metrics.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)
	_, err = mon.Check(ctx)
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	got := collect(t, reader)
	require.Equal(t, int64(2), got["installvault.scope_drift"])
	require.Equal(t, int64(2), got["installvault.scope_drift_skipped"])

	// A listing that failed part-way leaves the gauges alone.
	src.fail, src.n = true, 5
	_, err = mon.Check(ctx)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.Equal(t, int64(2), collect(t, reader)["installvault.scope_drift_skipped"])
}

func Example() {
	ctx := context.Background()
	store := memory.New() // the backend below the encryption layer: scopes are not sealed
	if err := store.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0OLD",
		Bot:    &installstore.Bot{Token: installstore.NewSecret("xoxb-test-old"), Scopes: []string{"chat:write"}},
		User:   installstore.User{ID: "U1"},
	}); err != nil {
		fmt.Println(err)
		return
	}
	drifts, err := metrics.ScopeDrift(ctx, store, metrics.Scopes{Bot: []string{"chat:write", "commands"}})
	if err != nil {
		fmt.Println(err) // records skipped (named in err), or the listing failed
	}
	for _, d := range drifts {
		fmt.Printf("team %s misses %v\n", d.Query.TeamID, d.MissingBot)
	}
	// Output: team T0OLD misses [commands]
}

func TestDriftOverTheEncryptionLayerCountsWhatDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	backend := memory.New()
	keyring := func(b byte) crypto.KeyProvider {
		k, err := crypto.NewLocalKeyring(map[string][]byte{"k": bytes.Repeat([]byte{b}, 32)}, "k")
		require.NoError(t, err)
		return k
	}
	good, err := crypto.NewStore(backend, keyring(1))
	require.NoError(t, err)
	other, err := crypto.NewStore(backend, keyring(2)) // the same key name, other bytes
	require.NoError(t, err)
	require.NoError(t, good.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, other.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "b")))

	reader := sdkmetric.NewManualReader()
	mon, err := metrics.NewDriftMonitor(good, metrics.Scopes{Bot: []string{"chat:write"}}, metrics.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)
	drifts, err := mon.Check(ctx)
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.Len(t, drifts, 2, "T1's two records")
	got := collect(t, reader)
	require.Equal(t, int64(2), got["installvault.scope_drift"])
	require.Equal(t, int64(2), got["installvault.scope_drift_skipped"], "T2's two records do not open")
}
