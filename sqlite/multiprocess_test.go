package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

// Several OS processes share one file: the parent re-executes this test
// binary as children, each with xprocGoroutines goroutines, in two rounds
// (the second round starts after the first's processes exited: a restart).
const (
	xprocProcs        = 4
	xprocGoroutines   = 25
	xprocNonces       = 20
	xprocIncrements   = 5 // by each of the first xprocIncrementers goroutines of a child
	xprocIncrementers = 5

	envXprocRole  = "SQLITE_XPROC_ROLE"  // "write" or "consume" in a child
	envXprocDir   = "SQLITE_XPROC_DIR"   // where the shared files are
	envXprocProc  = "SQLITE_XPROC_PROC"  // the child's number
	envXprocStart = "SQLITE_XPROC_START" // Unix ns at which every child starts at once
)

// sharedTeam is the tenant every child increments with compare-and-set
// updates; its bot token counts the acknowledged increments.
const sharedTeam = "TSHARED"

func counterToken(n int) installstore.Secret {
	return installstore.NewSecret(fmt.Sprintf("xoxb-test-count-%d", n))
}

func TestMultiProcess(t *testing.T) {
	if role := os.Getenv(envXprocRole); role != "" {
		xprocChild(t, role)
		return
	}
	ctx := context.Background()
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared.db")
	s := openAt(t, shared, sqlite.WithPlaintextSecrets())
	require.NoError(t, s.StoreInstallation(ctx, &installstore.Installation{TeamID: sharedTeam, Bot: &installstore.Bot{ID: "B1", Token: counterToken(0)}}))
	require.NoError(t, s.Close())

	// Round 1: the children open shared.db and a new file, fresh.db, at the
	// same instant; race PutNonce; write their own tenants; increment the
	// shared one; take turns holding a lease.
	outs := runChildren(t, "write", dir)
	puts := map[string]int{}
	incr, leases := 0, 0
	for _, out := range outs {
		for _, line := range resultLines(out) {
			f := strings.Fields(line)
			switch f[0] {
			case "PUT":
				puts[f[1]]++
			case "INCR":
				n, _ := strconv.Atoi(f[1])
				incr += n
			case "LEASE":
				n, _ := strconv.Atoi(f[1])
				leases += n
			}
		}
	}
	for k := range xprocNonces {
		require.Equal(t, 1, puts[fmt.Sprint(k)], "PutNonce of nonce %d succeeded once across %d processes x %d goroutines", k, xprocProcs, xprocGoroutines)
	}
	require.Equal(t, xprocProcs*xprocIncrementers*xprocIncrements, incr)
	require.Positive(t, leases)

	// Round 2, new processes: every goroutine consumes every nonce.
	outs = runChildren(t, "consume", dir)
	wins := map[string]int{}
	for _, out := range outs {
		for _, line := range resultLines(out) {
			if f := strings.Fields(line); f[0] == "WON" {
				wins[f[1]]++
			}
		}
	}
	for k := range xprocNonces {
		require.Equal(t, 1, wins[fmt.Sprint(k)], "ConsumeNonce of nonce %d succeeded once across %d processes x %d goroutines", k, xprocProcs, xprocGoroutines)
	}

	// Reopened: every acknowledged write is there.
	s = openAt(t, shared, sqlite.WithPlaintextSecrets())
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: sharedTeam})
	require.NoError(t, err)
	require.Equal(t, counterToken(incr), got.Bot.Token, "no acknowledged increment lost")
	for p := range xprocProcs {
		for g := range xprocGoroutines {
			team := fmt.Sprintf("TP%dG%d", p, g)
			got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team, UserID: "U1"})
			require.NoError(t, err, team)
			storetest.Equal(t, storetest.Fixture("", team, "U1", "xproc"), got)
		}
	}
	fresh := openAt(t, filepath.Join(dir, "fresh.db"), sqlite.WithPlaintextSecrets())
	n := 0
	require.NoError(t, fresh.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { n++; return nil }))
	require.Equal(t, 2*xprocProcs, n, "each child's write to the file they created at once")
	require.Equal(t, sqlite.SchemaVersion, rawCount(t, filepath.Join(dir, "fresh.db"), "PRAGMA user_version"))
}

// runChildren runs xprocProcs children in role and returns their outputs.
func runChildren(t *testing.T, role, dir string) []string {
	t.Helper()
	start := time.Now().Add(2 * time.Second).UnixNano() // a barrier, not a deadline
	outs := make([]string, xprocProcs)
	var wg sync.WaitGroup
	for p := range xprocProcs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcess$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), envXprocRole+"="+role, envXprocDir+"="+dir,
				envXprocProc+"="+strconv.Itoa(p), envXprocStart+"="+strconv.FormatInt(start, 10))
			out, err := cmd.CombinedOutput()
			outs[p] = string(out)
			if err != nil {
				t.Errorf("%s child %d: %v\n%s", role, p, err, out)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return outs
}

func resultLines(out string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "XPROC "); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

func xprocChild(t *testing.T, role string) {
	ctx := context.Background()
	dir := os.Getenv(envXprocDir)
	proc, _ := strconv.Atoi(os.Getenv(envXprocProc))
	startNs, _ := strconv.ParseInt(os.Getenv(envXprocStart), 10, 64)
	time.Sleep(time.Until(time.Unix(0, startNs)))
	opts := []sqlite.Option{sqlite.WithPlaintextSecrets(), sqlite.WithBusyTimeout(time.Minute)}

	s := openAt(t, filepath.Join(dir, "shared.db"), opts...)
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("XPROC "+format+"\n", args...)
	}
	nonce := func(k int) string { return fmt.Sprintf("nonce-xproc-%d", k) }
	var wg sync.WaitGroup
	switch role {
	case "write":
		fresh := openAt(t, filepath.Join(dir, "fresh.db"), opts...) // a new file, opened by every child at once
		for _, team := range []string{fmt.Sprintf("TF%dA", proc), fmt.Sprintf("TF%dB", proc)} {
			require.NoError(t, fresh.StoreInstallation(ctx, &installstore.Installation{TeamID: team}))
		}
		for g := range xprocGoroutines {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(proc), uint64(g)))
				for _, k := range r.Perm(xprocNonces) {
					err := s.PutNonce(ctx, nonce(k), time.Now().Add(time.Hour))
					if err == nil {
						report("PUT %d", k)
					} else if !errors.Is(err, installstore.ErrConflict) {
						t.Errorf("put nonce: %v", err)
					}
				}
				team := fmt.Sprintf("TP%dG%d", proc, g)
				if err := s.StoreInstallation(ctx, storetest.Fixture("", team, "U1", "xproc")); err != nil {
					t.Errorf("store %s: %v", team, err)
				}
				if g < xprocIncrementers {
					report("INCR %d", increment(t, s, xprocIncrements))
				}
				report("LEASE %d", holdLease(t, s, dir, fmt.Sprintf("p%dg%d", proc, g)))
			})
		}
	case "consume":
		for g := range xprocGoroutines {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(proc), uint64(g)))
				for _, k := range r.Perm(xprocNonces) {
					err := s.ConsumeNonce(ctx, nonce(k))
					if err == nil {
						report("WON %d", k)
					} else if !errors.Is(err, installstore.ErrNotFound) {
						t.Errorf("consume nonce: %v", err)
					}
				}
			})
		}
	}
	wg.Wait()
}

// increment adds 1 to the shared counter n times, each a fetch and a
// compare-and-set update retried on ErrConflict; it returns how many
// increments were acknowledged.
func increment(t *testing.T, s *sqlite.Store, n int) int {
	ctx := context.Background()
	done := 0
	for done < n {
		cur, err := s.FetchInstallation(ctx, installstore.Query{TeamID: sharedTeam})
		if err != nil {
			t.Errorf("fetch counter: %v", err)
			return done
		}
		v, err := strconv.Atoi(strings.TrimPrefix(cur.Bot.Token.Reveal(), "xoxb-test-count-"))
		if err != nil {
			t.Errorf("counter token: %v", err)
			return done
		}
		cur.Bot.Token = counterToken(v + 1)
		switch err := s.UpdateInstallation(ctx, cur); {
		case err == nil:
			done++
		case errors.Is(err, installstore.ErrConflict):
		default:
			t.Errorf("update counter: %v", err)
			return done
		}
	}
	return done
}

// holdLease tries a few times to take the lease; while it holds it, a
// marker file created with O_EXCL proves nobody else does. It returns how
// many times it held the lease.
func holdLease(t *testing.T, s *sqlite.Store, dir, owner string) int {
	ctx := context.Background()
	marker := filepath.Join(dir, "lease-holder")
	held := 0
	for range 10 {
		err := s.AcquireLease(ctx, "xproc-lease", owner, time.Minute)
		if errors.Is(err, installstore.ErrLeaseHeld) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Errorf("acquire lease: %v", err)
			return held
		}
		f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			t.Errorf("%s holds the lease while another holder's marker exists: %v", owner, err)
			return held
		}
		_ = f.Close()
		held++
		time.Sleep(time.Millisecond)
		require.NoError(t, os.Remove(marker))
		require.NoError(t, s.ReleaseLease(ctx, "xproc-lease", owner))
	}
	return held
}
