package postgres_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// Several OS processes share one database: the parent re-executes this test
// binary (TestMain dispatches on envChild) with the schema to use.
const (
	envChild  = "INSTALLVAULT_PG_CHILD"  // the child's role: "migrate" or "storm"
	envSchema = "INSTALLVAULT_PG_SCHEMA" // the schema the processes share
	envProc   = "INSTALLVAULT_PG_PROC"   // the child's index
	envCAS    = "INSTALLVAULT_PG_CAS"    // the Version every storm update expects

	stormProcs     = 4
	stormPerProc   = 100
	mutexPerProc   = 8
	resultPrefix   = "PGCHILD-RESULT "
	stormNonce     = "nonce-storm"
	stormLease     = "lease-storm"
	mutexLease     = "lease-mutex"
	mutexHolderSQL = `CREATE TABLE IF NOT EXISTS storm_holder (only_one boolean PRIMARY KEY DEFAULT true, owner text NOT NULL)`
)

// children runs n copies of this binary in role, sharing schema, and
// returns each one's output.
func children(t *testing.T, n int, role, schema string) []string {
	t.Helper()
	outs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envChild+"="+role, envSchema+"="+schema, envProc+"="+strconv.Itoa(i))
			out, err := cmd.CombinedOutput()
			outs[i] = string(out)
			if err != nil {
				t.Errorf("process %d (%s): %v\n%s", i, role, err, out)
			}
		})
	}
	wg.Wait()
	return outs
}

// result returns the value of key in a child's result line.
func result(t *testing.T, out, key string) int {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), resultPrefix)
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			if k, v, _ := strings.Cut(kv, "="); k == key {
				n, err := strconv.Atoi(v)
				require.NoError(t, err)
				return n
			}
		}
	}
	t.Fatalf("no %s in the child's output:\n%s", key, out)
	return 0
}

// runChild is a child process's main: it returns the exit code.
func runChild(role string) int {
	ctx := context.Background()
	pool, err := pgtest.OpenPool(ctx, os.Getenv(pgtest.URLEnv), os.Getenv(envSchema))
	if err != nil {
		fmt.Println("child:", err)
		return 1
	}
	defer pool.Close()
	switch role {
	case "migrate":
		if err := postgres.Migrate(ctx, pool); err != nil {
			fmt.Println("child: migrate:", err)
			return 1
		}
		fmt.Println(resultPrefix + "migrated=1")
		return 0
	case "storm":
		s, err := postgres.New(pool, postgres.WithPlaintextSecrets())
		if err != nil {
			fmt.Println("child:", err)
			return 1
		}
		if err := storm(ctx, s, pool); err != nil {
			fmt.Println("child: storm:", err)
			return 1
		}
		return 0
	}
	fmt.Println("child: unknown role", role)
	return 1
}

// storm is one process of the storm: stormPerProc goroutines at once each
// consume the one nonce and acquire the one lease; then mutexPerProc
// goroutines each take mutexLease once and, while holding it, claim the
// single row of storm_holder, which a second holder at the same time could
// not. It prints how many consumes and acquisitions won.
func storm(ctx context.Context, s *postgres.Store, pool *pgxpool.Pool) error {
	proc := os.Getenv(envProc)
	var nonceWins, leaseWins, updateWins, held atomic.Int64
	version, err := strconv.ParseInt(os.Getenv(envCAS), 10, 64)
	if err != nil {
		return fmt.Errorf("no %s: %w", envCAS, err)
	}
	var mu sync.Mutex
	var failures []error
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range stormPerProc {
		wg.Go(func() {
			<-start
			switch err := s.ConsumeNonce(ctx, stormNonce); {
			case err == nil:
				nonceWins.Add(1)
			case !errors.Is(err, installstore.ErrNotFound):
				failed(err)
			}
			switch err := s.AcquireLease(ctx, stormLease, fmt.Sprintf("p%s-g%d", proc, g), time.Hour); {
			case err == nil:
				leaseWins.Add(1)
			case !errors.Is(err, installstore.ErrLeaseHeld):
				failed(err)
			}
			inst := storetest.Fixture("", "T0CAS", "U1", fmt.Sprintf("p%s-g%d", proc, g))
			inst.Version = version
			switch err := s.UpdateInstallation(ctx, inst); {
			case err == nil:
				updateWins.Add(1)
			case !errors.Is(err, installstore.ErrConflict):
				failed(err)
			}
		})
	}
	close(start)
	wg.Wait()

	for g := range mutexPerProc {
		wg.Go(func() {
			owner := fmt.Sprintf("p%s-m%d", proc, g)
			for {
				err := s.AcquireLease(ctx, mutexLease, owner, time.Minute)
				if errors.Is(err, installstore.ErrLeaseHeld) {
					time.Sleep(time.Duration(5+g) * time.Millisecond)
					continue
				}
				if err != nil {
					failed(err)
					return
				}
				break
			}
			// Holding the lease: nobody else may be in here.
			if _, err := pool.Exec(ctx, `INSERT INTO storm_holder (owner) VALUES ($1)`, owner); err != nil {
				failed(fmt.Errorf("%s entered while another held the lease: %w", owner, err))
				return
			}
			time.Sleep(2 * time.Millisecond)
			if _, err := pool.Exec(ctx, `DELETE FROM storm_holder WHERE owner = $1`, owner); err != nil {
				failed(err)
			}
			held.Add(1)
			if err := s.ReleaseLease(ctx, mutexLease, owner); err != nil {
				failed(err)
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		return errors.Join(failures...)
	}
	fmt.Printf("%snonce=%d lease=%d update=%d held=%d\n", resultPrefix, nonceWins.Load(), leaseWins.Load(), updateWins.Load(), held.Load())
	return nil
}

// TestProcessesShareNoncesAndLeases: 4 OS processes x 100 goroutines on one
// database: exactly one consume of a nonce, one acquisition of a lease and
// one update from the same read win across all of them, and a lease has one
// holder at a time.
func TestProcessesShareNoncesAndLeases(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.NewSchema(t)
	pool := pgtest.Pool(t, schema)
	s, err := postgres.New(pool)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, mutexHolderSQL)
	require.NoError(t, err)
	require.NoError(t, s.PutNonce(ctx, stormNonce, time.Now().Add(time.Hour)))
	plain, err := postgres.New(pool, postgres.WithPlaintextSecrets())
	require.NoError(t, err)
	base := storetest.Fixture("", "T0CAS", "U1", "base")
	require.NoError(t, plain.StoreInstallation(ctx, base))
	t.Setenv(envCAS, strconv.FormatInt(base.Version, 10))

	outs := children(t, stormProcs, "storm", schema)
	var nonces, leases, updates, held int
	for _, out := range outs {
		nonces += result(t, out, "nonce")
		leases += result(t, out, "lease")
		updates += result(t, out, "update")
		held += result(t, out, "held")
	}
	require.Equal(t, 1, updates, "updates from one read that won across %d processes x %d", stormProcs, stormPerProc)
	got, err := plain.FetchInstallation(ctx, q("", "T0CAS", "U1"))
	require.NoError(t, err)
	require.Greater(t, got.Version, base.Version)
	require.NotEqual(t, base.Bot.Token, got.Bot.Token, "the winner's write is stored")
	require.Equal(t, 1, nonces, "nonce consumes that won across %d processes x %d", stormProcs, stormPerProc)
	require.Equal(t, 1, leases, "lease acquisitions that won across %d processes x %d", stormProcs, stormPerProc)
	require.Equal(t, stormProcs*mutexPerProc, held, "every contender held the lease once, alone")
}

// TestMigrateFromSeveralProcesses: replicas starting together all migrate
// successfully, and the schema is applied once.
func TestMigrateFromSeveralProcesses(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.NewSchemaUnmigrated(t)
	for _, out := range children(t, 3, "migrate", schema) {
		require.Equal(t, 1, result(t, out, "migrated"))
	}
	pool := pgtest.Pool(t, schema)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM installvault_schema_migrations`).Scan(&n))
	require.Equal(t, postgres.SchemaVersion, n)
}
