package sqlite_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

// marker is in every corrupt value below: no error may repeat it.
const marker = "xoxb-test-corrupt-content"

// corruptions are rows written around the store (a sqlite3 shell, a bug
// elsewhere), each breaking tenant T1 (installed by U1) in one way, and
// which of its records that breaks.
var corruptions = []struct {
	name        string
	sql         string
	latest, usr bool // whether the latest record / U1's record no longer decodes
}{
	{"latest rec not JSON", `UPDATE tenants SET rec = '{"team":"` + marker + `' WHERE team_id = 'T1'`, true, false},
	{"latest rec of another tenant", `UPDATE tenants SET rec = '{"team":"T2","teamName":"` + marker + `"}' WHERE team_id = 'T1'`, true, false},
	{"latest rec JSON null", `UPDATE tenants SET rec = 'null' WHERE team_id = 'T1'`, true, false},
	{"latest rec a string", `UPDATE tenants SET rec = '"` + marker + `"' WHERE team_id = 'T1'`, true, false},
	{"latest rec org flag on a workspace", `UPDATE tenants SET rec = json_set(rec, '$.org', json('true')) WHERE team_id = 'T1'`, true, false},
	{"latest install time not a time", `UPDATE tenants SET rec = json_set(rec, '$.at', '` + marker + `') WHERE team_id = 'T1'`, true, false},
	{"latest user of another user", `UPDATE tenants SET user_id = 'U2' WHERE team_id = 'T1'`, true, false},
	{"latest user not JSON", `UPDATE tenants SET user = '[` + marker + `' WHERE team_id = 'T1'`, true, false},
	{"bot not JSON", `UPDATE tenants SET bot = '{` + marker + `' WHERE team_id = 'T1'`, true, true},
	{"bot expiry a number", `UPDATE tenants SET bot = json_set(bot, '$.exp', 12) WHERE team_id = 'T1'`, true, true},
	{"bot ID malformed", `UPDATE tenants SET bot = json_set(bot, '$.id', 'B:1') WHERE team_id = 'T1'`, true, true},
	{"user rec not JSON", `UPDATE users SET rec = '` + marker + `' WHERE team_id = 'T1'`, false, true},
	{"user doc of another user", `UPDATE users SET user = json_set(user, '$.id', 'U9') WHERE team_id = 'T1'`, false, true},
	{"user scopes not a list", `UPDATE users SET user = json_set(user, '$.scopes', '` + marker + `') WHERE team_id = 'T1'`, false, true},
	{"user rec of another enterprise", `UPDATE users SET rec = json_set(rec, '$.ent', 'E9') WHERE team_id = 'T1'`, false, true},
}

func TestCorruptRowsAreContained(t *testing.T) {
	ctx := context.Background()
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			s, path := open(t, sqlite.WithPlaintextSecrets())
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "b")))
			rawExec(t, path, c.sql)

			// Fetch: ErrCorrupt, naming the record, never its content, never transient.
			for _, q := range []installstore.Query{{TeamID: "T1"}, {TeamID: "T1", UserID: "U1"}} {
				broken := c.latest
				if q.UserID != "" {
					broken = c.usr
				}
				got, err := s.FetchInstallation(ctx, q)
				if !broken {
					require.NoError(t, err, "%+v still decodes", q)
					continue
				}
				require.ErrorIs(t, err, installstore.ErrCorrupt, "%+v", q)
				require.Nil(t, got)
				require.False(t, errors.Is(err, installstore.ErrUnavailable) || errors.Is(err, installstore.ErrNotFound))
				require.NotContains(t, err.Error(), marker)
				require.Contains(t, err.Error(), "tenant T1")
			}

			// Listing: every other record, and a report naming what was skipped.
			seen := map[installstore.Query]bool{}
			err := s.ListInstallations(ctx, func(q installstore.Query, _ *installstore.Installation) error {
				seen[q] = true
				return nil
			})
			require.ErrorIs(t, err, installstore.ErrCorrupt)
			require.NotContains(t, err.Error(), marker)
			want := 0
			for _, bad := range []bool{c.latest, c.usr} {
				if bad {
					want++
				}
			}
			n, complete := installstore.CountSkipped(err)
			require.True(t, complete)
			require.Equal(t, want, n, "each skipped record is counted once")
			require.True(t, seen[installstore.Query{TeamID: "T2"}] && seen[installstore.Query{TeamID: "T2", UserID: "U1"}])
			require.Equal(t, !c.latest, seen[installstore.Query{TeamID: "T1"}])
			require.Equal(t, !c.usr, seen[installstore.Query{TeamID: "T1", UserID: "U1"}])

			// The due index still lists it (it is metadata): a refresher fetches and sees ErrCorrupt.
			due := map[installstore.Query]bool{}
			require.NoError(t, s.ListDue(ctx, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), func(q installstore.Query, _ time.Time) error {
				due[q] = true
				return nil
			}))
			require.True(t, due[installstore.Query{TeamID: "T2"}])

			// A re-install by the same user replaces every broken row.
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "healed")))
			got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
			require.NoError(t, err)
			require.Equal(t, "xoxb-test-T1-healed", got.Bot.Token.Reveal())
			require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }))

			// Deleting works whatever the rows hold: the bot, conditionally
			// (a stale version loses, the stored one wins), the user, the tenant.
			rawExec(t, path, c.sql)
			require.NoError(t, s.DeleteBot(ctx, installstore.Query{TeamID: "T1"}))
			v := rawVersion(t, path, "T1")
			require.ErrorIs(t, s.DeleteInstallationIf(ctx, installstore.Query{TeamID: "T1"}, v-1), installstore.ErrConflict)
			require.NoError(t, s.DeleteInstallationIf(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}, v))
			for _, q := range []installstore.Query{{TeamID: "T1"}, {TeamID: "T1", UserID: "U1"}} {
				_, err := s.FetchInstallation(ctx, q)
				require.ErrorIs(t, err, installstore.ErrNotFound, "no bot and no user token left: the tenant is gone (%+v)", q)
			}
			require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }))

			rawExec(t, path, c.sql) // a no-op now: nothing of T1 is left to break
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "again")))
			rawExec(t, path, c.sql)
			require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
			_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
			require.ErrorIs(t, err, installstore.ErrNotFound)
			require.Equal(t, 0, rawCount(t, path, "SELECT count(*) FROM users WHERE team_id = 'T1'"))
			require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }))
		})
	}
}

// A row whose key is not made of valid IDs cannot be addressed through the
// API; listings skip it and say so without quoting it.
func TestMalformedKeysAreReported(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, sqlite.WithPlaintextSecrets())
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	rawExec(t, path,
		`INSERT INTO tenants (enterprise_id, team_id, version, rec, bot_due) SELECT '', 'T:`+marker+`', 1, rec, 5 FROM tenants WHERE team_id = 'T1'`,
		`INSERT INTO users (enterprise_id, team_id, user_id, rec, user, due) SELECT '', 'T1', 'U:`+marker+`', rec, user, 5 FROM users WHERE team_id = 'T1'`)
	var listed int
	err := s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { listed++; return nil })
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.NotContains(t, err.Error(), marker)
	require.Contains(t, err.Error(), "skipped 2 records")
	require.Equal(t, 2, listed)
	var due int
	err = s.ListDue(ctx, time.Unix(0, 10), func(installstore.Query, time.Time) error { due++; return nil })
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.NotContains(t, err.Error(), marker)
	require.Zero(t, due)
}

func rawVersion(t testing.TB, path, team string) int64 {
	t.Helper()
	return int64(rawCount(t, path, "SELECT version FROM tenants WHERE enterprise_id = '' AND team_id = '"+team+"'"))
}
