package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// The multi-process test re-executes this test binary: each child process
// is a replica hammering the same table.
const (
	mpChildEnv = "INSTALLVAULT_DYNAMO_MP_CHILD"
	mpTableEnv = "INSTALLVAULT_DYNAMO_MP_TABLE"

	mpProcs      = 4
	mpCounters   = 2  // tenants whose TeamName is a counter
	mpIncrements = 12 // successful increments per counter per process
	mpShared     = 6  // tenants every process stores and reads
	mpDeleted    = 5  // tenants per process, stored then deleted by it
)

func counterTeam(i int) string    { return fmt.Sprintf("TCNT%d", i) }
func sharedTeam(i int) string     { return fmt.Sprintf("TSH%d", i) }
func deletedTeam(p, i int) string { return fmt.Sprintf("TDEL%d-%d", p, i) }

// TestMultiProcess: several OS processes share one table. No increment of
// a counter kept by UpdateInstallation is lost, no fetch returns another
// tenant's token, and no deleted tenant comes back although other processes
// keep updating it with what they read before the delete.
func TestMultiProcess(t *testing.T) {
	if os.Getenv(mpChildEnv) != "" {
		mpChild(t)
		return
	}
	ctx := context.Background()
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	s, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
	require.NoError(t, err)
	for i := range mpCounters {
		inst := storetest.Fixture("", counterTeam(i), "U1", "c")
		inst.TeamName = "0"
		require.NoError(t, s.StoreInstallation(ctx, inst))
	}

	var wg sync.WaitGroup
	outs := make([][]byte, mpProcs)
	errs := make([]error, mpProcs)
	for p := range mpProcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcess$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), mpChildEnv+"="+strconv.Itoa(p), mpTableEnv+"="+table)
			outs[p], errs[p] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for p := range mpProcs {
		require.NoError(t, errs[p], "process %d failed:\n%s", p, outs[p])
		require.Contains(t, string(outs[p]), "--- PASS: TestMultiProcess", "process %d ran the child:\n%s", p, outs[p])
	}

	// No lost update: every increment of every process is there, in the
	// latest installation and in the user's.
	for i := range mpCounters {
		for _, uid := range []string{"", "U1"} {
			got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: counterTeam(i), UserID: uid})
			require.NoError(t, err)
			require.Equal(t, strconv.Itoa(mpProcs*mpIncrements), got.TeamName, "counter %d (user %q)", i, uid)
		}
	}
	// No resurrection: every deleted tenant is gone, item by item.
	for p := range mpProcs {
		for i := range mpDeleted {
			team := deletedTeam(p, i)
			for _, uid := range []string{"", "U1", "U2"} {
				_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team, UserID: uid})
				require.ErrorIs(t, err, installstore.ErrNotFound, "tenant %s user %q came back", team, uid)
			}
			require.Nil(t, rawItem(t, client, table, "T#:"+team, "LATEST"))
		}
	}
	n := 0
	require.NoError(t, s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		require.False(t, strings.HasPrefix(q.TeamID, "TDEL"), "deleted tenant %s listed", q.TeamID)
		n++
		return nil
	}))
	require.Positive(t, n)
}

func mpChild(t *testing.T) {
	p, err := strconv.Atoi(os.Getenv(mpChildEnv))
	require.NoError(t, err)
	ctx := context.Background()
	s, err := dynamo.New(dynamotest.Client(t), os.Getenv(mpTableEnv), dynamo.WithPlaintextSecrets())
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(uint64(p), 7))

	checkTenant := func(team string, q installstore.Query, got *installstore.Installation) {
		require.Equal(t, team, got.TeamID)
		if got.Bot != nil {
			require.True(t, strings.HasPrefix(got.Bot.Token.Reveal(), "xoxb-test-"+team+"-"), "tenant %s got another tenant's bot token", team)
		}
		if q.UserID != "" {
			require.Equal(t, q.UserID, got.User.ID)
			require.True(t, strings.HasPrefix(got.User.Token.Reveal(), "xoxp-test-"+team+"-"+q.UserID+"-"), "tenant %s user %s got another's token", team, q.UserID)
		}
	}

	// Stale reads of other processes' doomed tenants, to update later.
	var stale []*installstore.Installation
	pending := make([]int, mpCounters)
	for i := range pending {
		pending[i] = mpIncrements
	}
	deleted := 0
	for step := 0; ; step++ {
		left := deleted < mpDeleted
		for _, n := range pending {
			left = left || n > 0
		}
		if !left {
			break
		}
		// Increment a counter: read, add one, conditional write; retry on conflict.
		if i := r.IntN(mpCounters); pending[i] > 0 {
			q := installstore.Query{TeamID: counterTeam(i)}
			if r.IntN(2) == 0 {
				q.UserID = "U1"
			}
			cur, err := s.FetchInstallation(ctx, q)
			require.NoError(t, err)
			checkTenant(counterTeam(i), q, cur)
			n, err := strconv.Atoi(cur.TeamName)
			require.NoError(t, err)
			cur.TeamName = strconv.Itoa(n + 1)
			err = s.UpdateInstallation(ctx, cur)
			if err == nil {
				pending[i]--
			} else {
				require.ErrorIs(t, err, installstore.ErrConflict)
			}
		}
		// Store and read shared tenants; tokens must name their tenant.
		team := sharedTeam(r.IntN(mpShared))
		uid := fmt.Sprintf("U%d", 1+r.IntN(2))
		require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", team, uid, fmt.Sprintf("p%ds%d", p, step))))
		for _, q := range []installstore.Query{{TeamID: team}, {TeamID: team, UserID: uid}} {
			got, err := s.FetchInstallation(ctx, q)
			require.NoError(t, err)
			checkTenant(team, q, got)
		}
		// Try to update another process's doomed tenant with a stale read.
		other := deletedTeam((p+1+r.IntN(mpProcs-1))%mpProcs, r.IntN(mpDeleted))
		if got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: other, UserID: "U1"}); err == nil {
			checkTenant(other, installstore.Query{TeamID: other, UserID: "U1"}, got)
			stale = append(stale, got)
		} else {
			require.ErrorIs(t, err, installstore.ErrNotFound)
		}
		if len(stale) > 0 && r.IntN(2) == 0 {
			i := r.IntN(len(stale))
			inst := stale[i]
			stale = append(stale[:i], stale[i+1:]...)
			inst.User.Token = installstore.NewSecret("xoxp-test-" + inst.TeamID + "-U1-zombie")
			err := s.UpdateInstallation(ctx, inst)
			if err != nil && !errors.Is(err, installstore.ErrConflict) && !errors.Is(err, installstore.ErrNotFound) {
				require.NoError(t, err)
			}
		}
		// Install, then uninstall, one of our doomed tenants.
		if deleted < mpDeleted && step%2 == 1 {
			team := deletedTeam(p, deleted)
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", team, "U2", "d")))
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", team, "U1", "d")))
			require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: team}))
			_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team})
			require.ErrorIs(t, err, installstore.ErrNotFound)
			deleted++
		}
	}
	// Stale updates after every delete of ours must not bring anything back.
	for _, inst := range stale {
		err := s.UpdateInstallation(ctx, inst)
		if err != nil && !errors.Is(err, installstore.ErrConflict) && !errors.Is(err, installstore.ErrNotFound) {
			require.NoError(t, err)
		}
	}
}
