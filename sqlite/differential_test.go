package sqlite_test

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
	"github.com/installvault/installvault/sqlite"
)

// The store behaves as the reference backend, package memory, does: random
// sequences of every write of the contract over a small set of tenants
// (standalone workspaces, workspaces of an enterprise, org-wide installs,
// so Grid migrations and fallbacks happen) are applied to both, and after
// each step every fetch, the listing and the due index agree.
func TestBehavesAsMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	type tenant struct{ ent, team string }
	tenants := []tenant{{"", "T1"}, {"", "T2"}, {"E1", "T1"}, {"E1", "T3"}, {"E1", ""}, {"E2", "T2"}}
	users := []string{"", "U1", "U2"}
	query := func(tn tenant, user string) installstore.Query {
		return installstore.Query{EnterpriseID: tn.ent, TeamID: tn.team, UserID: user, IsEnterpriseInstall: tn.team == ""}
	}
	var queries []installstore.Query
	for _, tn := range tenants {
		for _, u := range users {
			queries = append(queries, query(tn, u))
		}
	}
	queries = append(queries, installstore.Query{EnterpriseID: "E1", TeamID: "T9"}, installstore.Query{EnterpriseID: "E2", TeamID: "T1", UserID: "U1"})

	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ref := memory.New(memory.WithClock(clock))
			s := newPlain(t, sqlite.WithClock(clock))
			r := rand.New(rand.NewPCG(seed, 16))
			for step := range 120 {
				tn := tenants[r.IntN(len(tenants))]
				user := users[1+r.IntN(2)]
				q := query(tn, "")
				var op string
				var errRef, errS error
				switch k := r.IntN(10); {
				case k < 4:
					inst := storetest.Fixture(tn.ent, tn.team, user, fmt.Sprint(step))
					if tn.team == "" {
						inst = storetest.OrgFixture(tn.ent, user, fmt.Sprint(step))
					}
					switch r.IntN(4) {
					case 0:
						inst.Bot = nil // a user-scopes-only install
					case 1:
						inst.User.Token, inst.User.RefreshToken = installstore.Secret{}, installstore.Secret{}
					case 2:
						inst.InstalledAt = time.Time{} // the store's clock sets it
					}
					op = fmt.Sprintf("store %+v", inst.Query())
					errRef, errS = ref.StoreInstallation(ctx, inst.Clone()), s.StoreInstallation(ctx, inst.Clone())
				case k < 6:
					if r.IntN(2) == 0 {
						q.UserID = user
					}
					op = fmt.Sprintf("delete %+v", q)
					errRef, errS = ref.DeleteInstallation(ctx, q), s.DeleteInstallation(ctx, q)
				case k < 7:
					op = fmt.Sprintf("delete bot %+v", q)
					errRef, errS = ref.DeleteBot(ctx, q), s.DeleteBot(ctx, q)
				case k < 8:
					if r.IntN(2) == 0 {
						q.UserID = user
					}
					stale := r.IntN(2) == 0
					op = fmt.Sprintf("delete if %+v (stale %v)", q, stale)
					version := func(st installstore.FullStore) int64 {
						got, err := st.FetchInstallation(ctx, query(tn, ""))
						if err != nil || got.Tenant() != q.Tenant() {
							return 0
						}
						if stale {
							return got.Version - 1
						}
						return got.Version
					}
					errRef, errS = ref.DeleteInstallationIf(ctx, q, version(ref)), s.DeleteInstallationIf(ctx, q, version(s))
				default:
					q.UserID = user
					op = fmt.Sprintf("update %+v", q)
					update := func(st installstore.FullStore) error {
						cur, err := st.FetchInstallation(ctx, q)
						if err != nil {
							return err
						}
						if cur.Bot != nil {
							cur.Bot.Token = installstore.NewSecret(fmt.Sprintf("xoxb-test-updated-%d", step))
						}
						cur.User.Token = installstore.NewSecret(fmt.Sprintf("xoxp-test-updated-%d", step))
						return st.UpdateInstallation(ctx, cur)
					}
					errRef, errS = update(ref), update(s)
				}
				require.Equal(t, class(errRef), class(errS), "step %d: %s: memory %v, sqlite %v", step, op, errRef, errS)
				for _, fq := range queries {
					want, errRef := ref.FetchInstallation(ctx, fq)
					got, errS := s.FetchInstallation(ctx, fq)
					require.Equal(t, class(errRef), class(errS), "step %d after %s: fetch %+v: memory %v, sqlite %v", step, op, fq, errRef, errS)
					if errRef == nil {
						storetest.Equal(t, want, got, "step %d after %s: fetch %+v", step, op, fq)
						require.Equal(t, want.IsEnterpriseInstall, got.IsEnterpriseInstall)
					}
				}
				require.Equal(t, listed(t, ref), listed(t, s), "step %d after %s: listing", step, op)
				require.Equal(t, dueSet(t, ref, now.AddDate(10, 0, 0)), dueSet(t, s, now.AddDate(10, 0, 0)), "step %d after %s: due index", step, op)
				now = now.Add(time.Second)
			}
		})
	}
}

// class names the error class of err, as the contract defines them.
func class(err error) string {
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

// listed returns what a listing hands out, by record, Version left out.
func listed(t *testing.T, s installstore.FullStore) map[installstore.Query]string {
	t.Helper()
	out := map[installstore.Query]string{}
	require.NoError(t, s.ListInstallations(context.Background(), func(q installstore.Query, inst *installstore.Installation) error {
		c := inst.Clone()
		c.Version = 0
		out[q] = fmt.Sprintf("%+v %s %s", c, c.User.Token.Reveal(), botToken(c))
		return nil
	}))
	return out
}

func botToken(inst *installstore.Installation) string {
	if inst.Bot == nil {
		return "no bot"
	}
	return inst.Bot.Token.Reveal()
}
