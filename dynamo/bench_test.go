package dynamo_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
	"github.com/installvault/installvault/memory"
)

const benchTenants = 100

// benchStores returns the memory baseline, a dynamo store, the crypto
// layer over a dynamo store, and a dynamo store with history on, over fresh
// tables of a client that counts its
// DynamoDB calls, each holding benchTenants tenants with one user each.
func benchStores(b *testing.B) (map[string]installstore.Store, *dynamotest.Counter) {
	b.Helper()
	counter := &dynamotest.Counter{}
	client := dynamotest.Client(b, counter.Option())
	table := dynamotest.NewTable(b, client)
	d, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
	if err != nil {
		b.Fatal(err)
	}
	plainless, err := dynamo.New(client, dynamotest.NewTable(b, client))
	if err != nil {
		b.Fatal(err)
	}
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := crypto.NewStore(plainless, keys)
	if err != nil {
		b.Fatal(err)
	}
	hist, err := dynamo.New(client, dynamotest.NewTable(b, client), dynamo.WithPlaintextSecrets(), dynamo.WithHistory())
	if err != nil {
		b.Fatal(err)
	}
	stores := map[string]installstore.Store{"memory": memory.New(), "dynamo": d, "crypto+dynamo": sealed, "dynamo+history": hist}
	for _, s := range stores {
		for i := range benchTenants {
			if err := s.StoreInstallation(context.Background(), storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "bench")); err != nil {
				b.Fatal(err)
			}
		}
	}
	return stores, counter
}

// reportCalls reports DynamoDB calls per operation, in total and by API.
func reportCalls(b *testing.B, c *dynamotest.Counter) {
	calls := c.Calls()
	names := make([]string, 0, len(calls))
	total := 0
	for name, n := range calls {
		names = append(names, name)
		total += n
	}
	sort.Strings(names)
	b.ReportMetric(float64(total)/float64(b.N), "calls/op")
	for _, name := range names {
		b.ReportMetric(float64(calls[name])/float64(b.N), name+"/op")
	}
}

func BenchmarkFetch(b *testing.B) {
	stores, counter := benchStores(b)
	ctx := context.Background()
	for _, name := range []string{"memory", "dynamo", "crypto+dynamo"} {
		for _, user := range []string{"", "U1"} {
			label := name + "/latest"
			if user != "" {
				label = name + "/user"
			}
			b.Run(label, func(b *testing.B) {
				s := stores[name]
				counter.Reset()
				i := 0
				for b.Loop() {
					if _, err := s.FetchInstallation(ctx, installstore.Query{TeamID: fmt.Sprintf("T%d", i%benchTenants), UserID: user}); err != nil {
						b.Fatal(err)
					}
					i++
				}
				if name != "memory" {
					reportCalls(b, counter)
				}
			})
		}
	}
	b.Run("dynamo/enterprise-fallback", func(b *testing.B) {
		s := stores["dynamo"]
		if err := s.StoreInstallation(ctx, storetest.OrgFixture("E1", "U1", "bench")); err != nil {
			b.Fatal(err)
		}
		counter.Reset()
		for b.Loop() {
			if _, err := s.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T9"}); err != nil {
				b.Fatal(err)
			}
		}
		reportCalls(b, counter)
	})
}

func BenchmarkStore(b *testing.B) {
	stores, counter := benchStores(b)
	ctx := context.Background()
	for _, name := range []string{"memory", "dynamo", "crypto+dynamo", "dynamo+history"} {
		b.Run(name, func(b *testing.B) {
			s := stores[name]
			counter.Reset()
			i := 0
			for b.Loop() {
				if err := s.StoreInstallation(ctx, storetest.Fixture("", fmt.Sprintf("T%d", i%benchTenants), "U1", "again")); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if name != "memory" {
				reportCalls(b, counter)
			}
		})
	}
	b.Run("dynamo/update", func(b *testing.B) {
		s := stores["dynamo"].(installstore.Updater)
		cur, err := stores["dynamo"].FetchInstallation(ctx, installstore.Query{TeamID: "T0"})
		if err != nil {
			b.Fatal(err)
		}
		counter.Reset()
		for b.Loop() {
			if err := s.UpdateInstallation(ctx, cur); err != nil {
				b.Fatal(err)
			}
		}
		reportCalls(b, counter)
	})
}

// BenchmarkListInstallations lists 1 000 tenants with one user each (2 000
// records; INSTALLVAULT_LIST_TENANTS sets another count) with 1 to 8 Scan
// segments, and reports records per second.
func BenchmarkListInstallations(b *testing.B) {
	ctx := context.Background()
	client := dynamotest.Client(b)
	table := dynamotest.NewTable(b, client)
	s, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
	if err != nil {
		b.Fatal(err)
	}
	tenants := 1000
	if n, err := strconv.Atoi(os.Getenv("INSTALLVAULT_LIST_TENANTS")); err == nil && n > 0 {
		tenants = n
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range tenants {
		g.Go(func() error {
			return s.StoreInstallation(gctx, storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "list"))
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	for _, segments := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("segments=%d", segments), func(b *testing.B) {
			s, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets(), dynamo.WithScanSegments(segments))
			if err != nil {
				b.Fatal(err)
			}
			records := 0
			for b.Loop() {
				if err := s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { records++; return nil }); err != nil {
					b.Fatal(err)
				}
			}
			if records%(2*tenants) != 0 {
				b.Fatalf("listed %d records, want a multiple of %d", records, 2*tenants)
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
