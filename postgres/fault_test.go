package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

// tagOf returns n from a fixture token "...-n<n>".
func tagOf(t *testing.T, tok installstore.Secret) int {
	t.Helper()
	i := strings.LastIndex(tok.Reveal(), "-n")
	require.Positive(t, i, "token without a tag")
	n, err := strconv.Atoi(tok.Reveal()[i+2:])
	require.NoError(t, err)
	return n
}

// tagOfTime returns n of an install time installedAt(n).
func tagOfTime(at, base time.Time) int { return int(at.Sub(base) / time.Second) }

// TestConnectionCutMidWrite: while writers store and update their tenants,
// another connection terminates the store's backends (pg_terminate_backend)
// again and again. Every failed call matches ErrUnavailable and nothing
// else; every acknowledged write is there afterwards; and no record is
// half-written (the bot, the latest record and the user's record always
// carry the same write's tokens). History is on: every acknowledged store
// has its entry, and no entry is newer than the record (a store's record
// and entry land together or not at all).
func TestConnectionCutMidWrite(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.NewSchema(t)
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	app := "iv-victim-" + schema
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	cfg.MaxConns = 4
	victim, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer victim.Close()
	s, err := postgres.New(victim, postgres.WithPlaintextSecrets(), postgres.WithHistory())
	require.NoError(t, err)
	admin := pgtest.Pool(t, schema)
	base := storetest.Fixture("", "T", "U1", "").InstalledAt
	installedAt := func(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }
	ackedStores := make([][]int, 4) // per writer

	const (
		writers   = 4
		minOps    = 60
		maxOps    = 3000
		minFaults = 12
	)
	var faults, kills atomic.Int64
	acked := make([]int, writers)
	attempted := make([]int, writers)
	done := make(chan struct{})
	var killer sync.WaitGroup
	killer.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Duration(2+rand.IntN(10)) * time.Millisecond):
			}
			var n int64
			if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err == nil {
				kills.Add(n)
			}
		}
	})

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			team := fmt.Sprintf("TCUT%d", w)
			for n := 1; n <= maxOps && (n <= minOps || faults.Load() < minFaults); n++ {
				attempted[w] = n
				tag := fmt.Sprintf("n%d", n)
				var err error
				store := n%2 == 1 || acked[w] == 0
				if store {
					inst := storetest.Fixture("", team, "U1", tag)
					inst.InstalledAt, inst.Bot.InstalledAt = installedAt(n), time.Time{}
					err = s.StoreInstallation(ctx, inst)
				} else {
					var cur *installstore.Installation
					cur, err = s.FetchInstallation(ctx, q("", team, "U1"))
					if err == nil {
						cur.Bot.Token = installstore.NewSecret("xoxb-test-" + team + "-" + tag)
						cur.User.Token = installstore.NewSecret("xoxp-test-" + team + "-U1-" + tag)
						err = s.UpdateInstallation(ctx, cur)
					}
				}
				if err != nil {
					if !assert.ErrorIs(t, err, installstore.ErrUnavailable, "writer %d op %d", w, n) {
						return
					}
					assert.NotContains(t, err.Error(), "xox")
					faults.Add(1)
					continue
				}
				acked[w] = n
				if store {
					ackedStores[w] = append(ackedStores[w], n)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	killer.Wait()
	require.GreaterOrEqual(t, faults.Load(), int64(minFaults), "the writers met too few cut connections (%d kills) to test anything", kills.Load())
	t.Logf("%d backends terminated, %d calls failed with ErrUnavailable", kills.Load(), faults.Load())

	check, err := postgres.New(admin, postgres.WithPlaintextSecrets(), postgres.WithHistory())
	require.NoError(t, err)
	for w := range writers {
		team := fmt.Sprintf("TCUT%d", w)
		latest, err := check.FetchInstallation(ctx, q("", team, ""))
		require.NoError(t, err)
		user, err := check.FetchInstallation(ctx, q("", team, "U1"))
		require.NoError(t, err)
		n := tagOf(t, latest.Bot.Token)
		require.Equal(t, n, tagOf(t, latest.User.Token), "writer %d: the latest record and the bot are from one write", w)
		require.Equal(t, n, tagOf(t, user.User.Token), "writer %d: the user's record and the latest are from one write", w)
		require.Equal(t, latest.Version, user.Version)
		require.GreaterOrEqual(t, n, acked[w], "writer %d: an acknowledged write was lost", w)
		require.LessOrEqual(t, n, attempted[w])

		entries := map[int]bool{}
		for _, h := range storetest.History(t, check, q("", team, "")) {
			m := tagOf(t, h.Bot.Token)
			require.True(t, h.InstalledAt.Equal(installedAt(m)), "writer %d: entry %d holds its own store", w, m)
			require.False(t, h.InstalledAt.After(latest.InstalledAt), "writer %d: an entry newer than the record (store %d)", w, m)
			require.LessOrEqual(t, m, attempted[w])
			entries[m] = true
		}
		require.True(t, entries[tagOfTime(latest.InstalledAt, base)], "writer %d: the record's install has its entry", w)
		for _, m := range ackedStores[w] {
			require.True(t, entries[m], "writer %d: acknowledged store %d has no entry", w, m)
		}
	}
	require.NoError(t, check.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }))
}
