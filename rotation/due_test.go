package rotation

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// installMany stores n tenants (T00000, T00001, ...) with rotating bot
// tokens expiring in ttl, directly in the env's memory store.
func (e *env) installMany(n int, ttl time.Duration) {
	e.t.Helper()
	for i := range n {
		team := fmt.Sprintf("T%05d", i)
		inst := &installstore.Installation{TeamID: team, User: installstore.User{ID: "U1"}, Bot: &installstore.Bot{
			ID: "B1", Token: installstore.NewSecret("xoxb-test-" + team), RefreshToken: installstore.NewSecret("xoxe-test-bot-" + team),
			ExpiresAt: e.now().Add(ttl),
		}}
		e.allow(team, inst.Bot.RefreshToken.Reveal())
		require.NoError(e.t, e.store.StoreInstallation(context.Background(), inst))
	}
}

// TestRefreshDueCostsWhatIsDue: a tick reads only what the due index
// lists: nothing when nothing is due, each due record at most twice (once
// to see which token is due, once under the lease) when some are. 2 000
// tenants on memory, 300 on DynamoDB Local (crypto over dynamo).
func TestRefreshDueCostsWhatIsDue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tenants, due := 2000, 20
		if e.backend != installstore.FullStore(e.store) {
			tenants = 300
		}
		ctx := context.Background()
		store := func(team, tok string, ttl time.Duration) {
			inst := &installstore.Installation{TeamID: team, User: installstore.User{ID: "U1"}, Bot: &installstore.Bot{
				ID: "B1", Token: installstore.NewSecret("xoxb-test-" + tok), RefreshToken: installstore.NewSecret("xoxe-test-bot-" + tok),
				ExpiresAt: e.clock.now().Add(ttl),
			}}
			e.allow(team, inst.Bot.RefreshToken.Reveal())
			require.NoError(t, e.backend.StoreInstallation(ctx, inst))
		}
		for i := range tenants {
			store(fmt.Sprintf("T%05d", i), fmt.Sprintf("T%05d", i), 10*time.Hour)
		}
		counted := newFaultStore(e.backend)
		r := e.refresher(counted, WithHTTPClient(e.slack.Client()))

		n, err := r.RefreshDue(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Zero(t, counted.fetches.Load(), "a tick with nothing due reads no record")
		require.Zero(t, e.slack.calls.Load())

		// Some tenants re-install with tokens entering the margin.
		for i := range due {
			team := fmt.Sprintf("T%05d", i*(tenants/due))
			store(team, "due-"+team, 30*time.Minute)
		}
		n, err = r.RefreshDue(ctx)
		require.NoError(t, err)
		require.Equal(t, due, n, "the latest record of each due tenant (the users hold no user token)")
		require.Equal(t, int64(due), e.slack.calls.Load(), "one refresh per due token")
		require.LessOrEqual(t, counted.fetches.Load(), int64(2*due))
		for q, reads := range counted.fetchCounts() {
			require.LessOrEqual(t, reads, 2, "record %+v read more than twice", q)
		}

		// Refreshed: nothing due again, nothing read.
		before := counted.fetches.Load()
		n, err = r.RefreshDue(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, before, counted.fetches.Load())
	})
}

// TestPerTenantMemoryStaysBounded: 10 000 tenants whose refresh fails once
// and then succeeds leave nothing behind in the Refresher's per-token maps.
func TestPerTenantMemoryStaysBounded(t *testing.T) {
	const tenants = 10_000
	e := newEnv(t)
	e.installMany(tenants, -time.Minute)
	r := e.refresher(nil, WithHTTPClient(e.slack.Client()), WithRunConcurrency(16))
	e.slack.failWith("500")
	n, err := r.RefreshDue(context.Background())
	require.NoError(t, err)
	require.Equal(t, tenants, n)
	require.Equal(t, tenants, r.recent.m.len(), "each failure is in its backoff")

	e.slack.failWith("")
	e.clock.advance(DefaultFailureBackoff)
	n, err = r.RefreshDue(context.Background())
	require.NoError(t, err)
	require.Equal(t, tenants, n)
	require.Equal(t, int64(2*tenants), e.slack.calls.Load())
	e.wait(r)
	require.Zero(t, r.recent.m.len(), "a success forgets the failure")
	require.Zero(t, r.dead.m.len())
	require.Zero(t, r.deadDue.len())
	require.Zero(t, r.flights.len())
	require.Zero(t, r.pending.len())
}

func TestExpiringMapIsSweptAndCapped(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newExpiring[int](1000)
	for i := range 10_000 {
		m.put(fmt.Sprint("expired-soon-", i), i, now.Add(time.Second), now)
	}
	require.LessOrEqual(t, m.len(), 1000, "capped")
	later := now.Add(time.Minute)
	for i := range 100 {
		m.put(fmt.Sprint("later-", i), i, later.Add(time.Hour), later)
	}
	require.LessOrEqual(t, m.len(), 1000)
	m.put("one-more", 0, later.Add(time.Hour), later)
	for i := range 2 * minSweep {
		m.put(fmt.Sprint("x-", i), i, later.Add(time.Hour), later)
	}
	require.Less(t, m.len(), 300, "expired entries are swept as the map grows")
	_, _, ok := m.get("later-7", later)
	require.True(t, ok, "live entries stay")
	_, _, ok = m.get("later-7", later.Add(2*time.Hour))
	require.False(t, ok, "and expire")
}

// TestExpiringMapSweepsSeldomAtItsCap: a full map whose entries expire one
// by one, as new keys keep coming, is swept once per a quarter of its
// capacity of puts, not on every put (each sweep reads every entry, under
// the lock every refresh takes). It used to sweep on every put: a sweep that
// found one expired entry left the map just under its cap.
func TestExpiringMapSweepsSeldomAtItsCap(t *testing.T) {
	const capacity, puts = 1000, 2000
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newExpiring[int](capacity)
	for i := range capacity {
		m.put(fmt.Sprint("old-", i), i, now.Add(time.Duration(i+1)*time.Millisecond), now)
	}
	before := m.sweeps
	for i := range puts {
		now = now.Add(time.Millisecond)
		m.put(fmt.Sprint("new-", i), i, now.Add(time.Hour), now)
		require.LessOrEqual(t, m.len(), capacity)
	}
	require.LessOrEqual(t, m.sweeps-before, puts/(capacity/4)+1, "a sweep every quarter of the capacity, at most")
}
