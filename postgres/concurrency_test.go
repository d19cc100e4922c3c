package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// TestConcurrentUpdatesFromOneReadOneWins: 16 writers holding the same read
// race; the database lets exactly one through.
func TestConcurrentUpdatesFromOneReadOneWins(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets())
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	for _, user := range []string{"", "U1"} {
		base, err := s.FetchInstallation(ctx, q("", "T1", user))
		require.NoError(t, err)
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				w := base.Clone()
				w.Bot.Token = installstore.NewSecret(fmt.Sprintf("xoxb-test-w%d", i))
				if user == "" {
					w.User = installstore.User{} // the latest record, owned by U1, is updated through U1
				}
				switch err := s.UpdateInstallation(ctx, w); {
				case err == nil:
					wins.Add(1)
				default:
					assert.ErrorIs(t, err, installstore.ErrConflict)
				}
			})
		}
		wg.Wait()
		if user == "" {
			require.Zero(t, wins.Load(), "the latest record belongs to U1: updating it without U1 conflicts")
		} else {
			require.Equal(t, int64(1), wins.Load())
		}
	}
}

// TestUpdateRacingUninstallNeverResurrects: an uninstall and a refresh's
// update race; whichever commits first, the tenant is never brought back.
func TestUpdateRacingUninstallNeverResurrects(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets())
	for i := range 40 {
		team := fmt.Sprintf("TR%d", i)
		require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", team, "U1", "a")))
		cur, err := s.FetchInstallation(ctx, q("", team, "U1"))
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() { assert.NoError(t, s.DeleteInstallation(ctx, q("", team, ""))) })
		var upd error
		wg.Go(func() { upd = s.UpdateInstallation(ctx, cur) })
		wg.Wait()
		require.True(t, upd == nil || errors.Is(upd, installstore.ErrNotFound) || errors.Is(upd, installstore.ErrConflict), "%v", upd)
		_, err = s.FetchInstallation(ctx, q("", team, "U1"))
		require.ErrorIs(t, err, installstore.ErrNotFound, "round %d: the uninstall stands", i)
		_, err = s.FetchInstallation(ctx, q("", team, ""))
		require.ErrorIs(t, err, installstore.ErrNotFound)
	}
}

// TestGridWritersRaceWithoutFailing: installs under the enterprise, installs
// of the standalone workspace and uninstalls of both, all at once, touch
// two tenants in one transaction; no caller sees a deadlock or a failure.
func TestGridWritersRaceWithoutFailing(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 25 {
				var err error
				switch (g + n) % 5 {
				case 0:
					err = s.StoreInstallation(ctx, storetest.Fixture("E1", "T1", fmt.Sprintf("U%d", g%3), "grid"))
				case 1:
					err = s.StoreInstallation(ctx, storetest.Fixture("", "T1", fmt.Sprintf("U%d", g%3), "solo"))
				case 2:
					err = s.DeleteInstallation(ctx, q("E1", "T1", fmt.Sprintf("U%d", g%3)))
				case 3:
					err = s.DeleteInstallation(ctx, q("E1", "T1", ""))
				default:
					var got *installstore.Installation
					got, err = s.FetchInstallation(ctx, q("E1", "T1", ""))
					if errors.Is(err, installstore.ErrNotFound) {
						err = nil
					} else if err == nil {
						assert.Equal(t, "T1", got.TeamID)
					}
				}
				if !assert.NoError(t, err, "goroutine %d op %d", g, n) {
					return
				}
			}
		})
	}
	wg.Wait()
	// Whatever the race left, an install under the enterprise supersedes
	// the standalone record, and an uninstall naming it purges both.
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("E1", "T1", "U1", "final")))
	_, err := s.FetchInstallation(ctx, q("", "T1", ""))
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "solo")))
	require.NoError(t, s.DeleteInstallation(ctx, q("E1", "T1", "")))
	_, err = s.FetchInstallation(ctx, q("E1", "T1", ""))
	require.ErrorIs(t, err, installstore.ErrNotFound)
}

func TestRefusesTextPostgreSQLCannotHold(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets())
	inst := storetest.Fixture("", "T1", "U1", "a")
	inst.Bot.Token = installstore.NewSecret("xoxb-test-\x00-nul")
	err := s.StoreInstallation(ctx, inst)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.NotContains(t, err.Error(), "xoxb")
	require.Contains(t, err.Error(), installstore.FieldBotToken)
	inst.Bot.Token = installstore.NewSecret("xoxb-test-\xff-latin1")
	require.ErrorIs(t, s.StoreInstallation(ctx, inst), installstore.ErrInvalid)

	inst = storetest.Fixture("", "T1", "U1", "a")
	inst.TeamName = "Team\x00"
	require.ErrorIs(t, s.StoreInstallation(ctx, inst), installstore.ErrInvalid)
	require.ErrorIs(t, s.UpdateInstallation(ctx, inst), installstore.ErrInvalid)

	require.ErrorIs(t, s.AcquireLease(ctx, "lease\x00", "o", 1), installstore.ErrInvalid)
	require.NoError(t, s.ReleaseLease(ctx, "lease\x00", "o"))
}
