package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// testBotInstalledAt: the bot carries the install time of the install that
// issued it; a user-scopes-only install leaves it alone.
func testBotInstalledAt(t *testing.T, s installstore.FullStore) {
	first := Fixture("", "T1", "U1", "a")
	first.Bot.InstalledAt = time.Time{}
	mustStore(t, s, first)
	got := mustFetch(t, s, q("", "T1", ""))
	require.True(t, got.Bot.InstalledAt.Equal(first.InstalledAt), "a zero Bot.InstalledAt is set to the installation's: got %v, want %v", got.Bot.InstalledAt, first.InstalledAt)

	userOnly := Fixture("", "T1", "U2", "b")
	userOnly.Bot = nil
	userOnly.InstalledAt = first.InstalledAt.Add(time.Hour)
	mustStore(t, s, userOnly)
	got = mustFetch(t, s, q("", "T1", ""))
	require.True(t, got.InstalledAt.Equal(userOnly.InstalledAt), "the latest install time moves")
	require.True(t, got.Bot.InstalledAt.Equal(first.InstalledAt), "a user-only install leaves the bot's install time alone: got %v", got.Bot.InstalledAt)
	require.True(t, mustFetch(t, s, q("", "T1", "U2")).Bot.InstalledAt.Equal(first.InstalledAt))

	explicit := Fixture("", "T2", "U1", "c")
	explicit.Bot.InstalledAt = explicit.InstalledAt.Add(-time.Minute)
	mustStore(t, s, explicit)
	require.True(t, mustFetch(t, s, q("", "T2", "")).Bot.InstalledAt.Equal(explicit.Bot.InstalledAt), "a set Bot.InstalledAt is kept")
}

// testGridMigration: a standalone workspace that joined an Enterprise Grid
// organization is still found under the enterprise, is superseded by an
// install under it, and is purged by an uninstall naming the enterprise.
func testGridMigration(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	mustStore(t, s, Fixture("", "T1", "U1", "before"))
	mustStore(t, s, OrgFixture("E1", "U9", "org"))

	got := mustFetch(t, s, q("E1", "T1", ""))
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-before"), got.Bot.Token, "(E1,T1) falls back to the standalone T1 before the org-wide install")
	require.Empty(t, got.EnterpriseID, "the record is the standalone one")
	require.Equal(t, installstore.Tenant{TeamID: "T1"}, got.Tenant())
	got = mustFetch(t, s, q("E1", "T1", "U1"))
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U1-before"), got.User.Token)
	// A team with no standalone record still gets the org-wide install.
	require.Equal(t, installstore.NewSecret("xoxb-test-E1-org"), mustFetch(t, s, q("E1", "T2", "")).Bot.Token)
	// The fallback never goes the other way, nor to another enterprise.
	mustStore(t, s, Fixture("E2", "T3", "U1", "e2"))
	requireNotFound(t, s, q("", "T3", ""))
	requireNotFound(t, s, q("E3", "T3", ""))

	// A new install under the enterprise supersedes the standalone record.
	mustStore(t, s, Fixture("E1", "T1", "U1", "after"))
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-after"), mustFetch(t, s, q("E1", "T1", "")).Bot.Token)
	requireNotFound(t, s, q("", "T1", ""))
	requireNotFound(t, s, q("", "T1", "U1"))

	// An uninstall naming the enterprise purges a standalone record too,
	// whole or one user's.
	mustStore(t, s, Fixture("", "T4", "U1", "x"))
	mustStore(t, s, Fixture("", "T4", "U2", "x"))
	require.NoError(t, s.DeleteInstallation(ctx, q("E1", "T4", "U1")))
	requireNotFound(t, s, q("", "T4", "U1"))
	require.Equal(t, "U2", mustFetch(t, s, q("", "T4", "U2")).User.ID)
	require.NoError(t, s.DeleteInstallation(ctx, q("E1", "T4", "")))
	requireNotFound(t, s, q("", "T4", ""))
	requireNotFound(t, s, q("E1", "T4", "U2"))
	require.Equal(t, installstore.NewSecret("xoxb-test-E1-org"), mustFetch(t, s, q("E1", "T4", "")).Bot.Token, "the org-wide install stays")
}

// testDeleteLastUser: a user-scopes-only tenant whose only user is deleted
// reads as not installed, as Bolt's SQL and S3 stores do.
func testDeleteLastUser(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	userOnly := Fixture("", "T1", "U1", "a")
	userOnly.Bot = nil
	mustStore(t, s, userOnly)
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T1", "U1")))
	requireNotFound(t, s, q("", "T1", ""))
	requireNotFound(t, s, q("", "T1", "U1"))

	// With another user holding a token, the tenant stays.
	for _, u := range []string{"U1", "U2"} {
		inst := Fixture("", "T2", u, "b")
		inst.Bot = nil
		mustStore(t, s, inst)
	}
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T2", "U2")))
	require.Equal(t, "U1", mustFetch(t, s, q("", "T2", "U1")).User.ID)
	mustFetch(t, s, q("", "T2", ""))

	// With a bot, deleting the only user keeps the tenant.
	mustStore(t, s, Fixture("", "T3", "U1", "c"))
	require.NoError(t, s.DeleteInstallation(ctx, q("", "T3", "U1")))
	require.NotNil(t, mustFetch(t, s, q("", "T3", "")).Bot)
}

// testConditionalDelete: DeleteInstallationIf and DeleteBotIf delete only
// the Version the caller saw.
func testConditionalDelete(t *testing.T, s installstore.FullStore) {
	ctx := context.Background()
	old := mustStore(t, s, Fixture("", "T1", "U1", "old"))
	cur := mustStore(t, s, Fixture("", "T1", "U1", "new")) // a re-install after the check

	require.ErrorIs(t, s.DeleteInstallationIf(ctx, q("", "T1", ""), old.Version), installstore.ErrConflict)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-new"), mustFetch(t, s, q("", "T1", "")).Bot.Token, "a stale conditional delete deletes nothing")
	require.ErrorIs(t, s.DeleteBotIf(ctx, q("", "T1", ""), old.Version), installstore.ErrConflict)
	require.NotNil(t, mustFetch(t, s, q("", "T1", "")).Bot, "a stale conditional bot delete keeps the bot")
	require.ErrorIs(t, s.DeleteInstallationIf(ctx, q("", "T1", "U1"), old.Version), installstore.ErrConflict)
	require.Equal(t, "U1", mustFetch(t, s, q("", "T1", "U1")).User.ID)

	require.NoError(t, s.DeleteBotIf(ctx, q("", "T1", ""), cur.Version))
	got := mustFetch(t, s, q("", "T1", ""))
	require.Nil(t, got.Bot, "the bot is revoked")
	require.Greater(t, got.Version, cur.Version, "revoking the bot is a write")
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U1-new"), got.User.Token, "user tokens stay")

	require.NoError(t, s.DeleteInstallationIf(ctx, q("", "T1", ""), got.Version))
	requireNotFound(t, s, q("", "T1", ""))
	requireNotFound(t, s, q("", "T1", "U1"))
	require.NoError(t, s.DeleteInstallationIf(ctx, q("", "T1", ""), got.Version), "a tenant that is gone is not an error")
	require.NoError(t, s.DeleteBotIf(ctx, q("", "T404", ""), 1))

	// The condition is on the exact tenant: an org-wide install serving a
	// workspace is not the workspace's.
	org := mustStore(t, s, OrgFixture("E1", "U1", "org"))
	require.NoError(t, s.DeleteInstallationIf(ctx, q("E1", "T9", ""), org.Version))
	require.Equal(t, installstore.NewSecret("xoxb-test-E1-org"), mustFetch(t, s, orgQ("E1", "")).Bot.Token)

	// One user's installation.
	two := mustStore(t, s, Fixture("", "T2", "U1", "a"))
	two = mustStore(t, s, Fixture("", "T2", "U2", "a"))
	require.NoError(t, s.DeleteInstallationIf(ctx, q("", "T2", "U1"), two.Version))
	requireNotFound(t, s, q("", "T2", "U1"))
	require.Equal(t, "U2", mustFetch(t, s, q("", "T2", "")).User.ID)

	_, err := s.FetchInstallation(ctx, q("", "T2", "U2"))
	require.NoError(t, err)
	require.ErrorIs(t, s.DeleteInstallationIf(ctx, installstore.Query{}, 1), installstore.ErrInvalid)
	require.ErrorIs(t, s.DeleteBotIf(ctx, installstore.Query{}, 1), installstore.ErrInvalid)
}
