package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// TestStatementsPerOperation pins the round trips each operation costs, as
// the package documentation states them; a due tick costs the same with
// nothing due whatever the number of tenants.
func TestStatementsPerOperation(t *testing.T) {
	ctx := context.Background()
	counter := &pgtest.Counter{}
	pool := pgtest.Pool(t, pgtest.NewSchema(t), counter.Configure)
	s, err := postgres.New(pool, postgres.WithPlaintextSecrets())
	require.NoError(t, err)
	require.NoError(t, s.StoreInstallation(ctx, storetest.OrgFixture("E1", "U1", "org")))
	for i := range 200 {
		inst := storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "a")
		inst.Bot.ExpiresAt = time.Now().Add(12 * time.Hour)
		inst.User.ExpiresAt = time.Now().Add(12 * time.Hour)
		require.NoError(t, s.StoreInstallation(ctx, inst))
	}
	cur, err := s.FetchInstallation(ctx, q("", "T1", "U1"))
	require.NoError(t, err)
	require.NoError(t, s.PutNonce(ctx, "n1", time.Now().Add(time.Hour)))

	ops := []struct {
		name       string
		statements int64
		op         func() error
	}{
		{"fetch", 1, func() error { _, err := s.FetchInstallation(ctx, q("", "T1", "")); return err }},
		{"fetch with user", 1, func() error { _, err := s.FetchInstallation(ctx, q("", "T1", "U1")); return err }},
		{"fetch through both Grid fallbacks", 1, func() error { _, err := s.FetchInstallation(ctx, q("E1", "T404", "U1")); return err }},
		{"store", 1, func() error { return s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "b")) }},
		{"store under an enterprise", 1, func() error { return s.StoreInstallation(ctx, storetest.Fixture("E1", "T3", "U1", "b")) }},
		{"update", 1, func() error { return s.UpdateInstallation(ctx, cur) }},
		{"update with a stale version", 2, func() error { stale := cur.Clone(); stale.Version--; s.UpdateInstallation(ctx, stale); return nil }},
		{"delete bot", 1, func() error { return s.DeleteBot(ctx, q("", "T4", "")) }},
		{"delete bot if", 1, func() error {
			v, _ := s.FetchInstallation(ctx, q("", "T5", ""))
			counter.Reset()
			return s.DeleteBotIf(ctx, q("", "T5", ""), v.Version)
		}},
		{"delete tenant (BEGIN, DELETE, DELETE history, COMMIT)", 4, func() error { return s.DeleteInstallation(ctx, q("", "T6", "")) }},
		{"delete user (BEGIN, lock, DELETE with its history, UPDATE, COMMIT)", 5, func() error { return s.DeleteInstallation(ctx, q("", "T7", "U1")) }},
		{"delete a user that is not there", 4, func() error { return s.DeleteInstallation(ctx, q("", "T8", "U9")) }},
		{"put nonce", 1, func() error { return s.PutNonce(ctx, "n2", time.Now().Add(time.Hour)) }},
		{"consume nonce", 1, func() error { return s.ConsumeNonce(ctx, "n1") }},
		{"acquire lease", 1, func() error { return s.AcquireLease(ctx, "l", "o", time.Minute) }},
		{"release lease", 1, func() error { return s.ReleaseLease(ctx, "l", "o") }},
		{"due tick, 201 tenants, none due", 2, func() error {
			return s.ListDue(ctx, time.Now().Add(time.Hour), func(installstore.Query, time.Time) error { return fmt.Errorf("nothing is due") })
		}},
	}
	for _, o := range ops {
		counter.Reset()
		require.NoError(t, o.op(), o.name)
		require.Equal(t, o.statements, counter.Statements(), o.name)
	}
}

// TestDueTickReadsWhatIsDue: with 20 000 tenants stored and none due, and
// 20 000 of another app all due, the tick's two queries read a handful of
// index pages (PostgreSQL's own buffer count), not the tables nor the other
// app's due records; that app's own tick finds its page of due records.
func TestDueTickReadsWhatIsDue(t *testing.T) {
	ctx := context.Background()
	_, pool := pgtest.Store(t)
	seedRotating(t, pool, 20_000)
	seedRotatingApp(t, pool, 20_000, "1111.2222", time.Now().Add(-time.Minute))
	bound := time.Now().Add(time.Hour).UnixNano()
	for _, tc := range []struct {
		app  string
		rows float64
	}{{"", 0}, {"3333.4444", 0}, {"1111.2222", 500}} {
		for _, sql := range []string{postgres.DueTenantsSQL, postgres.DueUsersSQL} {
			args := []any{bound, int64(math.MinInt64), "", "", 500, tc.app}
			if sql == postgres.DueTenantsSQL {
				args = []any{bound, int64(math.MinInt64), "", 500, tc.app}
			}
			var plan []byte
			require.NoError(t, pool.QueryRow(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+sql, args...).Scan(&plan))
			var out []struct {
				Plan struct {
					ActualRows float64 `json:"Actual Rows"`
					SharedHit  int     `json:"Shared Hit Blocks"`
					SharedRead int     `json:"Shared Read Blocks"`
				} `json:"Plan"`
			}
			require.NoError(t, json.Unmarshal(plan, &out))
			require.Len(t, out, 1)
			pages := out[0].Plan.SharedHit + out[0].Plan.SharedRead
			t.Logf("app %q: rows %v, pages %d", tc.app, out[0].Plan.ActualRows, pages)
			require.Equal(t, tc.rows, out[0].Plan.ActualRows)
			if tc.rows == 0 {
				require.LessOrEqual(t, pages, 8, "pages read by a tick with nothing due of its app:\n%s", plan)
			}
		}
	}
}

// TestStatementsWithHistory: history costs no round trip: a store writes
// its entry in its one statement; a listing of a short history is one.
func TestStatementsWithHistory(t *testing.T) {
	ctx := context.Background()
	counter := &pgtest.Counter{}
	pool := pgtest.Pool(t, pgtest.NewSchema(t), counter.Configure)
	s, err := postgres.New(pool, postgres.WithPlaintextSecrets(), postgres.WithHistory(), postgres.WithClientID("1111.2222"))
	require.NoError(t, err)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	for name, op := range map[string]func() error{
		"store":       func() error { return s.StoreInstallation(ctx, storetest.Fixture("E1", "T1", "U1", "b")) },
		"put history": func() error { return s.PutHistory(ctx, storetest.Fixture("", "T2", "U1", "b")) },
		"list history": func() error {
			return s.ListHistory(ctx, q("", "T1", ""), func(*installstore.Installation) error { return nil })
		},
		"scoped nonce put":         func() error { return s.PutNonce(ctx, "n1", time.Now().Add(time.Hour)) },
		"scoped lease acquisition": func() error { return s.AcquireLease(ctx, "l", "o", time.Minute) },
	} {
		counter.Reset()
		require.NoError(t, op(), name)
		require.Equal(t, int64(1), counter.Statements(), name)
	}
}
