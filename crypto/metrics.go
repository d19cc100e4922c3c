package crypto

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// meterScope is the instrumentation scope of the crypto layer's meter.
const meterScope = "github.com/installvault/installvault/crypto"

// WithMeterProvider records the layer's work as OpenTelemetry metrics
// (default: none):
//
//	installvault.crypto.decrypt_failures       records that failed to open
//	installvault.crypto.key_provider_calls     {op="generate"|"unwrap", outcome="ok"|"error"}: KMS (or keyring) calls
//	installvault.crypto.data_key_cache         {use="write"|"read", result="hit"|"miss"}
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meter = mp }
}

// instruments are the layer's counters; all no-ops without a provider.
type instruments struct {
	on                                    bool // a provider was given; skips the no-op calls' allocations otherwise
	decryptFailures, providerCalls, cache metric.Int64Counter
}

var (
	attrGenerateOK  = metric.WithAttributes(attribute.String("op", "generate"), attribute.String("outcome", "ok"))
	attrGenerateErr = metric.WithAttributes(attribute.String("op", "generate"), attribute.String("outcome", "error"))
	attrUnwrapOK    = metric.WithAttributes(attribute.String("op", "unwrap"), attribute.String("outcome", "ok"))
	attrUnwrapErr   = metric.WithAttributes(attribute.String("op", "unwrap"), attribute.String("outcome", "error"))
	attrWriteHit    = metric.WithAttributes(attribute.String("use", "write"), attribute.String("result", "hit"))
	attrWriteMiss   = metric.WithAttributes(attribute.String("use", "write"), attribute.String("result", "miss"))
	attrReadHit     = metric.WithAttributes(attribute.String("use", "read"), attribute.String("result", "hit"))
	attrReadMiss    = metric.WithAttributes(attribute.String("use", "read"), attribute.String("result", "miss"))
)

func newInstruments(mp metric.MeterProvider) (instruments, error) {
	in := instruments{on: mp != nil}
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter(meterScope)
	var err error
	if in.decryptFailures, err = m.Int64Counter("installvault.crypto.decrypt_failures",
		metric.WithDescription("Records that could not be opened (ErrDecrypt).")); err != nil {
		return in, err
	}
	if in.providerCalls, err = m.Int64Counter("installvault.crypto.key_provider_calls",
		metric.WithDescription("Calls to the key provider (KMS GenerateDataKey / Decrypt), by op and outcome.")); err != nil {
		return in, err
	}
	if in.cache, err = m.Int64Counter("installvault.crypto.data_key_cache",
		metric.WithDescription("Data-key cache lookups, by use and result.")); err != nil {
		return in, err
	}
	return in, nil
}

func (in instruments) providerCall(ctx context.Context, generate bool, err error) {
	if !in.on {
		return
	}
	switch {
	case generate && err == nil:
		in.providerCalls.Add(ctx, 1, attrGenerateOK)
	case generate:
		in.providerCalls.Add(ctx, 1, attrGenerateErr)
	case err == nil:
		in.providerCalls.Add(ctx, 1, attrUnwrapOK)
	default:
		in.providerCalls.Add(ctx, 1, attrUnwrapErr)
	}
}

func (in instruments) cacheLookup(ctx context.Context, write, hit bool) {
	if !in.on {
		return
	}
	switch {
	case write && hit:
		in.cache.Add(ctx, 1, attrWriteHit)
	case write:
		in.cache.Add(ctx, 1, attrWriteMiss)
	case hit:
		in.cache.Add(ctx, 1, attrReadHit)
	default:
		in.cache.Add(ctx, 1, attrReadMiss)
	}
}
