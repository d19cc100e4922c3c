package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
)

// ownCluster starts two cluster-enabled servers of the test's own, gives
// each half of the slots and joins them.
func ownCluster(t *testing.T) (nodes []*redistest.OwnServer, clients []*redis.Client) {
	t.Helper()
	ctx := context.Background()
	for i := range 2 {
		n := redistest.StartServer(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "5000")
		c := redis.NewClient(&redis.Options{Addr: n.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		require.NoError(t, c.ClusterAddSlotsRange(ctx, i*8192, i*8192+8191).Err())
		nodes, clients = append(nodes, n), append(clients, c)
	}
	require.NoError(t, clients[0].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(nodes[1].Port())).Err())
	for i := 0; ; i++ {
		ok := 0
		for _, c := range clients {
			if info, err := c.ClusterInfo(ctx).Result(); err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:2") {
				ok++
			}
		}
		if ok == 2 {
			return nodes, clients
		}
		require.Less(t, i, 400, "the cluster did not form")
		time.Sleep(25 * time.Millisecond)
	}
}

// migrateSlot moves slot from node src to node dst the way redis-cli
// --cluster reshard does: IMPORTING/MIGRATING, MIGRATE of its keys in
// batches, then the slot's new owner on both nodes.
func migrateSlot(ctx context.Context, t *testing.T, slot int, src, dst *redis.Client, dstPort int) {
	t.Helper()
	srcID, err := src.ClusterMyID(ctx).Result()
	require.NoError(t, err)
	dstID, err := dst.ClusterMyID(ctx).Result()
	require.NoError(t, err)
	require.NoError(t, dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	require.NoError(t, src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 2).Result()
		require.NoError(t, err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", dstPort, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		require.NoError(t, src.Do(ctx, args...).Err())
		time.Sleep(time.Millisecond) // let the storm run between batches
	}
	require.NoError(t, dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	require.NoError(t, src.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
}

// TestReshardingDuringStormLosesNothing: the slot of one key group moves
// between two masters, back and forth, key batch by key batch, while
// writers store, update and fetch its tenants (a workspace of an
// enterprise among them, whose scripts name its standalone twin's key).
// Calls fail only with ErrUnavailable (TRYAGAIN while a group's keys are
// split), nothing acknowledged is lost, no fetch is older than the last
// acknowledged write, and the indexes end exact, with each tenant's
// history (history is on: its keys move with the group's slot).
func TestReshardingDuringStormLosesNothing(t *testing.T) {
	ctx := context.Background()
	nodes, clients := ownCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{nodes[0].Addr(), nodes[1].Addr()}, MaxRedirects: 16})
	defer cc.Close()
	redirects := &redirectCounter{}
	cc.OnNewNode(func(c *redis.Client) { c.AddHook(redirects) })
	s, err := New(cc, WithPlaintextSecrets(), WithKeyPrefix("reshard"), WithHistory())
	require.NoError(t, err)

	teams := teamsInGroup(6)
	tenants := []installstore.Tenant{{EnterpriseID: "E1", TeamID: teams[0]}}
	for _, team := range teams[1:] {
		tenants = append(tenants, installstore.Tenant{TeamID: team})
	}
	slot, err := cc.ClusterKeySlot(ctx, s.groupOf(tenants[0]).seq()).Result()
	require.NoError(t, err)
	owner := 0
	if slot >= 8192 {
		owner = 1
	}

	due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	fixture := func(tn installstore.Tenant, n int) *installstore.Installation {
		inst := storetest.Fixture(tn.EnterpriseID, tn.TeamID, "U1", strconv.Itoa(n))
		inst.Bot.ExpiresAt, inst.User.ExpiresAt = due, due
		return inst
	}
	var (
		mu          sync.Mutex
		acked       = map[installstore.Tenant]int{}
		attempted   = map[installstore.Tenant]int{}
		stop        atomic.Bool
		unavailable atomic.Int64
		writes      atomic.Int64
	)
	tag := func(s installstore.Secret) int {
		v := s.Reveal()
		n, _ := strconv.Atoi(v[strings.LastIndexByte(v, '-')+1:])
		return n
	}
	errs := make(chan error, len(tenants))
	var wg sync.WaitGroup
	for _, tn := range tenants {
		wg.Go(func() {
			q := installstore.Query{EnterpriseID: tn.EnterpriseID, TeamID: tn.TeamID, UserID: "U1"}
			for n := 1; !stop.Load(); n++ {
				mu.Lock()
				attempted[tn] = n
				mu.Unlock()
				var err error
				if cur, ferr := s.FetchInstallation(ctx, q); n%2 == 0 && ferr == nil {
					cur.Bot.Token = installstore.NewSecret(fmt.Sprintf("xoxb-test-%s-%d", tn.TeamID, n))
					err = s.UpdateInstallation(ctx, cur)
				} else {
					err = s.StoreInstallation(ctx, fixture(tn, n))
				}
				switch {
				case err == nil:
					mu.Lock()
					acked[tn] = n
					mu.Unlock()
					writes.Add(1)
				case errors.Is(err, installstore.ErrUnavailable):
					unavailable.Add(1)
					continue
				default:
					errs <- fmt.Errorf("tenant %s write %d: %w", tn, n, err)
					return
				}
				got, err := s.FetchInstallation(ctx, q)
				if errors.Is(err, installstore.ErrUnavailable) {
					unavailable.Add(1)
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("tenant %s fetch: %w", tn, err)
					return
				}
				if m := tag(got.Bot.Token); m < n {
					errs <- fmt.Errorf("tenant %s: fetch after write %d returned write %d", tn, n, m)
					return
				}
			}
		})
	}
	// waitWrites waits for 50 more acknowledged writes, or a failed writer.
	waitWrites := func() {
		for w := writes.Load(); writes.Load() < w+50 && len(errs) == 0; {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for range 4 {
		waitWrites()
		migrateSlot(ctx, t, int(slot), clients[owner], clients[1-owner], nodes[1-owner].Port())
		owner = 1 - owner
	}
	waitWrites()
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	listed := map[installstore.Query]bool{}
	require.NoError(t, s.ListInstallations(ctx, func(q installstore.Query, _ *installstore.Installation) error { listed[q] = true; return nil }))
	dueListed := map[installstore.Query]bool{}
	require.NoError(t, s.ListDue(ctx, due, func(q installstore.Query, _ time.Time) error { dueListed[q] = true; return nil }))
	for _, tn := range tenants {
		got, err := s.FetchInstallation(ctx, installstore.Query{EnterpriseID: tn.EnterpriseID, TeamID: tn.TeamID, UserID: "U1"})
		require.NoError(t, err)
		n := tag(got.Bot.Token)
		require.GreaterOrEqual(t, n, acked[tn], "tenant %s lost an acknowledged write", tn)
		require.LessOrEqual(t, n, attempted[tn])
		for _, uid := range []string{"", "U1"} {
			q := installstore.Query{EnterpriseID: tn.EnterpriseID, TeamID: tn.TeamID, UserID: uid}
			require.True(t, listed[q], "listed %+v", q)
			require.True(t, dueListed[q], "due %+v", q)
		}
		hs := storetest.History(t, s, installstore.Query{EnterpriseID: tn.EnterpriseID, TeamID: tn.TeamID})
		require.Len(t, hs, 1, "tenant %s: its stores of one install replace one history entry", tn)
		require.Positive(t, tag(hs[0].Bot.Token))
		require.LessOrEqual(t, tag(hs[0].Bot.Token), n, "tenant %s: the history entry is newer than the record", tn)
	}
	require.Len(t, listed, 2*len(tenants))
	require.Len(t, dueListed, 2*len(tenants))
	require.Positive(t, redirects.n.Load(), "the storm met the migrations (ASK, MOVED or TRYAGAIN replies)")
	t.Logf("writes %d, calls refused as unavailable %d, redirects and TRYAGAIN replies %d, slot %d moved 4 times",
		writes.Load(), unavailable.Load(), redirects.n.Load(), slot)
}

// redirectCounter counts the ASK, MOVED and TRYAGAIN replies a node gave.
type redirectCounter struct{ n atomic.Int64 }

func (r *redirectCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *redirectCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if redis.HasErrorPrefix(err, "ASK") || redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "TRYAGAIN") {
			r.n.Add(1)
		}
		return err
	}
}
func (r *redirectCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
