package backendtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

// SeedHistoryUsers installs users U1 to U5 in turn into tenant T1 through
// s (history on), a minute apart: five history entries, U5's the newest.
func SeedHistoryUsers(t *testing.T, s installstore.Store) {
	t.Helper()
	base := storetest.Fixture("", "T1", "U1", "a").InstalledAt
	for i, user := range []string{"U1", "U2", "U3", "U4", "U5"} {
		inst := storetest.Fixture("", "T1", user, fmt.Sprint("n", i))
		inst.InstalledAt = base.Add(time.Duration(i) * time.Minute)
		require.NoError(t, s.StoreInstallation(context.Background(), inst))
	}
}

// CheckCorruptHistorySkipped checks T1's history after SeedHistoryUsers and
// the corruption of U2's, U3's and U4's entries: the decodable entries (U5,
// U1) are listed newest first, and the error is ErrCorrupt, counts the
// three skipped entries, names each one's user and holds no token.
func CheckCorruptHistorySkipped(t *testing.T, s installstore.History) {
	t.Helper()
	var users []string
	err := s.ListHistory(context.Background(), installstore.Query{TeamID: "T1"}, func(inst *installstore.Installation) error {
		users = append(users, inst.User.ID)
		return nil
	})
	require.Equal(t, []string{"U5", "U1"}, users, "the decodable entries, newest first")
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	n, complete := installstore.CountSkipped(err, installstore.ErrCorrupt)
	require.Equal(t, 3, n)
	require.True(t, complete)
	for _, u := range []string{"U2", "U3", "U4"} {
		require.Contains(t, err.Error(), "tenant T1 user "+u)
	}
	require.NotContains(t, err.Error(), "xox", "no token in the report")
}
