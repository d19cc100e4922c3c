package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/redisstore"
)

// TestHistoryBehavesAsMemory: random sequences of stores (re-installs at
// a few install times, with and without bot or user token, Grid
// migrations), deletes, conditional deletes, bot revocations, updates and
// PutHistory leave the same history as package memory's, tenant by
// tenant and user by user, after every step, on a standalone server and
// on the Cluster.
func TestHistoryBehavesAsMemory(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			client := d.client(t)
			for seed := range uint64(3) {
				t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
					ctx := context.Background()
					base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
					clock := func() time.Time { return base.Add(time.Hour) }
					ref := memory.New(memory.WithHistory(), memory.WithClock(clock))
					s, _ := newPlain(t, client, redisstore.WithHistory(), redisstore.WithClock(clock))
					stores := []installstore.FullStore{ref, s}
					historyDiff(t, ctx, rand.New(rand.NewPCG(seed, 1515)), base, stores)
				})
			}
		})
	}
}

func historyDiff(t *testing.T, ctx context.Context, r *rand.Rand, base time.Time, stores []installstore.FullStore) {
	type tenant struct{ ent, team string }
	tenants := []tenant{{"", "T1"}, {"E1", "T1"}, {"", "T2"}, {"E1", ""}}
	users := []string{"U1", "U2", "U3"}
	query := func(tn tenant, user string) installstore.Query {
		return installstore.Query{EnterpriseID: tn.ent, TeamID: tn.team, UserID: user, IsEnterpriseInstall: tn.team == ""}
	}
	class := func(err error) string {
		for _, c := range []error{installstore.ErrNotFound, installstore.ErrConflict, installstore.ErrInvalid} {
			if errors.Is(err, c) {
				return c.Error()
			}
		}
		if err != nil {
			return "other: " + err.Error()
		}
		return "ok"
	}
	const steps = 120
	for step := range steps {
		tn := tenants[r.IntN(len(tenants))]
		user := users[r.IntN(len(users))]
		tq := query(tn, "")
		var op string
		errs := make([]error, len(stores))
		switch k := r.IntN(12); {
		case k < 5, k == 11:
			tag := fmt.Sprint(step)
			inst := storetest.Fixture(tn.ent, tn.team, user, tag)
			if tn.team == "" {
				inst = storetest.OrgFixture(tn.ent, user, tag)
			}
			inst.InstalledAt = base.Add(time.Duration(r.IntN(3)) * time.Minute)
			inst.Bot.InstalledAt = time.Time{}
			switch r.IntN(4) {
			case 0:
				inst.Bot = nil
			case 1:
				inst.User.Token, inst.User.RefreshToken = installstore.Secret{}, installstore.Secret{}
			case 2:
				inst.InstalledAt = time.Time{} // the clock's
			}
			if k == 11 {
				if inst.InstalledAt.IsZero() {
					inst.InstalledAt = base
				}
				inst.Version = int64(step)
				op = fmt.Sprintf("put history %+v at %v", inst.Query(), inst.InstalledAt)
				for i, s := range stores {
					errs[i] = s.PutHistory(ctx, inst.Clone())
				}
				break
			}
			op = fmt.Sprintf("store %+v at %v", inst.Query(), inst.InstalledAt)
			for i, s := range stores {
				errs[i] = s.StoreInstallation(ctx, inst.Clone())
			}
		case k < 7:
			if r.IntN(2) == 0 {
				tq.UserID = user
			}
			op = fmt.Sprintf("delete %+v", tq)
			for i, s := range stores {
				errs[i] = s.DeleteInstallation(ctx, tq)
			}
		case k < 9:
			if r.IntN(2) == 0 {
				tq.UserID = user
			}
			stale := r.IntN(3) == 0
			op = fmt.Sprintf("delete %+v if current (stale %v)", tq, stale)
			for i, s := range stores {
				var v int64
				if cur, err := s.FetchInstallation(ctx, query(tn, "")); err == nil && cur.Tenant() == tq.Tenant() {
					v = cur.Version
				}
				if stale {
					v--
				}
				errs[i] = s.DeleteInstallationIf(ctx, tq, v)
			}
		case k < 10:
			op = fmt.Sprintf("delete bot %+v", tq)
			for i, s := range stores {
				errs[i] = s.DeleteBot(ctx, tq)
			}
		default:
			tq.UserID = user
			op = fmt.Sprintf("update %+v", tq)
			for i, s := range stores {
				cur, err := s.FetchInstallation(ctx, tq)
				if err == nil && cur.Tenant() == tq.Tenant() {
					cur.User.Token = installstore.NewSecret(fmt.Sprintf("xoxp-test-upd-%d", step))
					err = s.UpdateInstallation(ctx, cur)
				}
				errs[i] = err
			}
		}
		for i := 1; i < len(stores); i++ {
			require.Equal(t, class(errs[0]), class(errs[i]), "step %d: %s", step, op)
		}
		for _, tn := range tenants {
			for _, u := range append([]string{""}, users...) {
				q := query(tn, u)
				want := historyOf(t, stores[0], q)
				got := historyOf(t, stores[1], q)
				require.Equal(t, want, got, "step %d: %s: history of %+v", step, op, q)
			}
		}
	}
}

// historyOf returns q's history, normalized (Version left out, entries of
// one install time sorted by user), as comparable strings.
func historyOf(t *testing.T, s installstore.FullStore, q installstore.Query) []string {
	t.Helper()
	var out []string
	var times []time.Time
	require.NoError(t, s.ListHistory(context.Background(), q, func(inst *installstore.Installation) error {
		times = append(times, inst.InstalledAt)
		c := inst.Clone()
		c.Version = 0
		out = append(out, fmt.Sprintf("%s|%s|%s|bot=%v:%s|at=%s", c.InstalledAt.UTC().Format(time.RFC3339Nano), c.User.ID, c.User.Token.Reveal(),
			c.Bot != nil, botToken(c), botAt(c)))
		return nil
	}))
	for i := 1; i < len(times); i++ {
		require.False(t, times[i].After(times[i-1]), "%+v: newest first", q)
	}
	slices.SortStableFunc(out, func(a, b string) int { return -strings.Compare(a, b) })
	return out
}

func botToken(i *installstore.Installation) string {
	if i.Bot == nil {
		return ""
	}
	return i.Bot.Token.Reveal()
}

func botAt(i *installstore.Installation) string {
	if i.Bot == nil {
		return ""
	}
	return i.Bot.InstalledAt.UTC().Format(time.RFC3339Nano)
}
