package crypto_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func collectCounters(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			require.True(t, ok, m.Name)
			for _, p := range sum.DataPoints {
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

func TestMetricsCountProviderCallsCacheAndFailures(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	inner := memory.New()
	s := newStore(t, inner, keyring(t, "k1", "k1"), crypto.WithDataKeyCache(time.Hour, 1000), crypto.WithMeterProvider(mp))

	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a"))) // write miss + generate
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "b"))) // write hit
	_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})                 // read hit (the writer's key)
	require.NoError(t, err)

	// A reader with a cold cache unwraps once, then hits.
	reader2 := newStore(t, inner, keyring(t, "k1", "k1"), crypto.WithDataKeyCache(time.Hour, 1000), crypto.WithMeterProvider(mp))
	for range 3 {
		_, err = reader2.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
	}

	// A record that does not open is counted as a decrypt failure.
	raw, err := inner.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	raw.Bot.Token = installstore.NewSecret(raw.Bot.Token.Reveal()[:len(raw.Bot.Token.Reveal())-2] + "AA")
	require.NoError(t, inner.UpdateInstallation(ctx, raw))
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, crypto.ErrDecrypt)

	got := collectCounters(t, reader)
	require.Equal(t, int64(1), got["installvault.crypto.key_provider_calls{op=generate}{outcome=ok}"])
	require.Equal(t, int64(1), got["installvault.crypto.key_provider_calls{op=unwrap}{outcome=ok}"])
	require.Equal(t, int64(1), got["installvault.crypto.data_key_cache{result=miss}{use=write}"])
	require.Equal(t, int64(1), got["installvault.crypto.data_key_cache{result=hit}{use=write}"])
	require.Equal(t, int64(1), got["installvault.crypto.data_key_cache{result=miss}{use=read}"])
	require.GreaterOrEqual(t, got["installvault.crypto.data_key_cache{result=hit}{use=read}"], int64(3))
	require.Equal(t, int64(1), got["installvault.crypto.decrypt_failures"])
}
