package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/backup"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// sealed replaces every secret by a stand-in for a sealed value, as a
// backend below the encryption layer holds them.
func sealed(inst *installstore.Installation) *installstore.Installation {
	_ = inst.Secrets(func(field string, s *installstore.Secret) error {
		*s = installstore.Secret(installstore.SealedPrefix + "test-" + field + "-" + fmt.Sprint(len(s.Reveal())))
		return nil
	})
	return inst
}

func populate(t *testing.T, s installstore.Store) {
	t.Helper()
	ctx := context.Background()
	for i := range 20 {
		team := fmt.Sprintf("T%03d", i)
		require.NoError(t, s.StoreInstallation(ctx, sealed(storetest.Fixture("", team, "U1", "a"))))
		require.NoError(t, s.StoreInstallation(ctx, sealed(storetest.Fixture("", team, "U2", "b"))))
		if i%2 == 0 { // U1 installs again: the latest installer is U1
			require.NoError(t, s.StoreInstallation(ctx, sealed(storetest.Fixture("", team, "U1", "c"))))
		}
	}
	require.NoError(t, s.StoreInstallation(ctx, sealed(storetest.OrgFixture("E1", "U9", "org"))))
	require.NoError(t, s.StoreInstallation(ctx, sealed(storetest.Fixture("E1", "T900", "U9", "ws"))))
	// A tenant whose latest installer's tokens were revoked, and one without a bot.
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T001", UserID: "U2"}))
	require.NoError(t, s.(installstore.BotDeleter).DeleteBot(ctx, installstore.Query{TeamID: "T003"}))
}

func snapshot(t *testing.T, s installstore.Lister) map[installstore.Query]*installstore.Installation {
	t.Helper()
	out := map[installstore.Query]*installstore.Installation{}
	require.NoError(t, s.ListInstallations(context.Background(), func(q installstore.Query, inst *installstore.Installation) error {
		out[q] = inst
		return nil
	}))
	return out
}

func requireSameContents(t *testing.T, want, got map[installstore.Query]*installstore.Installation) {
	t.Helper()
	require.Len(t, got, len(want))
	for q, w := range want {
		g, ok := got[q]
		require.True(t, ok, "record %+v lost", q)
		storetest.Equal(t, w, g, "record %+v", q)
	}
}

func TestRoundTripLosesNothing(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	populate(t, src)
	var file bytes.Buffer
	n, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	want := snapshot(t, src)
	require.Equal(t, len(want), n)
	require.Equal(t, n, strings.Count(file.String(), "\n"))
	require.NotContains(t, file.String(), "xox", "no plaintext token in the backup")

	dst := memory.New()
	m, err := backup.Import(ctx, dst, bytes.NewReader(file.Bytes()))
	require.NoError(t, err)
	require.Equal(t, n, m)
	requireSameContents(t, want, snapshot(t, dst))

	// Idempotent: importing again changes no content.
	_, err = backup.Import(ctx, dst, bytes.NewReader(file.Bytes()))
	require.NoError(t, err)
	requireSameContents(t, want, snapshot(t, dst))
}

func TestImportRestoresLatestWhateverTheOrder(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	require.NoError(t, src.StoreInstallation(ctx, sealed(storetest.Fixture("", "T1", "U1", "a"))))
	require.NoError(t, src.StoreInstallation(ctx, sealed(storetest.Fixture("", "T1", "U2", "b"))))
	var file bytes.Buffer
	_, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(file.String()), "\n")
	// Put the latest record first, then the users (U2 last would make it latest by accident; U1 last is the trap).
	var latest, users []string
	for _, l := range lines {
		if strings.Contains(l, `"UserID":""`) {
			latest = append(latest, l)
		} else {
			users = append(users, l)
		}
	}
	require.Len(t, latest, 1)
	for _, order := range [][]string{append(append([]string{}, latest...), users...), append(append([]string{}, users...), latest...)} {
		for _, reversed := range []bool{false, true} {
			in := append([]string{}, order...)
			if reversed {
				for i, j := 0, len(in)-1; i < j; i, j = i+1, j-1 {
					in[i], in[j] = in[j], in[i]
				}
			}
			dst := memory.New()
			_, err := backup.Import(ctx, dst, strings.NewReader(strings.Join(in, "\n")+"\n"))
			require.NoError(t, err)
			got, err := dst.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
			require.NoError(t, err)
			require.Equal(t, "U2", got.User.ID, "the latest installer survives any order")
		}
	}
}

func TestExportRefusesPlaintext(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	require.NoError(t, src.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	var file bytes.Buffer
	_, err := backup.Export(ctx, src, &file)
	require.ErrorIs(t, err, backup.ErrPlaintext)
	require.NotContains(t, err.Error(), "xox")
	require.NotContains(t, file.String(), "xox")

	n, err := backup.Export(ctx, src, &file, backup.AllowPlaintext())
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func TestImportRejectsBadRecords(t *testing.T) {
	ctx := context.Background()
	cases := map[string]string{
		"not json":        `{"v":1,`,
		"wrong version":   `{"v":2,"query":{"TeamID":"T1"},"installation":{"team_id":"T1"}}`,
		"invalid query":   `{"v":1,"query":{},"installation":{"team_id":"T1"}}`,
		"tenant mismatch": `{"v":1,"query":{"TeamID":"T1"},"installation":{"team_id":"T2"}}`,
		"user mismatch":   `{"v":1,"query":{"TeamID":"T1","UserID":"U1"},"installation":{"team_id":"T1","user":{"id":"U2"}}}`,
		"bad id":          `{"v":1,"query":{"TeamID":"T1"},"installation":{"team_id":"T1","user":{"id":"U 1"}}}`,
	}
	for name, line := range cases {
		dst := memory.New()
		_, err := backup.Import(ctx, dst, strings.NewReader("\n"+line+"\n"))
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "line 2", name)
		require.Zero(t, dst.Len(), name)
	}
}

func FuzzImport(f *testing.F) {
	f.Add([]byte(`{"v":1,"query":{"TeamID":"T1","UserID":"U1"},"installation":{"team_id":"T1","user":{"id":"U1","token":"ivsealed:x"}}}`))
	f.Add([]byte(`{"v":1,"query":{"EnterpriseID":"E1","IsEnterpriseInstall":true},"installation":{"enterprise_id":"E1","is_enterprise_install":true,"bot":{"token":"ivsealed:y"}}}`))
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dst := memory.New()
		n, err := backup.Import(context.Background(), dst, bytes.NewReader(data))
		if err == nil && dst.Len() > n {
			t.Fatalf("imported %d records but holds %d tenants", n, dst.Len())
		}
	})
}

func Example() {
	ctx := context.Background()
	backend := memory.New() // below the encryption layer: holds sealed values
	_ = backend.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0001",
		Bot:    &installstore.Bot{Token: installstore.SealedPrefix + "stand-in"},
		User:   installstore.User{ID: "U0001"},
	})
	var file bytes.Buffer
	n, _ := backup.Export(ctx, backend, &file)
	restored := memory.New()
	m, _ := backup.Import(ctx, restored, &file)
	fmt.Println("exported", n, "imported", m)
	// Output: exported 2 imported 2
}

func TestProgressCountsUp(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	populate(t, src)
	var file bytes.Buffer
	var exported []int
	n, err := backup.Export(ctx, src, &file, backup.WithProgress(func(i int) { exported = append(exported, i) }))
	require.NoError(t, err)
	var imported []int
	_, err = backup.Import(ctx, memory.New(), &file, backup.WithProgress(func(i int) { imported = append(imported, i) }))
	require.NoError(t, err)
	for _, seq := range [][]int{exported, imported} {
		require.Len(t, seq, n)
		for i, v := range seq {
			require.Equal(t, i+1, v)
		}
	}
}
