package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// TestDueIndexStaysBounded: rewriting the same tenants with moving expiries
// (what every refresh does) leaves at most about two heap entries per
// indexed tenant, and uninstalling them empties the index.
func TestDueIndexStaysBounded(t *testing.T) {
	ctx := context.Background()
	s := New()
	base := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10_000 {
		inst := &installstore.Installation{TeamID: []string{"T1", "T2", "T3"}[i%3],
			Bot:  &installstore.Bot{ID: "B1", Token: installstore.NewSecret("xoxb-test-due"), RefreshToken: installstore.NewSecret("xoxe-test-due"), ExpiresAt: base.Add(time.Duration(i) * time.Minute)},
			User: installstore.User{ID: "U1", Token: installstore.NewSecret("xoxp-test-due"), RefreshToken: installstore.NewSecret("xoxe-test-due-user"), ExpiresAt: base.AddDate(3, 0, 0)}}
		require.NoError(t, s.StoreInstallation(ctx, inst))
	}
	require.Equal(t, 3, s.due.indexed)
	require.LessOrEqual(t, len(s.due.entries), 2*3+64)

	n := 0
	require.NoError(t, s.ListDue(ctx, base.AddDate(5, 0, 0), func(_ installstore.Query, _ time.Time) error { n++; return nil }))
	require.Equal(t, 6, n, "three tenants, each a latest and a user record")

	for _, team := range []string{"T1", "T2", "T3"} {
		require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: team}))
	}
	require.Zero(t, s.due.indexed)
	n = 0
	require.NoError(t, s.ListDue(ctx, base.AddDate(5, 0, 0), func(_ installstore.Query, _ time.Time) error { n++; return nil }))
	require.Zero(t, n)
}
