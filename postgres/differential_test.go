package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/postgres"
	"github.com/installvault/installvault/postgres/pgtest"
)

// TestBehavesAsMemory: random sequences of every write of the contract over
// a few tenants chosen so that Grid migrations, fallbacks, user-only
// installs and user deletes happen, applied to the store and to the
// reference backend (package memory); after each step every fetch, the
// listing and the due index agree.
func TestBehavesAsMemory(t *testing.T) {
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

	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			ref := memory.New(memory.WithClock(clock))
			s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithClock(clock), postgres.WithListPageSize(3))
			r := rand.New(rand.NewPCG(seed, 1616))
			for step := range 100 {
				tn := tenants[r.IntN(len(tenants))]
				user := users[r.IntN(len(users))]
				tq := query(tn, "")
				var op string
				var errRef, errS error
				switch k := r.IntN(10); {
				case k < 4:
					tag := fmt.Sprint(step)
					inst := storetest.Fixture(tn.ent, tn.team, user, tag)
					if tn.team == "" {
						inst = storetest.OrgFixture(tn.ent, user, tag)
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
				require.Equal(t, errClass(errRef), errClass(errS), "step %d: %s: memory %v, postgres %v", step, op, errRef, errS)
				for _, fq := range queries {
					want, errRef := ref.FetchInstallation(ctx, fq)
					got, errS := s.FetchInstallation(ctx, fq)
					require.Equal(t, errClass(errRef), errClass(errS), "step %d after %s: fetch %+v: memory %v, postgres %v", step, op, fq, errRef, errS)
					if errRef == nil {
						storetest.Equal(t, want, got, "step %d after %s: fetch %+v", step, op, fq)
					}
				}
				require.Equal(t, listedRecords(t, ref), listedRecords(t, s), "step %d after %s: listing", step, op)
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

// listedRecords returns what a listing hands out, by record, with the
// tokens, Version left out.
func listedRecords(t *testing.T, s installstore.FullStore) map[installstore.Query]string {
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

// dueRecords returns the due index up to before.
func dueRecords(t *testing.T, s installstore.FullStore, before time.Time) map[installstore.Query]time.Time {
	t.Helper()
	out := map[installstore.Query]time.Time{}
	require.NoError(t, s.ListDue(context.Background(), before, func(lq installstore.Query, at time.Time) error {
		out[lq] = at.UTC()
		return nil
	}))
	return out
}
