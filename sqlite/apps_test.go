package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

func TestWithClientIDRefusesBadIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ids.db")
	for _, id := range []string{"", "has space", "a/b", "x:y", string(make([]byte, 65))} {
		_, err := sqlite.Open(ctx, path, sqlite.WithClientID(id))
		require.ErrorIs(t, err, installstore.ErrInvalid, "%q", id)
	}
	require.Equal(t, "1234567890.0987654321", openAt(t, path, sqlite.WithClientID("1234567890.0987654321")).ClientID())
	require.Empty(t, openAt(t, path).ClientID())
}

// TestAppsShareOneFile: two apps and an unscoped store on one file, the same
// tenant IDs in each. Each fetches, lists, lists as due, deletes, consumes,
// leases and lists history of its own only, and every row says whose it is.
func TestAppsShareOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "apps.db")
	ids := []string{"1111.2222", "3333.4444", ""}
	stores := make([]*sqlite.Store, len(ids))
	now := time.Now()
	for i, id := range ids {
		opts := []sqlite.Option{sqlite.WithPlaintextSecrets(), sqlite.WithHistory()}
		if id != "" {
			opts = append(opts, sqlite.WithClientID(id))
		}
		s := openAt(t, path, opts...)
		stores[i] = s
		tag := "app" + string(rune('A'+i))
		for _, team := range []string{"T1", "T2"} {
			inst := storetest.Fixture("", team, "U1", tag)
			inst.Bot.ExpiresAt = now.Add(time.Duration(i+1) * time.Minute)
			require.NoError(t, s.StoreInstallation(ctx, inst))
		}
		require.NoError(t, s.PutNonce(ctx, "state-1", now.Add(time.Hour)))
		require.NoError(t, s.AcquireLease(ctx, "refresh:T1", tag, time.Minute))
	}
	for _, table := range []string{"tenants", "users", "history", "nonces", "leases"} {
		require.Equal(t, ",1111.2222,3333.4444", rawString(t, path, "SELECT group_concat(app) FROM (SELECT DISTINCT app FROM "+table+" ORDER BY app)"), table)
	}

	for i, s := range stores {
		tag := "app" + string(rune('A'+i))
		got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
		require.NoError(t, err)
		require.Contains(t, got.Bot.Token.Reveal(), tag)
		n := 0
		require.NoError(t, s.ListInstallations(ctx, func(_ installstore.Query, inst *installstore.Installation) error {
			require.Contains(t, inst.Bot.Token.Reveal(), tag)
			n++
			return nil
		}))
		require.Equal(t, 4, n, tag)
		due := 0
		require.NoError(t, s.ListDue(ctx, now.Add(time.Hour), func(_ installstore.Query, at time.Time) error {
			require.Equal(t, now.Add(time.Duration(i+1)*time.Minute).UnixNano(), at.UnixNano(), "%s lists its own due time", tag)
			due++
			return nil
		}))
		require.Equal(t, 2, due, tag)
		hs := storetest.History(t, s, installstore.Query{TeamID: "T1"})
		require.Len(t, hs, 1, tag)
		require.Contains(t, hs[0].Bot.Token.Reveal(), tag)
		require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld, tag)
	}

	a := stores[0]
	require.NoError(t, a.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.NoError(t, a.ConsumeNonce(ctx, "state-1"))
	require.NoError(t, a.ReleaseLease(ctx, "refresh:T1", "appA"))
	_, err := a.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.Empty(t, storetest.History(t, a, installstore.Query{TeamID: "T1"}))
	for i, s := range stores[1:] {
		tag := "app" + string(rune('B'+i))
		_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.NoError(t, err, tag)
		require.Len(t, storetest.History(t, s, installstore.Query{TeamID: "T1"}), 1, tag)
		require.NoError(t, s.ConsumeNonce(ctx, "state-1"), tag)
		require.ErrorIs(t, s.AcquireLease(ctx, "refresh:T1", "intruder", time.Minute), installstore.ErrLeaseHeld, tag)
	}
}
