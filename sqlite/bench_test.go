package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/benchcpu"
	"github.com/installvault/installvault/sqlite"
)

// Run with:
//
//	go test -run '^$' -bench . -benchtime 2s ./sqlite/
//
// Files are in the test's temporary directory (the disk TMPDIR is on);
// writes are fsynced (synchronous=FULL), so write figures are the disk's.
// Besides ns/op (wall time), each benchmark reports cpu-ns/op, the
// process's CPU time per operation, which a machine shared with other work
// inflates less.

const benchTenants = 100

// benchStores returns the plaintext store and the crypto layer over a
// sealed-only store, each on a new file holding benchTenants tenants with
// one user each.
func benchStores(b *testing.B) map[string]installstore.FullStore {
	b.Helper()
	plain := newPlain(b)
	backend, _ := open(b)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := crypto.NewStore(backend, keys)
	if err != nil {
		b.Fatal(err)
	}
	stores := map[string]installstore.FullStore{"sqlite": plain, "crypto+sqlite": sealed}
	for _, s := range stores {
		for i := range benchTenants {
			if err := s.StoreInstallation(context.Background(), storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "bench")); err != nil {
				b.Fatal(err)
			}
		}
	}
	return stores
}

var benchNames = []string{"sqlite", "crypto+sqlite"}

func benchFetch(b *testing.B, user string) {
	stores := benchStores(b)
	ctx := context.Background()
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			s := stores[name]
			loop(b, func(i int) {
				if _, err := s.FetchInstallation(ctx, installstore.Query{TeamID: fmt.Sprintf("T%d", i%benchTenants), UserID: user}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkFetch: a tenant's latest installation (one statement, one
// primary-key probe per fallback alternative).
func BenchmarkFetch(b *testing.B) { benchFetch(b, "") }

// BenchmarkFetchWithUser: a user's installation with the tenant's bot (one
// statement joining the two rows).
func BenchmarkFetchWithUser(b *testing.B) { benchFetch(b, "U1") }

// BenchmarkStore: a re-install (one transaction writing both rows and the
// version counter, fsynced).
func BenchmarkStore(b *testing.B) {
	stores := benchStores(b)
	ctx := context.Background()
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			s := stores[name]
			loop(b, func(i int) {
				if err := s.StoreInstallation(ctx, storetest.Fixture("", fmt.Sprintf("T%d", i%benchTenants), "U1", "again")); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkUpdate: a token refresh's conditional write (one transaction,
// fsynced).
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
			loop(b, func(int) {
				if err := s.UpdateInstallation(ctx, cur); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// seedRotating inserts n tenants with one user each, whose rotating tokens
// expire in 12 hours, straight into the tables in one transaction (storing
// them one by one, each fsynced, would dominate the run): what a due tick
// looks at with nothing due. No ANALYZE: with SQLite's STAT4 statistics a
// statement whose bound values may change its plan is re-prepared at every
// run, as ListDue's time bound does (3x the CPU of a tick); the store
// itself never runs ANALYZE.
func seedRotating(b *testing.B, path string, n int) {
	b.Helper()
	due := time.Now().Add(12 * time.Hour).UnixNano()
	rawExec(b, path, fmt.Sprintf(`
BEGIN;
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %[1]d)
INSERT INTO tenants (enterprise_id, team_id, version, rec, user_id, user, user_token, user_due, bot, bot_due)
SELECT '', 'T' || n, n, json_object('team', 'T' || n), 'U1', '{"id":"U1","tok":"ivsealed:x","rtok":"ivsealed:x"}', 1, %[2]d,
	'{"id":"B1","tok":"ivsealed:x","rtok":"ivsealed:x"}', %[2]d FROM i;
INSERT INTO users (enterprise_id, team_id, user_id, rec, user, user_token, due)
SELECT '', team_id, 'U1', rec, user, 1, %[2]d FROM tenants;
UPDATE counter SET version = %[1]d;
COMMIT;`, n, due))
}

// BenchmarkDueTick: one ListDue of the refresh window (the next hour) over
// N tenants with rotating tokens, none due: two probes of the partial
// indexes, whatever N.
func BenchmarkDueTick(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			s, path := open(b)
			seedRotating(b, path, n)
			ctx := context.Background()
			loop(b, func(int) {
				found := 0
				if err := s.ListDue(ctx, time.Now().Add(time.Hour), func(installstore.Query, time.Time) error { found++; return nil }); err != nil {
					b.Fatal(err)
				}
				if found != 0 {
					b.Fatalf("%d records due", found)
				}
			})
		})
	}
}

// loop runs op b.N times and reports cpu-ns/op.
func loop(b *testing.B, op func(i int)) {
	b.Helper()
	cpu := benchcpu.Now()
	i := 0
	for b.Loop() {
		op(i)
		i++
	}
	cpu.Report(b)
}

// BenchmarkStoreHistory: a re-install at a new time, with history off and
// on (one more row in the same fsynced transaction).
func BenchmarkStoreHistory(b *testing.B) {
	ctx := context.Background()
	for _, history := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", history), func(b *testing.B) {
			opts := []sqlite.Option{}
			if history {
				opts = append(opts, sqlite.WithHistory())
			}
			s := newPlain(b, opts...)
			loop(b, func(i int) {
				inst := storetest.Fixture("", fmt.Sprintf("T%d", i%benchTenants), "U1", "again")
				inst.InstalledAt = inst.InstalledAt.Add(time.Duration(i) * time.Microsecond)
				if err := s.StoreInstallation(ctx, inst); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
