package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// BehavesAsMemory checks a backend against the reference backend, package
// memory: seeds random sequences of steps writes of every kind the contract
// has (stores, user-only installs, deletes of users and tenants, bot
// revocations, conditional deletes fresh and stale, updates), over a few
// tenants chosen so that Grid migrations, fallbacks and user-only tenants
// happen, are applied to both; after each step every fetch, the listing and
// the due index agree. newStore returns an empty store whose clock (for
// InstalledAt defaults) is now; the suite moves now forward a second a step.
func BehavesAsMemory(t *testing.T, seeds, steps int, newStore func(t *testing.T, now func() time.Time) installstore.FullStore) {
	t.Helper()
	ctx := context.Background()
	type tenant struct{ ent, team string }
	tenants := []tenant{{"", "T1"}, {"", "T2"}, {"E1", "T1"}, {"E1", "T3"}, {"E1", ""}, {"E2", "T2"}}
	users := []string{"U1", "U2"}
	query := func(tn tenant, user string) installstore.Query {
		return installstore.Query{EnterpriseID: tn.ent, TeamID: tn.team, UserID: user, IsEnterpriseInstall: tn.team == ""}
	}
	var queries []installstore.Query
	for _, tn := range tenants {
		for _, u := range append([]string{""}, users...) {
			queries = append(queries, query(tn, u))
		}
	}
	queries = append(queries, q("E1", "T9", ""), q("E2", "T1", "U1"), q("E1", "T2", "U2"))

	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			ref := memory.New(memory.WithClock(clock))
			s := newStore(t, clock)
			r := rand.New(rand.NewPCG(seed, 1616))
			for step := range steps {
				tn := tenants[r.IntN(len(tenants))]
				user := users[r.IntN(len(users))]
				tq := query(tn, "")
				var op string
				var errRef, errS error
				switch k := r.IntN(10); {
				case k < 4:
					tag := fmt.Sprint(step)
					inst := Fixture(tn.ent, tn.team, user, tag)
					if tn.team == "" {
						inst = OrgFixture(tn.ent, user, tag)
					}
					inst.Bot.ExpiresAt = now.Add(time.Duration(r.IntN(100)) * time.Minute)
					switch r.IntN(5) {
					case 0:
						inst.Bot = nil // user scopes only
					case 1:
						inst.User.Token, inst.User.RefreshToken = installstore.Secret{}, installstore.Secret{}
					case 2:
						inst.InstalledAt = time.Time{}
						inst.Bot.InstalledAt = time.Time{}
					case 3:
						inst.Bot.RefreshToken = installstore.Secret{} // a bot that does not rotate
					}
					op = fmt.Sprintf("store %+v", inst.Query())
					errRef, errS = ref.StoreInstallation(ctx, inst.Clone()), s.StoreInstallation(ctx, inst.Clone())
				case k < 6:
					if r.IntN(2) == 0 {
						tq.UserID = user
					}
					op = fmt.Sprintf("delete %+v", tq)
					errRef, errS = ref.DeleteInstallation(ctx, tq), s.DeleteInstallation(ctx, tq)
				case k < 7:
					op = fmt.Sprintf("delete bot %+v", tq)
					errRef, errS = ref.DeleteBot(ctx, tq), s.DeleteBot(ctx, tq)
				case k < 8:
					if r.IntN(2) == 0 {
						tq.UserID = user
					}
					stale, bot := r.IntN(3) == 0, r.IntN(3) == 0
					op = fmt.Sprintf("delete if %+v (stale %v, bot %v)", tq, stale, bot)
					del := func(st installstore.FullStore) error {
						v := int64(1)
						if got, err := st.FetchInstallation(ctx, query(tn, "")); err == nil && got.Tenant() == tq.Tenant() {
							v = got.Version
							if stale {
								v--
							}
						}
						if bot {
							return st.DeleteBotIf(ctx, tq, v)
						}
						return st.DeleteInstallationIf(ctx, tq, v)
					}
					errRef, errS = del(ref), del(s)
				default:
					if r.IntN(4) > 0 {
						tq.UserID = user
					}
					op = fmt.Sprintf("update %+v", tq)
					update := func(st installstore.FullStore) error {
						cur, err := st.FetchInstallation(ctx, tq)
						if err != nil {
							return err
						}
						if cur.Bot != nil {
							cur.Bot.Token = installstore.NewSecret(fmt.Sprintf("xoxb-test-updated-%d", step))
							cur.Bot.ExpiresAt = now.Add(time.Hour)
						}
						cur.User.Token = installstore.NewSecret(fmt.Sprintf("xoxp-test-updated-%d", step))
						return st.UpdateInstallation(ctx, cur)
					}
					errRef, errS = update(ref), update(s)
				}
				require.Equal(t, errClass(errRef), errClass(errS), "step %d: %s: memory %v, store %v", step, op, errRef, errS)
				for _, fq := range queries {
					want, errRef := ref.FetchInstallation(ctx, fq)
					got, errS := s.FetchInstallation(ctx, fq)
					require.Equal(t, errClass(errRef), errClass(errS), "step %d after %s: fetch %+v: memory %v, store %v", step, op, fq, errRef, errS)
					if errRef == nil {
						Equal(t, want, got, "step %d after %s: fetch %+v", step, op, fq)
					}
				}
				require.Equal(t, listedByRecord(t, ref), listedByRecord(t, s), "step %d after %s: listing", step, op)
				require.Equal(t, dueRecords(t, ref, now.AddDate(10, 0, 0)), dueRecords(t, s, now.AddDate(10, 0, 0)), "step %d after %s: due index", step, op)
				now = now.Add(time.Second)
			}
		})
	}
}

// errClass names the contract's class of err.
func errClass(err error) string {
	for _, c := range []error{installstore.ErrNotFound, installstore.ErrConflict, installstore.ErrInvalid, installstore.ErrCorrupt, installstore.ErrUnavailable} {
		if errors.Is(err, c) {
			return c.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return "ok"
}

// listedByRecord returns what a listing hands out, by record, with the
// tokens, Version left out.
func listedByRecord(t *testing.T, s installstore.FullStore) map[installstore.Query]string {
	t.Helper()
	out := map[installstore.Query]string{}
	require.NoError(t, s.ListInstallations(context.Background(), func(lq installstore.Query, inst *installstore.Installation) error {
		c := inst.Clone()
		c.Version = 0
		bot := "no bot"
		if c.Bot != nil {
			bot = c.Bot.Token.Reveal() + " " + c.Bot.InstalledAt.UTC().String()
			c.Bot.InstalledAt = time.Time{}
			c.Bot.ExpiresAt = c.Bot.ExpiresAt.UTC()
		}
		c.InstalledAt, c.User.ExpiresAt = c.InstalledAt.UTC(), c.User.ExpiresAt.UTC()
		out[lq] = fmt.Sprintf("%+v %s %s", c, c.User.Token.Reveal(), bot)
		return nil
	}))
	return out
}
