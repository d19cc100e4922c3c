package dynamo_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// TestHistoryBehavesAsMemory: random sequences of stores (re-installs at a
// few install times, bot-only and user-only ones, Grid migrations), user
// and tenant deletes (plain and conditional), bot revocations, updates and
// PutHistory agree with package memory's history after every step, for
// every tenant and user.
func TestHistoryBehavesAsMemory(t *testing.T) {
	ctx := context.Background()
	type tenant struct{ ent, team string }
	tenants := []tenant{{"", "T1"}, {"E1", "T1"}, {"E1", ""}, {"", "T2"}}
	users := []string{"U1", "U2", ""}
	query := func(tn tenant, user string) installstore.Query {
		return installstore.Query{EnterpriseID: tn.ent, TeamID: tn.team, UserID: user, IsEnterpriseInstall: tn.team == ""}
	}
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	// entries renders a listing, ignoring Version (each store has its own)
	// and the order of entries of one install time (not given).
	const at = "2006-01-02T15:04:05.000000000Z" // fixed width: sorts as time
	entries := func(s installstore.History, q installstore.Query) []string {
		var out []string
		require.NoError(t, s.ListHistory(ctx, q, func(h *installstore.Installation) error {
			bot := "-"
			if h.Bot != nil {
				bot = h.Bot.Token.Reveal() + "@" + h.Bot.InstalledAt.UTC().Format(at)
			}
			out = append(out, fmt.Sprintf("%s %s %s %s", h.InstalledAt.UTC().Format(at), h.User.ID, h.User.Token.Reveal(), bot))
			return nil
		}))
		for i := 1; i < len(out); i++ {
			require.GreaterOrEqual(t, out[i-1][:len(at)], out[i][:len(at)], "newest first")
		}
		sort.Sort(sort.Reverse(sort.StringSlice(out)))
		return out
	}
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			now := base
			clock := func() time.Time { return now }
			ref := memory.New(memory.WithClock(clock), memory.WithHistory())
			s, _ := newPlain(t, dynamo.WithClock(clock), dynamo.WithHistory())
			r := rand.New(rand.NewPCG(seed, 15))
			for step := range 70 {
				now = now.Add(time.Second)
				tn := tenants[r.IntN(len(tenants))]
				user := users[r.IntN(len(users))]
				tq := query(tn, "")
				var op string
				var errRef, errS error
				both := func(f func(installstore.FullStore) error) { errRef, errS = f(ref), f(s) }
				switch k := r.IntN(10); {
				case k < 4:
					tag := fmt.Sprint(step)
					inst := storetest.Fixture(tn.ent, tn.team, user, tag)
					if tn.team == "" {
						inst = storetest.OrgFixture(tn.ent, user, tag)
					}
					inst.InstalledAt = base.Add(time.Duration(r.IntN(3)) * time.Hour)
					if user == "" {
						inst.User = installstore.User{}
					}
					if r.IntN(3) == 0 && user != "" {
						inst.Bot = nil
					}
					op = fmt.Sprintf("store %+v at %v bot %v", tq, inst.InstalledAt, inst.Bot != nil)
					both(func(st installstore.FullStore) error { return st.StoreInstallation(ctx, inst.Clone()) })
				case k < 5:
					op = fmt.Sprintf("delete %+v", tq)
					both(func(st installstore.FullStore) error { return st.DeleteInstallation(ctx, tq) })
				case k < 7 && user != "":
					uq := query(tn, user)
					op = fmt.Sprintf("delete %+v", uq)
					both(func(st installstore.FullStore) error { return st.DeleteInstallation(ctx, uq) })
				case k < 8:
					dq := tq
					if user != "" && r.IntN(2) == 0 {
						dq = query(tn, user)
					}
					op = fmt.Sprintf("delete if current %+v", dq)
					both(func(st installstore.FullStore) error {
						cur, err := st.FetchInstallation(ctx, tq)
						if err != nil {
							return nil
						}
						if cur.Tenant() != tq.Tenant() {
							return nil // a fallback: the condition names another tenant
						}
						return st.DeleteInstallationIf(ctx, dq, cur.Version)
					})
				case k < 9:
					op = fmt.Sprintf("refresh and revoke the bot of %+v", tq)
					both(func(st installstore.FullStore) error {
						cur, err := st.FetchInstallation(ctx, tq)
						if err != nil || cur.Tenant() != tq.Tenant() {
							return nil
						}
						if cur.Bot != nil {
							cur.Bot.Token = installstore.NewSecret("xoxb-test-refreshed")
						}
						if err := st.UpdateInstallation(ctx, cur); err != nil {
							return err
						}
						return st.DeleteBot(ctx, tq)
					})
				default:
					e := storetest.Fixture(tn.ent, tn.team, user, fmt.Sprint("put", step))
					if tn.team == "" {
						e = storetest.OrgFixture(tn.ent, user, fmt.Sprint("put", step))
					}
					e.InstalledAt = base.Add(time.Duration(r.IntN(3))*time.Hour + time.Minute)
					op = fmt.Sprintf("put history %+v at %v", tq, e.InstalledAt)
					both(func(st installstore.FullStore) error { return st.PutHistory(ctx, e.Clone()) })
				}
				require.Equal(t, errRef == nil, errS == nil, "step %d %s: memory %v, dynamo %v", step, op, errRef, errS)
				for _, tn := range append(tenants, tenant{"", "T3"}) {
					for _, u := range []string{"", "U1", "U2"} {
						q := query(tn, u)
						want, got := entries(ref, q), entries(s, q)
						require.Equal(t, strings.Join(want, "\n"), strings.Join(got, "\n"), "step %d %s: history of %+v", step, op, q)
					}
				}
			}
		})
	}
}
