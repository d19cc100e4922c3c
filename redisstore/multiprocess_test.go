package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/redisstore"
)

// The cross-process race: the parent re-executes this test binary as
// xprocProcs child processes ("replicas"), each running xprocGoroutines
// goroutines against one Redis deployment, and counts the winners.
const (
	xprocProcs      = 4
	xprocGoroutines = 25
	xprocNonces     = 40
	envChild        = "REDISSTORE_XPROC_CHILD"  // "1" in a child
	envDeployment   = "REDISSTORE_XPROC_DEPLOY" // "standalone" or "cluster"
	envPrefix       = "REDISSTORE_XPROC_PREFIX" // the store's key prefix
)

func xprocStore(t testing.TB, deployment, prefix string) (*redisstore.Store, redis.UniversalClient) {
	var client redis.UniversalClient
	if deployment == "cluster" {
		client = redistest.ClusterClient(t)
	} else {
		client = redistest.Client(t)
	}
	s, err := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
	require.NoError(t, err)
	return s, client
}

// TestNoncesAndLeasesAcrossProcesses: 4 processes x 25 goroutines consume
// every one of 40 put nonces, race to put 40 fresh ones and to take one
// lease: each nonce is consumed exactly once and put exactly once, and the
// lease has exactly one holder.
func TestNoncesAndLeasesAcrossProcesses(t *testing.T) {
	if os.Getenv(envChild) == "1" {
		xprocChild(t)
		return
	}
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			client := d.client(t)
			prefix := redistest.Prefix(t, client)
			s, err := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
			require.NoError(t, err)
			for i := range xprocNonces {
				require.NoError(t, s.PutNonce(ctx, fmt.Sprintf("consume-%d", i), time.Now().Add(time.Hour)))
			}

			outs := make([]string, xprocProcs)
			var wg sync.WaitGroup
			for i := range xprocProcs {
				wg.Go(func() {
					cmd := exec.Command(os.Args[0], "-test.run=^TestNoncesAndLeasesAcrossProcesses$", "-test.count=1", "-test.v")
					cmd.Env = append(os.Environ(), envChild+"=1", envDeployment+"="+d.name, envPrefix+"="+prefix)
					out, err := cmd.CombinedOutput()
					outs[i] = string(out)
					if err != nil {
						t.Errorf("replica %d: %v\n%s", i, err, out)
					}
				})
			}
			// Start the replicas' goroutines together, once every replica is ready.
			ready, start := prefix+":xproc:ready", prefix+":xproc:start"
			for i := 0; ; i++ {
				n, err := client.Get(ctx, ready).Int()
				if err == nil && n == xprocProcs {
					break
				}
				require.Less(t, i, 1200, "replicas not ready")
				time.Sleep(50 * time.Millisecond)
			}
			require.NoError(t, client.Set(ctx, start, "1", time.Hour).Err())
			wg.Wait()

			wins := map[string]int{}
			for _, out := range outs {
				sc := bufio.NewScanner(strings.NewReader(out))
				for sc.Scan() {
					if rest, ok := strings.CutPrefix(sc.Text(), "XPROC-WON "); ok {
						wins[rest]++
					}
				}
			}
			for i := range xprocNonces {
				require.Equal(t, 1, wins["consume consume-"+fmt.Sprint(i)], "consumptions of nonce %d across %d processes", i, xprocProcs)
				require.Equal(t, 1, wins["put fresh-"+fmt.Sprint(i)], "puts of fresh nonce %d", i)
			}
			require.Equal(t, 1, wins["lease"], "lease holders")
			require.Len(t, wins, 2*xprocNonces+1)
		})
	}
}

// xprocChild is one replica: it reports ready, waits for the start, then
// runs the goroutines and prints one XPROC-WON line per win.
func xprocChild(t *testing.T) {
	ctx := context.Background()
	deployment, prefix := os.Getenv(envDeployment), os.Getenv(envPrefix)
	s, client := xprocStore(t, deployment, prefix)
	ready, start := prefix+":xproc:ready", prefix+":xproc:start"
	require.NoError(t, client.Incr(ctx, ready).Err())
	for i := 0; client.Exists(ctx, start).Val() == 0; i++ {
		require.Less(t, i, 1200, "no start")
		time.Sleep(10 * time.Millisecond)
	}
	var mu sync.Mutex
	var wins []string
	won := func(what string) { mu.Lock(); wins = append(wins, what); mu.Unlock() }
	var wg sync.WaitGroup
	for g := range xprocGoroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(g)))
			owner := fmt.Sprintf("owner-%d-%d", os.Getpid(), g)
			switch err := s.AcquireLease(ctx, "xproc", owner, time.Hour); {
			case err == nil:
				won("lease")
			case !errors.Is(err, installstore.ErrLeaseHeld):
				t.Errorf("acquire: %v", err)
			}
			for _, i := range r.Perm(xprocNonces) {
				switch err := s.ConsumeNonce(ctx, fmt.Sprintf("consume-%d", i)); {
				case err == nil:
					won(fmt.Sprintf("consume consume-%d", i))
				case !errors.Is(err, installstore.ErrNotFound):
					t.Errorf("consume: %v", err)
				}
			}
			for _, i := range r.Perm(xprocNonces) {
				switch err := s.PutNonce(ctx, fmt.Sprintf("fresh-%d", i), time.Now().Add(time.Hour)); {
				case err == nil:
					won(fmt.Sprintf("put fresh-%d", i))
				case !errors.Is(err, installstore.ErrConflict):
					t.Errorf("put: %v", err)
				}
			}
		})
	}
	wg.Wait()
	for _, w := range wins {
		fmt.Printf("XPROC-WON %s\n", w)
	}
}
