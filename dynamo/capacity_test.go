package dynamo_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// realisticSealed is storetest's fixture with rotating bot and user tokens,
// every secret replaced by a sealed-looking value of the length package
// crypto produces for a Slack token (about 160 bytes), expiring at exp.
func realisticSealed(team, user, tag string, exp time.Time) *installstore.Installation {
	inst := storetest.Fixture("", team, user, tag)
	inst.Bot.ExpiresAt, inst.User.ExpiresAt = exp, exp
	_ = inst.Secrets(func(_ string, s *installstore.Secret) error {
		*s = installstore.NewSecret(installstore.SealedPrefix + "1.k1." + strings.Repeat("A", 150))
		return nil
	})
	return inst
}

// TestConsumedCapacity measures, on DynamoDB Local with
// ReturnConsumedCapacity=TOTAL, the read and write capacity units of each
// operation, and checks that a due tick costs what is due, not what is
// stored. Print the figures with
//
//	go test -run TestConsumedCapacity -v ./dynamo/
//
// (INSTALLVAULT_DUE_TENANTS=2000 measures the ticks at 2 000 tenants
// instead of 200).
func TestConsumedCapacity(t *testing.T) {
	ctx := context.Background()
	var capacity dynamotest.Capacity
	var calls dynamotest.Counter
	client := dynamotest.Client(t, capacity.Option(), calls.Option())
	table := dynamotest.NewTable(t, client)
	s, err := dynamo.New(client, table)
	require.NoError(t, err)

	later := time.Now().Add(24 * time.Hour).Truncate(time.Millisecond)
	soon := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	type row struct {
		name  string
		units dynamotest.Units
		calls map[string]int
	}
	var rows []row
	measure := func(name string, op func()) dynamotest.Units {
		t.Helper()
		capacity.Reset()
		calls.Reset()
		op()
		u := capacity.Total()
		rows = append(rows, row{name, u, calls.Calls()})
		return u
	}

	store := func(inst *installstore.Installation) { require.NoError(t, s.StoreInstallation(ctx, inst)) }
	measure("store (new tenant, with user)", func() { store(realisticSealed("T1", "U1", "a", later)) })
	measure("store (re-install)", func() { store(realisticSealed("T1", "U1", "b", later)) })
	measure("store (workspace of an enterprise)", func() {
		inst := realisticSealed("TG", "U1", "g", later)
		inst.EnterpriseID = "E1"
		store(inst)
	})
	measure("fetch", func() {
		_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
	})
	measure("fetch with user", func() {
		_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
	})
	org := realisticSealed("", "U1", "o", later)
	org.EnterpriseID, org.IsEnterpriseInstall, org.TeamID = "E2", true, ""
	store(org)
	measure("fetch (workspace served by an org-wide install)", func() {
		_, err := s.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E2", TeamID: "T9"})
		require.NoError(t, err)
	})
	cur, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	measure("update (refresh of the latest installer)", func() { require.NoError(t, s.UpdateInstallation(ctx, cur)) })
	store(realisticSealed("T1", "U2", "c", later))
	measure("update (refresh of an earlier installer)", func() {
		cur, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
		capacity.Reset()
		calls.Reset()
		require.NoError(t, s.UpdateInstallation(ctx, cur))
	})
	measure("delete user", func() { require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"})) })
	measure("delete (tenant with 1 user)", func() { require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"})) })

	// The same with history on (a table of its own, so that the ticks below
	// count what they always counted).
	h, err := dynamo.New(client, dynamotest.NewTable(t, client), dynamo.WithHistory())
	require.NoError(t, err)
	hstore := func(inst *installstore.Installation) { require.NoError(t, h.StoreInstallation(ctx, inst)) }
	measure("history on: store (new tenant, with user)", func() { hstore(realisticSealed("T1", "U1", "a", later)) })
	measure("history on: store (re-install, same install time)", func() { hstore(realisticSealed("T1", "U1", "b", later)) })
	measure("history on: store (re-install, new install time)", func() {
		inst := realisticSealed("T1", "U1", "c", later)
		inst.InstalledAt = inst.InstalledAt.Add(time.Hour)
		hstore(inst)
	})
	measure("history on: store (no user)", func() { hstore(realisticSealed("T2", "", "a", later)) })
	measure("history on: list history (2 entries)", func() {
		n := 0
		require.NoError(t, h.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error { n++; return nil }))
		require.Equal(t, 2, n)
	})
	measure("history on: delete user (1 entry)", func() { require.NoError(t, h.DeleteInstallation(ctx, installstore.Query{TeamID: "T2", UserID: "U9"})) })
	measure("history on: delete (tenant with 1 user, 2 entries)", func() { require.NoError(t, h.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"})) })

	// Due ticks: N tenants, D of them due.
	tick := func(before time.Time) int {
		n := 0
		require.NoError(t, s.ListDue(ctx, before, func(installstore.Query, time.Time) error { n++; return nil }))
		return n
	}
	const small, due = 20, 10
	big := 200
	if n, err := strconv.Atoi(os.Getenv("INSTALLVAULT_DUE_TENANTS")); err == nil && n > small {
		big = n // e.g. 2000, to re-measure the tick at scale
	}
	const others = 4 // TG's and E2's records, due later
	fill := func(from, to int, exp time.Time) {
		g, _ := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i := from; i < to; i++ {
			g.Go(func() error { return s.StoreInstallation(ctx, realisticSealed(fmt.Sprintf("TN%d", i), "U1", "n", exp)) })
		}
		require.NoError(t, g.Wait())
	}
	fill(0, small, later)
	require.Eventually(t, func() bool { return tick(later) == others+2*small }, 10*time.Second, 50*time.Millisecond)
	zeroSmall := measure(fmt.Sprintf("due tick, 0 due of %d tenants", small), func() { require.Zero(t, tick(soon)) })
	fill(small, big, later)
	require.Eventually(t, func() bool { return tick(later) == others+2*big }, time.Minute, 50*time.Millisecond)
	zeroBig := measure(fmt.Sprintf("due tick, 0 due of %d tenants", big), func() { require.Zero(t, tick(soon)) })
	fill(0, due, soon)
	require.Eventually(t, func() bool { return tick(soon) == 2*due }, 10*time.Second, 50*time.Millisecond)
	someDue := measure(fmt.Sprintf("due tick, %d due of %d tenants (%d records)", due, big, 2*due), func() { require.Equal(t, 2*due, tick(soon)) })

	measure(fmt.Sprintf("list installations (%d tenants, 1 user each)", big), func() {
		n := 0
		require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { n++; return nil }))
		require.Equal(t, others+2*big, n)
	})

	require.Equal(t, zeroSmall, zeroBig, "a tick with nothing due costs the same at %d and %d tenants", small, big)
	require.Zero(t, zeroBig.Write)
	require.GreaterOrEqual(t, someDue.Read, zeroBig.Read)

	t.Logf("consumed capacity on DynamoDB Local (ReturnConsumedCapacity=TOTAL), items with sealed tokens of ~160 bytes:")
	t.Logf("%-58s %6s %6s  %s", "operation", "RCU", "WCU", "calls")
	for _, r := range rows {
		ops := make([]string, 0, len(r.calls))
		for op, n := range r.calls {
			ops = append(ops, fmt.Sprintf("%s x%d", op, n))
		}
		sort.Strings(ops)
		t.Logf("%-58s %6.1f %6.1f  %s", r.name, r.units.Read, r.units.Write, strings.Join(ops, ", "))
	}
}
