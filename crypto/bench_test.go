package crypto_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/benchcpu"
	"github.com/installvault/installvault/memory"
)

const benchTenants = 1000

var benchQueries = func() (qs [benchTenants]installstore.Query) {
	for i := range qs {
		qs[i] = installstore.Query{TeamID: fmt.Sprintf("T%04d", i)}
	}
	return qs
}()

func tenantQuery(i int) installstore.Query { return benchQueries[i%benchTenants] }

// seed stores benchTenants fully populated installations through s.
func seed(tb testing.TB, s installstore.Store) { seedWith(tb, s, fullInstall) }

// seedWith stores benchTenants installations made by fixture through s.
func seedWith(tb testing.TB, s installstore.Store, fixture func(team string) *installstore.Installation) {
	tb.Helper()
	for i := range benchTenants {
		require.NoError(tb, s.StoreInstallation(bg, fixture(tenantQuery(i).TeamID)))
	}
}

// fullInstall has every secret: bot and user tokens, their refresh tokens,
// a webhook (three sealed groups).
func fullInstall(team string) *installstore.Installation {
	return storetest.Fixture("", team, "U1", "bench")
}

// botInstall has a bot token only (one sealed group), the shape of most
// Slack apps' installations.
func botInstall(team string) *installstore.Installation {
	return &installstore.Installation{TeamID: team, TokenType: "bot", User: installstore.User{ID: "U1"},
		Bot: &installstore.Bot{ID: "B" + team, UserID: "UB" + team, Token: installstore.NewSecret("xoxb-test-" + team + "-bench"), Scopes: []string{"chat:write", "commands"}}}
}

func benchFetch(b *testing.B, s installstore.Store, fixture func(team string) *installstore.Installation) {
	seedWith(b, s, fixture)
	for i := range benchTenants { // warm
		_, err := s.FetchInstallation(bg, tenantQuery(i))
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchcpu.Now()
	i := 0
	for b.Loop() {
		inst, err := s.FetchInstallation(bg, tenantQuery(i))
		if err != nil || inst.Bot == nil {
			b.Fatal(err)
		}
		i++
	}
	cpu.Report(b) // cpu-ns/op: steadier than ns/op on shared cores
}

// BenchmarkFetch compares a fetch from the memory backend with the same
// fetch through the encryption layer (local keyring, warm data-key cache),
// over 1 000 tenants, for two shapes: "full", five secrets in three sealed
// groups (bot, user, webhook: three AES-GCM opens) per fetch, and "bot", a
// bot token only (one open); and, for reference, with the record cache of
// opened installations (WithRecordCache).
//
//	go test -run '^$' -bench BenchmarkFetch -benchmem ./crypto/
func BenchmarkFetch(b *testing.B) {
	for _, shape := range []struct {
		name    string
		fixture func(team string) *installstore.Installation
	}{{"full", fullInstall}, {"bot", botInstall}} {
		b.Run(shape.name+"/plaintext-memory", func(b *testing.B) { benchFetch(b, memory.New(), shape.fixture) })
		b.Run(shape.name+"/encrypted-memory-cached", func(b *testing.B) {
			benchFetch(b, newStore(b, memory.New(), keyring(b, "k1", "k1"), crypto.WithDataKeyCache(time.Hour, 1000)), shape.fixture)
		})
		b.Run(shape.name+"/encrypted-memory-record-cache", func(b *testing.B) {
			benchFetch(b, newStore(b, memory.New(), keyring(b, "k1", "k1"), crypto.WithDataKeyCache(time.Hour, 1000), crypto.WithRecordCache(time.Hour, 2*benchTenants)), shape.fixture)
		})
	}
}

// TestKMSCallsFor100kFetches counts, on the kmstest server, the KMS calls
// behind 100 000 fetches over 1 000 tenants with the data-key cache: one
// GenerateDataKey per tenant for the writes; no Decrypt in the writing
// process (it caches its own data keys); in a fresh process one Decrypt per
// tenant data key for all 100 000 fetches; one more per data key after maxAge.
func TestKMSCallsFor100kFetches(t *testing.T) {
	if testing.Short() {
		t.Skip("100 000 fetches")
	}
	srv, client := newKMS(t)
	keys, err := crypto.NewKMS(client, srv.CreateKey("k").ID)
	require.NoError(t, err)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := crypto.WithClock(func() time.Time { return now })
	cache := crypto.WithDataKeyCache(10*time.Minute, 1000)
	inner := memory.New()
	writer := newStore(t, inner, keys, clock, cache)
	seed(t, writer)
	require.Equal(t, benchTenants, srv.Calls("GenerateDataKey"))

	fetch := func(s installstore.Store, n int) {
		t.Helper()
		for i := range n {
			inst, err := s.FetchInstallation(bg, tenantQuery(i))
			if err != nil || !inst.Bot.Token.Equal(installstore.NewSecret("xoxb-test-"+tenantQuery(i).TeamID+"-bench")) {
				t.Fatalf("fetch %d: %v", i, err)
			}
		}
	}
	fetch(writer, benchTenants)
	require.Zero(t, srv.Calls("Decrypt"), "the writer reads with its cached data keys")

	reader := newStore(t, inner, keys, clock, cache)
	fetch(reader, 100000)
	require.Equal(t, benchTenants, srv.Calls("Decrypt"), "100 000 fetches in a fresh process: one Decrypt per tenant data key")
	now = now.Add(10 * time.Minute)
	fetch(reader, benchTenants)
	require.Equal(t, 2*benchTenants, srv.Calls("Decrypt"), "after maxAge: one more per data key")
	t.Logf("KMS calls: %v", srv.CallCounts())
}
