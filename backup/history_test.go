package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/backup"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// at returns the fixture time plus n minutes: installs at distinct times
// are distinct history entries.
func at(n int) time.Time { return time.Date(2026, 11, 1, 12, n, 0, 0, time.UTC) }

// install stores a sealed fixture installed at at(n).
func install(t *testing.T, s installstore.Store, ent, team, user, tag string, n int) {
	t.Helper()
	inst := sealed(storetest.Fixture(ent, team, user, tag))
	inst.InstalledAt = at(n)
	inst.Bot.InstalledAt = time.Time{}
	require.NoError(t, s.StoreInstallation(context.Background(), inst))
}

// populateHistory gives s tenants with several installs each, a
// user-scopes-only reinstall (the bot keeps its own install time), an
// org-wide install, and a workspace that joined an Enterprise Grid
// organization (its standalone record is gone, its history kept).
func populateHistory(t *testing.T, s installstore.FullStore) {
	t.Helper()
	ctx := context.Background()
	for i := range 6 {
		team := fmt.Sprintf("T%03d", i)
		install(t, s, "", team, "U1", "a", 1)
		install(t, s, "", team, "U2", "b", 2)
		if i%2 == 0 {
			install(t, s, "", team, "U1", "c", 3)
		}
	}
	userOnly := sealed(storetest.Fixture("", "T000", "U3", "d"))
	userOnly.Bot, userOnly.InstalledAt = nil, at(4)
	require.NoError(t, s.StoreInstallation(ctx, userOnly))
	require.NoError(t, s.StoreInstallation(ctx, sealed(storetest.OrgFixture("E1", "U9", "org"))))
	install(t, s, "", "T777", "U7", "standalone", 5)
	install(t, s, "E1", "T777", "U7", "grid", 6) // supersedes the standalone T777
	_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T777"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "the standalone record is gone")
	require.Equal(t, 1, len(history(t, s)[installstore.Tenant{TeamID: "T777"}]), "the standalone history is kept")
}

// history returns every tenant's history entries, newest first, listing
// the tenants of s's records and the standalone forms of Grid workspaces.
func history(t *testing.T, s installstore.FullStore) map[installstore.Tenant][]*installstore.Installation {
	t.Helper()
	ctx := context.Background()
	out := map[installstore.Tenant][]*installstore.Installation{}
	list := func(q installstore.Query) {
		if _, done := out[q.Tenant()]; done {
			return
		}
		var entries []*installstore.Installation
		require.NoError(t, s.ListHistory(ctx, q, func(inst *installstore.Installation) error {
			entries = append(entries, inst)
			return nil
		}))
		if len(entries) > 0 {
			out[q.Tenant()] = entries
		}
	}
	for q := range snapshot(t, s) {
		q.UserID = ""
		list(q)
		if q.EnterpriseID != "" && q.TeamID != "" {
			list(installstore.Query{TeamID: q.TeamID})
		}
	}
	return out
}

func countEntries(h map[installstore.Tenant][]*installstore.Installation) int {
	n := 0
	for _, es := range h {
		n += len(es)
	}
	return n
}

func requireSameHistory(t *testing.T, want, got map[installstore.Tenant][]*installstore.Installation) {
	t.Helper()
	require.Len(t, got, len(want))
	for tenant, w := range want {
		g := got[tenant]
		require.Len(t, g, len(w), "history of %s", tenant)
		for i := range w {
			storetest.Equal(t, w[i], g[i], "history entry %d of %s", i, tenant)
		}
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := memory.New(memory.WithHistory())
	populateHistory(t, src)
	wantRecords, wantHistory := snapshot(t, src), history(t, src)

	var file bytes.Buffer
	st, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	require.Equal(t, backup.Stats{Records: len(wantRecords), History: countEntries(wantHistory)}, st)
	require.Equal(t, st.Lines(), strings.Count(file.String(), "\n"))
	require.Equal(t, st.History, strings.Count(file.String(), `"kind":"history"`))
	require.NotContains(t, file.String(), "xox", "history entries leave sealed")
	require.Contains(t, file.String(), `"kind":"history","query":{"EnterpriseID":"","TeamID":"T777"`, "the standalone history a Grid migration kept")

	for _, conc := range []int{1, 8} {
		dst := memory.New(memory.WithHistory())
		got, err := backup.Import(ctx, dst, bytes.NewReader(file.Bytes()), backup.WithConcurrency(conc))
		require.NoError(t, err)
		require.Equal(t, st, got)
		requireSameContents(t, wantRecords, snapshot(t, dst))
		requireSameHistory(t, wantHistory, history(t, dst))
		// The bot of T000 came with install 3, not with the user-only install 4.
		latest, err := dst.FetchInstallation(ctx, installstore.Query{TeamID: "T000"})
		require.NoError(t, err)
		require.Equal(t, "U3", latest.User.ID)
		require.True(t, latest.Bot.InstalledAt.Equal(at(3)), "Bot.InstalledAt is restored: %v", latest.Bot.InstalledAt)

		// Importing again leaves the same contents.
		_, err = backup.Import(ctx, dst, bytes.NewReader(file.Bytes()), backup.WithConcurrency(conc))
		require.NoError(t, err)
		requireSameContents(t, wantRecords, snapshot(t, dst))
		requireSameHistory(t, wantHistory, history(t, dst))
	}
}

func TestImportOfHistoryIntoAStoreWithout(t *testing.T) {
	ctx := context.Background()
	src := memory.New(memory.WithHistory())
	populateHistory(t, src)
	var file bytes.Buffer
	st, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	require.NotZero(t, st.History)

	dst := memory.New()
	_, err = backup.Import(ctx, dst, bytes.NewReader(file.Bytes()))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorContains(t, err, fmt.Sprintf("the backup holds %d history entries", st.History))
	require.ErrorContains(t, err, "SkipHistory")
	require.ErrorContains(t, err, "nothing was written")
	require.Zero(t, dst.Len())

	got, err := backup.Import(ctx, dst, bytes.NewReader(file.Bytes()), backup.SkipHistory())
	require.NoError(t, err)
	require.Equal(t, backup.Stats{Records: st.Records}, got)
	requireSameContents(t, snapshot(t, src), snapshot(t, dst))
}

func TestImportOfAVersion1Backup(t *testing.T) {
	ctx := context.Background()
	in := `{"v":1,"query":{"TeamID":"T1","UserID":""},"installation":{"team_id":"T1","bot":{"token":"ivsealed:x"},"user":{"id":"U1"},"installed_at":"2026-01-01T00:00:00Z"}}
{"v":1,"query":{"TeamID":"T1","UserID":"U1"},"installation":{"team_id":"T1","bot":{"token":"ivsealed:x"},"user":{"id":"U1"},"installed_at":"2026-01-01T00:00:00Z"}}
`
	for _, dst := range []*memory.Store{memory.New(), memory.New(memory.WithHistory())} {
		st, err := backup.Import(ctx, dst, strings.NewReader(in))
		require.NoError(t, err)
		require.Equal(t, backup.Stats{Records: 2}, st)
		got, err := dst.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
		require.True(t, got.Bot.InstalledAt.Equal(got.InstalledAt), "a version 1 backup has no bot install time: the store sets the installation's")
	}
}

// historyFaults is a store with history whose ListHistory reports entries
// of some tenants skipped as corrupt, or fails for one.
type historyFaults struct {
	*memory.Store
	corrupt map[string]bool // tenant keys whose listing skips one entry
	down    string          // tenant key whose listing fails
}

func (h historyFaults) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	key := q.Tenant().Key()
	if key == h.down {
		return fmt.Errorf("memory: list history of tenant %s: %w", q.Tenant(), installstore.ErrUnavailable)
	}
	if err := h.Store.ListHistory(ctx, q, fn); err != nil {
		return err
	}
	if h.corrupt[key] {
		return fmt.Errorf("memory: list history of tenant %s: entry of user U0 at 2026-11-01T12:00:00Z: %w", q.Tenant(), installstore.ErrCorrupt)
	}
	return nil
}

func TestExportGoesPastCorruptHistory(t *testing.T) {
	ctx := context.Background()
	src := memory.New(memory.WithHistory())
	populateHistory(t, src)
	want := history(t, src)
	var file bytes.Buffer
	st, err := backup.Export(ctx, historyFaults{Store: src, corrupt: map[string]bool{":T001": true, ":T002": true}}, &file)
	var skipped *backup.SkippedError
	require.ErrorAs(t, err, &skipped)
	require.Equal(t, 0, skipped.Records)
	require.Equal(t, 2, skipped.History)
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.ErrorContains(t, err, "0 records and 2 history entries skipped, not in the backup")
	require.ErrorContains(t, err, "history of tenant T001")
	require.Equal(t, countEntries(want), st.History, "every other entry is in the backup")
}

func TestExportStopsWhenHistoryCannotBeRead(t *testing.T) {
	ctx := context.Background()
	src := memory.New(memory.WithHistory())
	populateHistory(t, src)
	var file bytes.Buffer
	_, err := backup.Export(ctx, historyFaults{Store: src, down: ":T003"}, &file)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.ErrorContains(t, err, "history of tenant T003")
	var skipped *backup.SkippedError
	require.False(t, errors.As(err, &skipped), "a backup without a tenant's history is not complete")
}

// noHistory is a store that implements no history at all.
type noHistory struct{ installstore.Store }

func TestImportOfHistoryIntoAStoreThatCannotKeepIt(t *testing.T) {
	ctx := context.Background()
	src := memory.New(memory.WithHistory())
	populateHistory(t, src)
	var file bytes.Buffer
	_, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	inner := memory.New(memory.WithHistory())
	_, err = backup.Import(ctx, noHistory{inner}, bytes.NewReader(file.Bytes()))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorContains(t, err, "keeps no installation history")
	require.Zero(t, inner.Len())
}

// TestImportKeepsAStandaloneRecordBesideItsEnterprise: a source can hold a
// team both as a workspace of an enterprise and standalone (the standalone
// one stored after); restoring the enterprise's record must not supersede
// the standalone one, whatever the order of the file.
func TestImportKeepsAStandaloneRecordBesideItsEnterprise(t *testing.T) {
	ctx := context.Background()
	src := memory.New(memory.WithHistory())
	install(t, src, "E1", "T5", "U1", "grid", 1)
	install(t, src, "", "T5", "U2", "standalone", 2) // stored after: both are kept
	install(t, src, "", "T6", "U1", "other", 3)
	want := snapshot(t, src)
	require.Len(t, want, 6)
	var file bytes.Buffer
	_, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	lines := strings.SplitAfter(strings.TrimSpace(file.String()), "\n")
	for _, reversed := range []bool{false, true} {
		in := slices.Clone(lines)
		slices.SortFunc(in, func(a, b string) int { // the standalone T5 first, or last
			const standalone = `"query":{"EnterpriseID":"","TeamID":"T5"`
			sa, sb := strings.Contains(a, standalone), strings.Contains(b, standalone)
			switch {
			case sa == sb:
				return 0
			case sa != reversed:
				return -1
			}
			return 1
		})
		for _, conc := range []int{1, 8} {
			dst := memory.New(memory.WithHistory())
			_, err := backup.Import(ctx, dst, strings.NewReader(strings.Join(in, "\n")+"\n"), backup.WithConcurrency(conc))
			require.NoError(t, err)
			requireSameContents(t, want, snapshot(t, dst))
			requireSameHistory(t, history(t, src), history(t, dst))
		}
	}
}
