// Package storetest is the conformance suite every installstore backend
// passes: the rules documented on [installstore.Store], the optional
// capabilities the backend implements, bad input, and a concurrent run that
// checks no fetch ever returns another tenant's token.
//
// A backend's test calls [Run] with a constructor that returns a fresh, empty
// store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) installstore.FullStore { return memory.New() })
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// Run runs the conformance suite over the whole backend contract
// ([installstore.FullStore]: a backend that lacks a capability does not
// compile here, it is not skipped). newStore must return an empty store that
// no other subtest uses; the suite runs some subtests in parallel.
func Run(t *testing.T, newStore func(t *testing.T) installstore.FullStore) {
	t.Helper()
	t.Run("StoreFetchRoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("FetchMissing", func(t *testing.T) { testFetchMissing(t, newStore(t)) })
	t.Run("ReinstallReplacesAndVersionGrows", func(t *testing.T) { testReinstall(t, newStore(t)) })
	t.Run("UserInstallationsCarryCurrentBot", func(t *testing.T) { testUsers(t, newStore(t)) })
	t.Run("NilBotKeepsStoredBot", func(t *testing.T) { testNilBotKeeps(t, newStore(t)) })
	t.Run("BotInstalledAt", func(t *testing.T) { testBotInstalledAt(t, newStore(t)) })
	t.Run("EnterpriseFallback", func(t *testing.T) { testEnterprise(t, newStore(t)) })
	t.Run("GridMigration", func(t *testing.T) { testGridMigration(t, newStore(t)) })
	t.Run("DeleteUser", func(t *testing.T) { testDeleteUser(t, newStore(t)) })
	t.Run("DeleteLastUserOfUserOnlyTenant", func(t *testing.T) { testDeleteLastUser(t, newStore(t)) })
	t.Run("DeleteAll", func(t *testing.T) { testDeleteAll(t, newStore(t)) })
	t.Run("ReturnsCopies", func(t *testing.T) { testCopies(t, newStore(t)) })
	t.Run("InvalidInput", func(t *testing.T) { testInvalid(t, newStore(t)) })
	t.Run("DeleteBot", func(t *testing.T) { testDeleteBot(t, newStore(t)) })
	t.Run("ConditionalDelete", func(t *testing.T) { testConditionalDelete(t, newStore(t)) })
	t.Run("UpdateInstallation", func(t *testing.T) { testUpdate(t, newStore(t)) })
	t.Run("ListInstallations", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("DueIndex", func(t *testing.T) { testDue(t, newStore(t)) })
	t.Run("Nonces", func(t *testing.T) {
		s := newStore(t)
		t.Parallel()
		testNonces(t, s)
	})
	t.Run("Leases", func(t *testing.T) {
		s := newStore(t)
		t.Parallel()
		testLeases(t, s)
	})
	t.Run("ConcurrentTenantsNeverCross", func(t *testing.T) { testConcurrent(t, newStore(t)) })
}

// Fixture returns a fully populated installation of team (in enterprise
// ent, which may be empty) installed by user, with tokens that name the
// team, the user and tag, e.g. "xoxb-test-T1-tag". Backend tests use it too.
func Fixture(ent, team, user, tag string) *installstore.Installation {
	inst := &installstore.Installation{
		AppID:          "A0TEST",
		EnterpriseID:   ent,
		EnterpriseName: nameOr(ent, "Enterprise "),
		EnterpriseURL:  urlOr(ent),
		TeamID:         team,
		TeamName:       "Team " + team,
		Bot: &installstore.Bot{
			ID:           "B" + team,
			UserID:       "UB" + team,
			Token:        installstore.NewSecret("xoxb-test-" + team + "-" + tag),
			RefreshToken: installstore.NewSecret("xoxe-1-test-" + team + "-" + tag),
			ExpiresAt:    time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC),
			Scopes:       []string{"chat:write", "commands"},
		},
		User: installstore.User{
			ID:           user,
			Token:        installstore.NewSecret("xoxp-test-" + team + "-" + user + "-" + tag),
			RefreshToken: installstore.NewSecret("xoxe-1-test-user-" + team + "-" + user + "-" + tag),
			ExpiresAt:    time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
			Scopes:       []string{"search:read"},
		},
		IncomingWebhook: &installstore.IncomingWebhook{
			URL:              installstore.NewSecret("https://hooks.slack.invalid/services/" + team + "/" + tag),
			Channel:          "#general",
			ChannelID:        "C" + team,
			ConfigurationURL: "https://example.invalid/config/" + team,
		},
		TokenType:   "bot",
		InstalledAt: time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC),
	}
	inst.Bot.InstalledAt = inst.InstalledAt
	return inst
}

// OrgFixture returns an org-wide Enterprise Grid installation of ent.
func OrgFixture(ent, user, tag string) *installstore.Installation {
	inst := Fixture(ent, "", user, tag)
	inst.IsEnterpriseInstall = true
	inst.Bot.ID = "B" + ent
	inst.Bot.UserID = "UB" + ent
	inst.Bot.Token = installstore.NewSecret("xoxb-test-" + ent + "-" + tag)
	inst.Bot.RefreshToken = installstore.NewSecret("xoxe-1-test-" + ent + "-" + tag)
	inst.User.Token = installstore.NewSecret("xoxp-test-" + ent + "-" + user + "-" + tag)
	inst.User.RefreshToken = installstore.Secret{}
	inst.IncomingWebhook = nil
	return inst
}

func nameOr(id, prefix string) string {
	if id == "" {
		return ""
	}
	return prefix + id
}

func urlOr(id string) string {
	if id == "" {
		return ""
	}
	return "https://" + strings.ToLower(id) + ".enterprise.slack.invalid/"
}

// Equal asserts that got is want as a store should return it: the same
// fields, with times compared as instants and Version ignored.
func Equal(t testing.TB, want, got *installstore.Installation, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, got, msgAndArgs...)
	require.Equal(t, normalize(want), normalize(got), msgAndArgs...)
}

func normalize(in *installstore.Installation) *installstore.Installation {
	c := in.Clone()
	c.Version = 0
	c.InstalledAt = c.InstalledAt.UTC().Round(0)
	if c.Bot != nil {
		c.Bot.ExpiresAt = c.Bot.ExpiresAt.UTC().Round(0)
		c.Bot.InstalledAt = c.Bot.InstalledAt.UTC().Round(0)
		if len(c.Bot.Scopes) == 0 {
			c.Bot.Scopes = nil
		}
	}
	c.User.ExpiresAt = c.User.ExpiresAt.UTC().Round(0)
	if len(c.User.Scopes) == 0 {
		c.User.Scopes = nil
	}
	return c
}

func q(ent, team, user string) installstore.Query {
	return installstore.Query{EnterpriseID: ent, TeamID: team, UserID: user}
}

func orgQ(ent, user string) installstore.Query {
	return installstore.Query{EnterpriseID: ent, UserID: user, IsEnterpriseInstall: true}
}

func mustStore(t *testing.T, s installstore.Store, inst *installstore.Installation) *installstore.Installation {
	t.Helper()
	require.NoError(t, s.StoreInstallation(context.Background(), inst))
	require.Positive(t, inst.Version, "StoreInstallation must set Version")
	return inst
}

func mustFetch(t *testing.T, s installstore.Store, query installstore.Query) *installstore.Installation {
	t.Helper()
	got, err := s.FetchInstallation(context.Background(), query)
	require.NoError(t, err, "fetch %+v", query)
	require.NotNil(t, got)
	return got
}

func requireNotFound(t *testing.T, s installstore.Store, query installstore.Query) {
	t.Helper()
	got, err := s.FetchInstallation(context.Background(), query)
	require.ErrorIs(t, err, installstore.ErrNotFound, "fetch %+v returned %+v", query, got)
	require.Nil(t, got)
}

func testRoundTrip(t *testing.T, s installstore.FullStore) {
	want := Fixture("", "T1", "U1", "a")
	mustStore(t, s, want.Clone())
	got := mustFetch(t, s, q("", "T1", ""))
	Equal(t, want, got)
	require.Positive(t, got.Version)
	Equal(t, want, mustFetch(t, s, q("", "T1", "U1")))

	// A zero InstalledAt is set by the store, on the argument too.
	bare := Fixture("", "T2", "U2", "b")
	bare.InstalledAt = time.Time{}
	before := time.Now().Add(-time.Minute)
	mustStore(t, s, bare)
	require.False(t, bare.InstalledAt.IsZero(), "store must set InstalledAt")
	require.True(t, bare.InstalledAt.After(before))
	got = mustFetch(t, s, q("", "T2", ""))
	require.True(t, got.InstalledAt.Equal(bare.InstalledAt), "stored InstalledAt %v, returned %v", bare.InstalledAt, got.InstalledAt)

	// Minimal record: no bot, no user token, no webhook.
	min := &installstore.Installation{TeamID: "T3", User: installstore.User{ID: "U3"}}
	mustStore(t, s, min)
	got = mustFetch(t, s, q("", "T3", ""))
	require.Nil(t, got.Bot)
	require.Nil(t, got.IncomingWebhook)
	require.Equal(t, "U3", got.User.ID)
	require.True(t, got.User.Token.IsZero())
}

func testFetchMissing(t *testing.T, s installstore.FullStore) {
	requireNotFound(t, s, q("", "T404", ""))
	mustStore(t, s, Fixture("", "T1", "U1", "a"))
	requireNotFound(t, s, q("", "T404", ""))
	requireNotFound(t, s, q("", "T1", "U404"))
	mustStore(t, s, Fixture("E1", "T2", "U1", "a"))
	requireNotFound(t, s, q("", "T2", ""))   // a standalone query never reads an enterprise's workspace
	requireNotFound(t, s, q("E2", "T2", "")) // nor another enterprise's
	requireNotFound(t, s, orgQ("T1", ""))    // an enterprise ID equal to a team ID is another tenant
	requireNotFound(t, s, q("", "t1", ""))   // IDs are case-sensitive
	requireNotFound(t, s, q("", "T1", "u1")) // so are user IDs
}

func testReinstall(t *testing.T, s installstore.FullStore) {
	first := mustStore(t, s, Fixture("", "T1", "U1", "v1"))
	second := mustStore(t, s, Fixture("", "T1", "U1", "v2"))
	require.Greater(t, second.Version, first.Version, "Version must grow on every write")
	got := mustFetch(t, s, q("", "T1", ""))
	Equal(t, Fixture("", "T1", "U1", "v2"), got)
	require.Equal(t, second.Version, got.Version)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-v2"), got.Bot.Token)
	Equal(t, Fixture("", "T1", "U1", "v2"), mustFetch(t, s, q("", "T1", "U1")))

	// Re-install after uninstall: the new Version is still larger, never a reused one.
	require.NoError(t, s.DeleteInstallation(context.Background(), q("", "T1", "")))
	third := mustStore(t, s, Fixture("", "T1", "U1", "v3"))
	require.Greater(t, third.Version, second.Version, "a re-created tenant must not reuse Versions")
}

func testUsers(t *testing.T, s installstore.FullStore) {
	mustStore(t, s, Fixture("", "T1", "U1", "u1"))
	mustStore(t, s, Fixture("", "T1", "U2", "u2"))

	latest := mustFetch(t, s, q("", "T1", ""))
	require.Equal(t, "U2", latest.User.ID, "without UserID, the latest installation")
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-u2"), latest.Bot.Token)

	u1 := mustFetch(t, s, q("", "T1", "U1"))
	require.Equal(t, "U1", u1.User.ID)
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U1-u1"), u1.User.Token, "U1 keeps its own user token")
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-u2"), u1.Bot.Token, "a user installation carries the tenant's current bot")
	require.Equal(t, latest.Version, u1.Version, "Version is the tenant's")

	u2 := mustFetch(t, s, q("", "T1", "U2"))
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U2-u2"), u2.User.Token)
}

func testNilBotKeeps(t *testing.T, s installstore.FullStore) {
	mustStore(t, s, Fixture("", "T1", "U1", "a"))
	userOnly := Fixture("", "T1", "U2", "b")
	userOnly.Bot = nil
	mustStore(t, s, userOnly)
	got := mustFetch(t, s, q("", "T1", ""))
	require.Equal(t, "U2", got.User.ID)
	require.NotNil(t, got.Bot, "a user-scopes-only install keeps the bot")
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-a"), got.Bot.Token)
}

func testEnterprise(t *testing.T, s installstore.FullStore) {
	org := mustStore(t, s, OrgFixture("E1", "U1", "org"))
	// Org-wide install, fetched as such.
	got := mustFetch(t, s, orgQ("E1", ""))
	Equal(t, OrgFixture("E1", "U1", "org"), got)
	require.True(t, got.IsEnterpriseInstall)
	require.Equal(t, org.Version, got.Version)
	Equal(t, OrgFixture("E1", "U1", "org"), mustFetch(t, s, orgQ("E1", "U1")))

	// A workspace of E1 with no installation of its own falls back to the org's.
	got = mustFetch(t, s, q("E1", "T9", ""))
	require.Equal(t, installstore.NewSecret("xoxb-test-E1-org"), got.Bot.Token)
	require.True(t, got.IsEnterpriseInstall)
	got = mustFetch(t, s, q("E1", "T9", "U1"))
	require.Equal(t, installstore.NewSecret("xoxp-test-E1-U1-org"), got.User.Token)

	// A workspace install under E1 is its own tenant and wins over the org's.
	mustStore(t, s, Fixture("E1", "T1", "U5", "ws"))
	got = mustFetch(t, s, q("E1", "T1", ""))
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-ws"), got.Bot.Token)
	require.False(t, got.IsEnterpriseInstall)
	// ...and the org install is untouched.
	require.Equal(t, installstore.NewSecret("xoxb-test-E1-org"), mustFetch(t, s, orgQ("E1", "")).Bot.Token)

	// No crossing: another enterprise, the same team outside the enterprise,
	// and an org query when only a workspace install exists.
	requireNotFound(t, s, q("E2", "T9", ""))
	requireNotFound(t, s, q("", "T9", ""))
	requireNotFound(t, s, q("", "T1", ""))
	mustStore(t, s, Fixture("E3", "T3", "U3", "x"))
	requireNotFound(t, s, orgQ("E3", ""))
	requireNotFound(t, s, q("E3", "T4", ""))

	// Uninstalling the org removes the fallback, not the workspace install.
	require.NoError(t, s.DeleteInstallation(context.Background(), orgQ("E1", "")))
	requireNotFound(t, s, q("E1", "T9", ""))
	requireNotFound(t, s, orgQ("E1", ""))
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-ws"), mustFetch(t, s, q("E1", "T1", "")).Bot.Token)
}

func testDeleteUser(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	mustStore(t, s, Fixture("", "T1", "U1", "a"))
	mustStore(t, s, Fixture("", "T1", "U2", "b"))
	before := mustFetch(t, s, q("", "T1", ""))

	// Remove U1 (not the latest installer): U2 and the bot stay.
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "U1")))
	requireNotFound(t, s, q("", "T1", "U1"))
	after := mustFetch(t, s, q("", "T1", ""))
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-b"), after.Bot.Token)
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U2-b"), after.User.Token)
	require.Greater(t, after.Version, before.Version, "a delete is a write")

	// Remove U2, the latest installer: the bot stays, the user token goes.
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "U2")))
	requireNotFound(t, s, q("", "T1", "U2"))
	after = mustFetch(t, s, q("", "T1", ""))
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-b"), after.Bot.Token)
	require.True(t, after.User.Token.IsZero(), "the latest installation must lose the deleted user's token")
	require.True(t, after.User.RefreshToken.IsZero())
	require.Equal(t, "Team T1", after.TeamName)

	// Idempotent.
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "U2")))
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T404", "U1")))
}

func testDeleteAll(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	mustStore(t, s, Fixture("", "T1", "U1", "a"))
	mustStore(t, s, Fixture("", "T1", "U2", "b"))
	mustStore(t, s, Fixture("", "T2", "U1", "c"))
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "")))
	requireNotFound(t, s, q("", "T1", ""))
	requireNotFound(t, s, q("", "T1", "U1"))
	requireNotFound(t, s, q("", "T1", "U2"))
	require.Equal(t, installstore.NewSecret("xoxb-test-T2-c"), mustFetch(t, s, q("", "T2", "U1")).Bot.Token, "other tenants stay")
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "")), "deleting twice is not an error")
}

func testCopies(t *testing.T, s installstore.FullStore) {
	in := Fixture("", "T1", "U1", "a")
	mustStore(t, s, in)
	// Mutating the stored argument afterwards changes nothing.
	in.Bot.Token = installstore.NewSecret("xoxb-test-mutated")
	in.Bot.Scopes[0] = "mutated"
	in.User.Scopes[0] = "mutated"
	in.IncomingWebhook.Channel = "mutated"
	in.TeamName = "mutated"
	got := mustFetch(t, s, q("", "T1", ""))
	Equal(t, Fixture("", "T1", "U1", "a"), got)

	// Mutating a fetched value changes nothing.
	got.Bot.Token = installstore.NewSecret("xoxb-test-mutated")
	got.Bot.Scopes[0] = "mutated"
	got.User.Scopes[0] = "mutated"
	got.IncomingWebhook.URL = installstore.NewSecret("mutated")
	got.Bot = nil
	Equal(t, Fixture("", "T1", "U1", "a"), mustFetch(t, s, q("", "T1", "")))
	Equal(t, Fixture("", "T1", "U1", "a"), mustFetch(t, s, q("", "T1", "U1")))
}

func testInvalid(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	badInst := map[string]*installstore.Installation{
		"nil":                     nil,
		"no tenant":               {User: installstore.User{ID: "U1"}},
		"enterprise without team": {EnterpriseID: "E1", User: installstore.User{ID: "U1"}},
		"org install without ent": {TeamID: "T1", IsEnterpriseInstall: true},
		"separator in team":       {TeamID: "T1:x"},
		"hash in team":            {TeamID: "T1#x"},
		"slash in enterprise":     {EnterpriseID: "E/1", TeamID: "T1"},
		"space in user":           {TeamID: "T1", User: installstore.User{ID: "U 1"}},
		"newline in team":         {TeamID: "T1\n"},
		"very long team":          {TeamID: strings.Repeat("T", 65)},
		"bad bot id":              {TeamID: "T1", Bot: &installstore.Bot{ID: "B:1"}},
	}
	for name, inst := range badInst {
		err := s.StoreInstallation(ctx, inst)
		require.ErrorIs(t, err, installstore.ErrInvalid, name)
		if u, ok := s.(installstore.Updater); ok {
			require.ErrorIs(t, u.UpdateInstallation(ctx, inst), installstore.ErrInvalid, name)
		}
	}
	badQ := map[string]installstore.Query{
		"empty":                   {},
		"enterprise without team": {EnterpriseID: "E1"},
		"org without ent":         {TeamID: "T1", IsEnterpriseInstall: true},
		"separator in team":       {TeamID: "T1:"},
		"bad user":                {TeamID: "T1", UserID: "U1\x00"},
	}
	for name, query := range badQ {
		_, err := s.FetchInstallation(ctx, query)
		require.ErrorIs(t, err, installstore.ErrInvalid, name)
		require.ErrorIs(t, s.DeleteInstallation(ctx, query), installstore.ErrInvalid, name)
		if d, ok := s.(installstore.BotDeleter); ok {
			require.ErrorIs(t, d.DeleteBot(ctx, query), installstore.ErrInvalid, name)
		}
	}
	// Nothing was written.
	if l, ok := s.(installstore.Lister); ok {
		n := 0
		require.NoError(t, l.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { n++; return nil }))
		require.Zero(t, n, "invalid input must write nothing")
	}
}

func testDeleteBot(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	d := s.(installstore.BotDeleter)
	mustStore(t, s, Fixture("", "T1", "U1", "a"))
	mustStore(t, s, Fixture("", "T2", "U1", "b"))
	before := mustFetch(t, s, q("", "T1", ""))
	require.NoError(t, d.DeleteBot(ctx, q("", "T1", "")))
	got := mustFetch(t, s, q("", "T1", ""))
	require.Nil(t, got.Bot, "bot revoked")
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U1-a"), got.User.Token, "user tokens stay")
	require.Greater(t, got.Version, before.Version)
	require.Nil(t, mustFetch(t, s, q("", "T1", "U1")).Bot)
	require.NotNil(t, mustFetch(t, s, q("", "T2", "")).Bot, "other tenants keep their bot")
	require.NoError(t, d.DeleteBot(ctx, q("", "T1", "")), "idempotent")
	require.NoError(t, d.DeleteBot(ctx, q("", "T404", "")), "missing tenant is not an error")

	// A later install brings a bot back.
	mustStore(t, s, Fixture("", "T1", "U1", "c"))
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-c"), mustFetch(t, s, q("", "T1", "")).Bot.Token)
}

func testUpdate(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	u := s.(installstore.Updater)
	mustStore(t, s, Fixture("", "T1", "U1", "a"))
	mustStore(t, s, Fixture("", "T1", "U2", "b"))

	// Refresh the bot through the latest installation.
	cur := mustFetch(t, s, q("", "T1", ""))
	old := cur.Version
	cur.Bot.Token = installstore.NewSecret("xoxb-test-T1-refreshed")
	cur.Bot.ExpiresAt = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, u.UpdateInstallation(ctx, cur))
	require.Greater(t, cur.Version, old, "UpdateInstallation sets the new Version")
	got := mustFetch(t, s, q("", "T1", ""))
	require.Equal(t, cur.Version, got.Version)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-refreshed"), got.Bot.Token)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-refreshed"), mustFetch(t, s, q("", "T1", "U1")).Bot.Token, "the bot is the tenant's")

	// A stale Version loses.
	stale := got.Clone()
	stale.Version = old
	stale.Bot.Token = installstore.NewSecret("xoxb-test-T1-stale")
	require.ErrorIs(t, u.UpdateInstallation(ctx, stale), installstore.ErrConflict)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-refreshed"), mustFetch(t, s, q("", "T1", "")).Bot.Token)

	// Two writers from one read: exactly one wins.
	base := mustFetch(t, s, q("", "T1", "U1"))
	w1, w2 := base.Clone(), base.Clone()
	w1.User.Token, w2.User.Token = installstore.NewSecret("xoxp-test-w1"), installstore.NewSecret("xoxp-test-w2")
	require.NoError(t, u.UpdateInstallation(ctx, w1))
	require.ErrorIs(t, u.UpdateInstallation(ctx, w2), installstore.ErrConflict)
	require.Equal(t, installstore.NewSecret("xoxp-test-w1"), mustFetch(t, s, q("", "T1", "U1")).User.Token)
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U2-b"), mustFetch(t, s, q("", "T1", "U2")).User.Token, "other users untouched")

	// Updating the latest installer's record updates the latest installation too.
	l := mustFetch(t, s, q("", "T1", "U2"))
	l.User.Token = installstore.NewSecret("xoxp-test-U2-refreshed")
	require.NoError(t, u.UpdateInstallation(ctx, l))
	require.Equal(t, installstore.NewSecret("xoxp-test-U2-refreshed"), mustFetch(t, s, q("", "T1", "")).User.Token)

	// A nil Bot leaves the bot alone.
	nb := mustFetch(t, s, q("", "T1", "U1"))
	nb.Bot = nil
	require.NoError(t, u.UpdateInstallation(ctx, nb))
	require.NotNil(t, mustFetch(t, s, q("", "T1", "")).Bot)

	// Never resurrect: a deleted user, a deleted tenant.
	gone := mustFetch(t, s, q("", "T1", "U1"))
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "U1")))
	gone.Version = mustFetch(t, s, q("", "T1", "")).Version // even with the current Version
	require.ErrorIs(t, u.UpdateInstallation(ctx, gone), installstore.ErrNotFound)
	requireNotFound(t, s, q("", "T1", "U1"))

	cur = mustFetch(t, s, q("", "T1", ""))
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "")))
	require.ErrorIs(t, u.UpdateInstallation(ctx, cur), installstore.ErrNotFound)
	requireNotFound(t, s, q("", "T1", ""))

	// Deleted then re-installed: an update read before the delete must not land.
	mustStore(t, s, Fixture("", "T2", "U1", "old"))
	before := mustFetch(t, s, q("", "T2", ""))
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T2", "")))
	mustStore(t, s, Fixture("", "T2", "U1", "new"))
	before.Bot.Token = installstore.NewSecret("xoxb-test-from-before-uninstall")
	require.Error(t, u.UpdateInstallation(ctx, before))
	require.Equal(t, installstore.NewSecret("xoxb-test-T2-new"), mustFetch(t, s, q("", "T2", "")).Bot.Token)

	// Missing tenant.
	require.ErrorIs(t, u.UpdateInstallation(ctx, Fixture("", "T404", "U1", "x")), installstore.ErrNotFound)
	requireNotFound(t, s, q("", "T404", ""))
}

func testList(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	l := s.(installstore.Lister)
	mustStore(t, s, Fixture("", "T1", "U1", "a"))
	mustStore(t, s, Fixture("", "T1", "U2", "b"))
	mustStore(t, s, Fixture("E1", "T2", "U3", "c"))
	mustStore(t, s, OrgFixture("E2", "U4", "d"))

	seen := map[installstore.Query]*installstore.Installation{}
	require.NoError(t, l.ListInstallations(ctx, func(qq installstore.Query, inst *installstore.Installation) error {
		require.NotContains(t, seen, qq, "each record listed once")
		seen[qq] = inst
		return nil
	}))
	want := []installstore.Query{
		q("", "T1", ""), q("", "T1", "U1"), q("", "T1", "U2"),
		q("E1", "T2", ""), q("E1", "T2", "U3"),
		orgQ("E2", ""), orgQ("E2", "U4"),
	}
	require.Len(t, seen, len(want))
	for _, wq := range want {
		inst, ok := seen[wq]
		require.True(t, ok, "missing %+v", wq)
		fetched := mustFetch(t, s, wq)
		Equal(t, fetched, inst, "listed record %+v", wq)
		require.Equal(t, fetched.Version, inst.Version)
	}

	// fn's error stops the listing and is returned.
	stop := errors.New("stop")
	calls := 0
	err := l.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}

func testNonces(t *testing.T, n installstore.NonceStore) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	require.NoError(t, n.PutNonce(ctx, "nonce-1", exp))
	require.ErrorIs(t, n.PutNonce(ctx, "nonce-1", exp), installstore.ErrConflict)
	require.ErrorIs(t, n.ConsumeNonce(ctx, "nonce-unknown"), installstore.ErrNotFound)
	require.NoError(t, n.ConsumeNonce(ctx, "nonce-1"))
	require.ErrorIs(t, n.ConsumeNonce(ctx, "nonce-1"), installstore.ErrNotFound, "single use")

	// Names as the layers above make them: up to 200 bytes of
	// [A-Za-z0-9:._|-] (rotation's refresh intents, oauth's event markers).
	for _, name := range []string{
		"rotation-intent:refresh:E1:T1:user:U1:" + strings.Repeat("0123456789abcdef", 2),
		"event|Ev01ABCDEF.x_y-z:" + strings.Repeat("a", 200-len("event|Ev01ABCDEF.x_y-z:")),
	} {
		require.NoError(t, n.PutNonce(ctx, name, exp), name)
		require.ErrorIs(t, n.PutNonce(ctx, name, exp), installstore.ErrConflict, name)
		require.NoError(t, n.ConsumeNonce(ctx, name), name)
		require.ErrorIs(t, n.ConsumeNonce(ctx, name), installstore.ErrNotFound, name)
	}

	// Concurrent consumers: exactly one wins.
	require.NoError(t, n.PutNonce(ctx, "nonce-race", exp))
	var wins, losses int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := n.ConsumeNonce(ctx, "nonce-race")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else {
				assert.ErrorIs(t, err, installstore.ErrNotFound)
				losses++
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, wins)
	require.Equal(t, 15, losses)

	// Expired nonces are refused even if the backend has not removed them yet.
	require.NoError(t, n.PutNonce(ctx, "nonce-short", time.Now().Add(500*time.Millisecond)))
	time.Sleep(1600 * time.Millisecond)
	require.ErrorIs(t, n.ConsumeNonce(ctx, "nonce-short"), installstore.ErrNotFound, "expired")
}

func testLeases(t *testing.T, l installstore.Leaser) {
	ctx := context.Background()
	require.NoError(t, l.AcquireLease(ctx, "lease-1", "owner-a", time.Minute))
	require.ErrorIs(t, l.AcquireLease(ctx, "lease-1", "owner-b", time.Minute), installstore.ErrLeaseHeld)
	require.NoError(t, l.AcquireLease(ctx, "lease-1", "owner-a", time.Minute), "the owner may extend")
	require.NoError(t, l.AcquireLease(ctx, "lease-2", "owner-b", time.Minute), "leases are independent")
	require.NoError(t, l.ReleaseLease(ctx, "lease-1", "owner-b"), "releasing another's lease is a no-op")
	require.ErrorIs(t, l.AcquireLease(ctx, "lease-1", "owner-b", time.Minute), installstore.ErrLeaseHeld, "still held by a")
	require.NoError(t, l.ReleaseLease(ctx, "lease-1", "owner-a"))
	require.NoError(t, l.AcquireLease(ctx, "lease-1", "owner-b", time.Minute))
	require.NoError(t, l.ReleaseLease(ctx, "lease-404", "owner-a"))

	// Concurrent acquirers: exactly one wins.
	var wins int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.AcquireLease(ctx, "lease-race", fmt.Sprintf("owner-%d", i), time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else {
				assert.ErrorIs(t, err, installstore.ErrLeaseHeld)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, wins)

	// An expired lease is taken over (a crashed holder).
	require.NoError(t, l.AcquireLease(ctx, "lease-short", "owner-a", 500*time.Millisecond))
	require.ErrorIs(t, l.AcquireLease(ctx, "lease-short", "owner-b", time.Minute), installstore.ErrLeaseHeld)
	time.Sleep(1600 * time.Millisecond)
	require.NoError(t, l.AcquireLease(ctx, "lease-short", "owner-b", time.Minute), "expired lease taken over")
	require.ErrorIs(t, l.AcquireLease(ctx, "lease-short", "owner-a", time.Minute), installstore.ErrLeaseHeld)
}

// testConcurrent hammers the store from many goroutines over many tenants,
// each token naming its tenant, and checks that no fetch ever returns
// another tenant's token.
func testConcurrent(t *testing.T, s installstore.FullStore) {
	const (
		tenants    = 16
		goroutines = 8
		ops        = 150
	)
	ctx := context.Background()
	team := func(i int) string { return fmt.Sprintf("TC%02d", i) }
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 42))
			for n := range ops {
				tm := team(r.IntN(tenants))
				user := fmt.Sprintf("U%d", r.IntN(3))
				switch op := r.IntN(10); {
				case op < 4:
					if !assert.NoError(t, s.StoreInstallation(ctx, Fixture("", tm, user, fmt.Sprintf("g%dn%d", g, n)))) {
						return
					}
				case op < 9:
					query := q("", tm, "")
					if op%2 == 0 {
						query.UserID = user
					}
					got, err := s.FetchInstallation(ctx, query)
					if errors.Is(err, installstore.ErrNotFound) {
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					assert.Equal(t, tm, got.TeamID)
					if got.Bot != nil {
						assert.True(t, strings.HasPrefix(got.Bot.Token.Reveal(), "xoxb-test-"+tm+"-"), "tenant %s got bot token of another tenant", tm)
					}
					if query.UserID != "" {
						assert.Equal(t, query.UserID, got.User.ID)
						assert.True(t, strings.HasPrefix(got.User.Token.Reveal(), "xoxp-test-"+tm+"-"+query.UserID+"-"), "tenant %s user %s got another's user token", tm, query.UserID)
					} else if !got.User.Token.IsZero() {
						assert.True(t, strings.HasPrefix(got.User.Token.Reveal(), "xoxp-test-"+tm+"-"), "tenant %s got another tenant's user token", tm)
					}
				default:
					query := q("", tm, "")
					if r.IntN(2) == 0 {
						query.UserID = user
					}
					if !assert.NoError(t, s.DeleteInstallation(ctx, query)) {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
