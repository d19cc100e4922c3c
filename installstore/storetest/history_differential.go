package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// HistoryBehavesAsMemory is the differential suite of [installstore.History]:
// for each of seeds random sequences, it runs steps random operations
// (stores, re-installs at a few install times, with and without a bot, Grid
// joins, deletes of tenants and users, conditional deletes, updates, bot
// revocations and PutHistory) on newStore(t) (history on, empty) and on
// package memory, and compares every tenant's history, whole and per user,
// after each step. Entries of one install time are compared in user order.
func HistoryBehavesAsMemory(t *testing.T, seeds, steps int, newStore func(t *testing.T) installstore.FullStore) {
	t.Helper()
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { historyAgainstMemory(t, seed, steps, newStore(t)) })
	}
}

func historyAgainstMemory(t *testing.T, seed uint64, steps int, s installstore.FullStore) {
	ctx := context.Background()
	ref := memory.New(memory.WithHistory())
	rng := rand.New(rand.NewPCG(seed, 15))
	type tenant struct{ ent, team string }
	tenants := []tenant{{"", "T1"}, {"E1", "T1"}, {"", "T2"}, {"E1", ""}}
	users := []string{"", "U1", "U2"}
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	pick := func() (tenant, string) { return tenants[rng.IntN(len(tenants))], users[rng.IntN(len(users))] }
	query := func(tn tenant, user string) installstore.Query {
		return installstore.Query{EnterpriseID: tn.ent, TeamID: tn.team, UserID: user, IsEnterpriseInstall: tn.team == ""}
	}
	fixture := func(tn tenant, user string, step int) *installstore.Installation {
		var inst *installstore.Installation
		if tn.team == "" {
			inst = OrgFixture(tn.ent, user, fmt.Sprint("s", step))
		} else {
			inst = Fixture(tn.ent, tn.team, user, fmt.Sprint("s", step))
		}
		if user == "" {
			inst.User = installstore.User{}
		}
		inst.InstalledAt = base.Add(time.Duration(rng.IntN(3)) * time.Minute)
		inst.Bot.InstalledAt = time.Time{}
		if rng.IntN(3) == 0 {
			inst.Bot = nil
		}
		if inst.Bot == nil && user == "" {
			inst.User = installstore.User{ID: "U1", Token: installstore.NewSecret(fmt.Sprint("xoxp-test-s", step))}
		}
		return inst
	}
	both := func(what string, op func(installstore.FullStore) error) {
		errRef, errGot := op(ref), op(s)
		require.Equal(t, errRef == nil, errGot == nil, "%s: memory says %v, the store %v", what, errRef, errGot)
	}
	seen := 0
	for step := range steps {
		tn, user := pick()
		q := query(tn, user)
		var what string
		switch r := rng.IntN(10); {
		case r < 4:
			inst := fixture(tn, user, step)
			what = fmt.Sprintf("store %+v at %v", q, inst.InstalledAt)
			both(what, func(st installstore.FullStore) error { return st.StoreInstallation(ctx, inst.Clone()) })
		case r < 5:
			inst := fixture(tn, user, step)
			what = fmt.Sprintf("put history %+v", q)
			both(what, func(st installstore.FullStore) error { return st.PutHistory(ctx, inst.Clone()) })
		case r < 7:
			what = fmt.Sprintf("delete %+v", q)
			both(what, func(st installstore.FullStore) error { return st.DeleteInstallation(ctx, q) })
		case r < 8:
			what = fmt.Sprintf("delete if %+v", q)
			both(what, func(st installstore.FullStore) error {
				cur, err := st.FetchInstallation(ctx, query(tn, ""))
				if err != nil {
					return nil
				}
				return st.DeleteInstallationIf(ctx, q, cur.Version)
			})
		case r < 9:
			what = fmt.Sprintf("update %+v", q)
			both(what, func(st installstore.FullStore) error {
				cur, err := st.FetchInstallation(ctx, q)
				if err != nil || cur.Tenant() != q.Tenant() {
					return nil
				}
				cur.User.Token = installstore.NewSecret(fmt.Sprint("xoxp-test-updated-", step))
				return st.UpdateInstallation(ctx, cur)
			})
		default:
			what = fmt.Sprintf("delete bot %+v", q)
			both(what, func(st installstore.FullStore) error { return st.DeleteBot(ctx, q) })
		}
		for _, tn := range tenants {
			for _, u := range users {
				hq := query(tn, u)
				want := historyView(t, ref, hq)
				require.Equal(t, want, historyView(t, s, hq), "step %d (%s): history of %+v", step, what, hq)
				seen += len(want)
			}
		}
	}
	t.Logf("%d entries compared", seen)
	require.Greater(t, seen, steps, "the steps kept some history to compare")
}

// historyView is what a history listing says, without Versions (each
// store numbers its own).
func historyView(t *testing.T, s installstore.History, q installstore.Query) []string {
	t.Helper()
	var out []string
	hs := History(t, s, q)
	slices.SortStableFunc(hs, func(a, b *installstore.Installation) int {
		if c := b.InstalledAt.Compare(a.InstalledAt); c != 0 {
			return c
		}
		return strings.Compare(a.User.ID, b.User.ID)
	})
	for _, h := range hs {
		bot := "no bot"
		if h.Bot != nil {
			bot = h.Bot.Token.Reveal() + " " + h.Bot.InstalledAt.UTC().String()
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", h.User.ID, h.InstalledAt.UTC(), h.User.Token.Reveal(), bot))
	}
	return out
}
