package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// Run with the server of scripts/postgres.sh:
//
//	eval "$(scripts/postgres.sh start)"
//	go test -run '^$' -bench . -benchtime 2s ./postgres/

const benchTenants = 100

// counter counts the statements of every pool of the benchmarks.
var counter = &pgtest.Counter{}

// benchStore returns a store over a fresh schema whose pool counts its
// statements.
func benchStore(b *testing.B, opts ...postgres.Option) (*postgres.Store, *pgxpool.Pool) {
	b.Helper()
	pool := pgtest.Pool(b, pgtest.NewSchema(b), counter.Configure)
	s, err := postgres.New(pool, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return s, pool
}

// reportStatements reports the statements (round trips) per operation
// since the last counter.Reset.
func reportStatements(b *testing.B) {
	b.ReportMetric(float64(counter.Statements())/float64(b.N), "statements/op")
}

// benchStores returns the plaintext store and the crypto layer over a
// sealed-only store, each on a fresh schema holding benchTenants tenants
// with one user each.
func benchStores(b *testing.B) map[string]installstore.FullStore {
	b.Helper()
	plain, _ := benchStore(b, postgres.WithPlaintextSecrets())
	backend, _ := benchStore(b)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := crypto.NewStore(backend, keys)
	if err != nil {
		b.Fatal(err)
	}
	stores := map[string]installstore.FullStore{"postgres": plain, "crypto+postgres": sealed}
	for _, s := range stores {
		for i := range benchTenants {
			if err := s.StoreInstallation(context.Background(), storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "bench")); err != nil {
				b.Fatal(err)
			}
		}
	}
	return stores
}

var benchNames = []string{"postgres", "crypto+postgres"}

func benchFetch(b *testing.B, user string) {
	stores := benchStores(b)
	ctx := context.Background()
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			s := stores[name]
			i := 0
			counter.Reset()
			for b.Loop() {
				if _, err := s.FetchInstallation(ctx, installstore.Query{TeamID: fmt.Sprintf("T%d", i%benchTenants), UserID: user}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportStatements(b)
		})
	}
}

// BenchmarkFetch: a tenant's latest installation (one statement).
func BenchmarkFetch(b *testing.B) { benchFetch(b, "") }

// BenchmarkFetchWithUser: a user's installation with the tenant's bot (one
// statement joining the two rows).
func BenchmarkFetchWithUser(b *testing.B) { benchFetch(b, "U1") }

// BenchmarkStore: a re-install (one statement writing both rows).
func BenchmarkStore(b *testing.B) {
	stores := benchStores(b)
	ctx := context.Background()
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			s := stores[name]
			i := 0
			counter.Reset()
			for b.Loop() {
				if err := s.StoreInstallation(ctx, storetest.Fixture("", fmt.Sprintf("T%d", i%benchTenants), "U1", "again")); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportStatements(b)
		})
	}
}

// BenchmarkUpdate: a token refresh's conditional write (one statement).
func BenchmarkUpdate(b *testing.B) {
	stores := benchStores(b)
	ctx := context.Background()
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			s := stores[name]
			cur, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T0", UserID: "U1"})
			if err != nil {
				b.Fatal(err)
			}
			counter.Reset()
			for b.Loop() {
				if err := s.UpdateInstallation(ctx, cur); err != nil {
					b.Fatal(err)
				}
			}
			reportStatements(b)
		})
	}
}

// seedRotating inserts n tenants with one user each, whose rotating tokens
// expire in 12 hours, straight into the tables (storing them one by one
// would dominate the run): what a due tick looks at with nothing due.
func seedRotating(b testing.TB, pool *pgxpool.Pool, n int) {
	b.Helper()
	seedRotatingApp(b, pool, n, "", time.Now().Add(12*time.Hour))
}

// seedRotatingApp stores n tenants of app ("" unscoped) with a bot and a
// user whose rotating tokens are due at due, as the store would.
func seedRotatingApp(b testing.TB, pool *pgxpool.Pool, n int, app string, due time.Time) {
	b.Helper()
	prefix := ""
	if app != "" {
		prefix = app + "/"
	}
	_, err := pool.Exec(context.Background(), `
WITH t AS (
	INSERT INTO installvault_tenants (tenant, app, version, user_id, record, user_token, user_refresh_token, user_due, bot, bot_token, bot_refresh_token, bot_due)
	SELECT $3 || ':T' || i, $4, nextval('installvault_version_seq'), 'U1', jsonb_build_object('team', 'T' || i, 'user', jsonb_build_object('id', 'U1')),
		'ivsealed:x', 'ivsealed:x', $2, '{"id": "B1"}', 'ivsealed:x', 'ivsealed:x', $2
	FROM generate_series(1, $1) AS i
	RETURNING tenant, record
)
INSERT INTO installvault_users (tenant, app, user_id, record, user_token, user_refresh_token, due)
SELECT tenant, $4, 'U1', record, 'ivsealed:x', 'ivsealed:x', $2 FROM t`, n, due.UnixNano(), prefix, app)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `ANALYZE installvault_tenants; ANALYZE installvault_users`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDueTick: one ListDue of the refresh window (the next hour) over
// N tenants with rotating tokens, none due: two probes of the partial
// indexes, whatever N.
func BenchmarkDueTick(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			s, pool := benchStore(b)
			seedRotating(b, pool, n)
			ctx := context.Background()
			counter.Reset()
			for b.Loop() {
				found := 0
				if err := s.ListDue(ctx, time.Now().Add(time.Hour), func(installstore.Query, time.Time) error { found++; return nil }); err != nil {
					b.Fatal(err)
				}
				if found != 0 {
					b.Fatalf("%d records due", found)
				}
			}
			reportStatements(b)
		})
	}
}

// walLSN returns the server's current WAL position in bytes: the WAL
// written between two calls measures the writes' cost whatever else loads
// the machine (the server is the benchmark's own).
func walLSN(b *testing.B, pool *pgxpool.Pool) int64 {
	b.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT pg_current_wal_lsn() - '0/0'::pg_lsn`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkStoreHistory: a re-install at a new time, with history off and
// on (one more row, in the same statement), and one ListHistory of a
// tenant's latest page.
func BenchmarkStoreHistory(b *testing.B) {
	ctx := context.Background()
	for _, history := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", history), func(b *testing.B) {
			opts := []postgres.Option{postgres.WithPlaintextSecrets()}
			if history {
				opts = append(opts, postgres.WithHistory())
			}
			s, pool := benchStore(b, opts...)
			i := 0
			lsn0 := walLSN(b, pool)
			counter.Reset()
			for b.Loop() {
				inst := storetest.Fixture("", fmt.Sprintf("T%d", i%benchTenants), "U1", "again")
				inst.InstalledAt = inst.InstalledAt.Add(time.Duration(i) * time.Microsecond)
				if err := s.StoreInstallation(ctx, inst); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportStatements(b)
			b.ReportMetric(float64(walLSN(b, pool)-lsn0)/float64(b.N), "wal-bytes/op")
		})
	}
	b.Run("list history", func(b *testing.B) {
		s, _ := benchStore(b, postgres.WithPlaintextSecrets(), postgres.WithHistory())
		for i := range 50 {
			inst := storetest.Fixture("", "T1", "U1", "again")
			inst.InstalledAt = inst.InstalledAt.Add(time.Duration(i) * time.Minute)
			if err := s.StoreInstallation(ctx, inst); err != nil {
				b.Fatal(err)
			}
		}
		counter.Reset()
		for b.Loop() {
			if err := s.ListHistory(ctx, q("", "T1", ""), func(*installstore.Installation) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		reportStatements(b)
	})
}
