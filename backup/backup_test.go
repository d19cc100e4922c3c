package backup_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/audit"
	"github.com/installvault/installvault/backup"
	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/residency"
)

// sealed replaces every secret by a stand-in for a sealed value, as a
// backend below the encryption layer holds them.
func sealed(inst *installstore.Installation) *installstore.Installation {
	_ = inst.Secrets(func(field string, s *installstore.Secret) error {
		*s = installstore.NewSecret(installstore.SealedPrefix + "test-" + field + "-" + fmt.Sprint(len(s.Reveal())))
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
	require.NoError(t, s.(installstore.FullStore).DeleteBot(ctx, installstore.Query{TeamID: "T003"}))
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
	st, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	n := st.Records
	want := snapshot(t, src)
	require.Equal(t, len(want), n)
	require.Zero(t, st.History, "memory keeps no history unless WithHistory")
	require.Equal(t, n, strings.Count(file.String(), "\n"))
	require.NotContains(t, file.String(), "xox", "no plaintext token in the backup")

	dst := memory.New()
	m, err := backup.Import(ctx, dst, bytes.NewReader(file.Bytes()))
	require.NoError(t, err)
	require.Equal(t, st, m)
	requireSameContents(t, want, snapshot(t, dst))

	// In parallel: the same contents.
	par := memory.New()
	m, err = backup.Import(ctx, par, bytes.NewReader(file.Bytes()), backup.WithConcurrency(8))
	require.NoError(t, err)
	require.Equal(t, st, m)
	requireSameContents(t, want, snapshot(t, par))

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
			for _, conc := range []int{1, 8} {
				dst := memory.New()
				_, err := backup.Import(ctx, dst, strings.NewReader(strings.Join(in, "\n")+"\n"), backup.WithConcurrency(conc))
				require.NoError(t, err)
				got, err := dst.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
				require.NoError(t, err)
				require.Equal(t, "U2", got.User.ID, "the latest installer survives any order")
			}
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

	st, err := backup.Export(ctx, src, &file, backup.AllowPlaintext())
	require.NoError(t, err)
	require.Equal(t, backup.Stats{Records: 2}, st)
}

func TestImportRejectsBadRecords(t *testing.T) {
	ctx := context.Background()
	cases := map[string]string{
		"not json":         `{"v":1,`,
		"wrong version":    `{"v":3,"kind":"record","query":{"TeamID":"T1"},"installation":{"team_id":"T1"}}`,
		"no kind":          `{"v":2,"query":{"TeamID":"T1"},"installation":{"team_id":"T1"}}`,
		"unknown kind":     `{"v":2,"kind":"nonce","query":{"TeamID":"T1"},"installation":{"team_id":"T1"}}`,
		"kind in v1":       `{"v":1,"kind":"history","query":{"TeamID":"T1"},"installation":{"team_id":"T1","installed_at":"2026-01-01T00:00:00Z"}}`,
		"history, no time": `{"v":2,"kind":"history","query":{"TeamID":"T1"},"installation":{"team_id":"T1"}}`,
		"history, user":    `{"v":2,"kind":"history","query":{"TeamID":"T1"},"installation":{"team_id":"T1","user":{"id":"U1"},"installed_at":"2026-01-01T00:00:00Z"}}`,
		"history, tenant":  `{"v":2,"kind":"history","query":{"TeamID":"T1"},"installation":{"team_id":"T2","installed_at":"2026-01-01T00:00:00Z"}}`,
		"invalid query":    `{"v":1,"query":{},"installation":{"team_id":"T1"}}`,
		"tenant mismatch":  `{"v":1,"query":{"TeamID":"T1"},"installation":{"team_id":"T2"}}`,
		"user mismatch":    `{"v":1,"query":{"TeamID":"T1","UserID":"U1"},"installation":{"team_id":"T1","user":{"id":"U2"}}}`,
		"bad id":           `{"v":1,"query":{"TeamID":"T1"},"installation":{"team_id":"T1","user":{"id":"U 1"}}}`,
	}
	for name, line := range cases {
		dst := memory.New()
		_, err := backup.Import(ctx, dst, strings.NewReader("\n"+line+"\n"))
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "line 2", name)
		require.Zero(t, dst.Len(), name)
	}
}

func TestImportValidatesTheWholeFileFirst(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	populate(t, src)
	var file bytes.Buffer
	_, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	good := file.String()
	for name, in := range map[string]string{
		"bad last line":     good + `{"v":1,"query":{"TeamID":"T1"},"installation":{"team_id":"T2"}}` + "\n",
		"truncated":         good[:len(good)-30],
		"two bad lines":     "{\n" + good + "[]\n",
		"a line too long":   good + strings.Repeat("x", 1<<20+1) + "\n",
		"not a backup file": "hello\n",
	} {
		t.Run(name, func(t *testing.T) {
			dst := memory.New()
			st, err := backup.Import(ctx, dst, strings.NewReader(in))
			require.Error(t, err)
			require.Contains(t, err.Error(), "nothing written")
			require.Zero(t, st)
			require.Zero(t, dst.Len(), "nothing written")
		})
	}
	_, err = backup.Import(ctx, memory.New(), strings.NewReader("{\n"+good+"[]\n"))
	require.ErrorContains(t, err, "2 bad lines of")
	require.ErrorContains(t, err, "line 1:")
	require.ErrorContains(t, err, fmt.Sprintf("line %d:", strings.Count(good, "\n")+2))
}

func TestImportRefusesEmptyInput(t *testing.T) {
	for _, in := range []string{"", "\n\n", "\r\n"} {
		_, err := backup.Import(context.Background(), memory.New(), strings.NewReader(in))
		require.ErrorIs(t, err, installstore.ErrInvalid, "%q", in)
		require.ErrorContains(t, err, "no records")
	}
}

// unreadable fails every read, as a missing table does.
type unreadable struct{ *memory.Store }

func (unreadable) FetchInstallation(context.Context, installstore.Query) (*installstore.Installation, error) {
	return nil, errors.New("dynamo: fetch: ResourceNotFoundException: table not found")
}

func TestImportRefusesATargetThatDoesNotAnswer(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	populate(t, src)
	var file bytes.Buffer
	_, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	dst := unreadable{memory.New()}
	_, err = backup.Import(ctx, dst, &file)
	require.ErrorContains(t, err, "does not answer a read, nothing was written")
	require.ErrorContains(t, err, "table not found")
	require.Zero(t, dst.Len())
}

func TestImportFromAReaderThatCannotSeek(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	populate(t, src)
	var file bytes.Buffer
	n, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write(file.Bytes()); pw.Close() }()
	dst := memory.New()
	m, err := backup.Import(ctx, dst, bufio.NewReader(pr))
	require.NoError(t, err)
	require.Equal(t, n, m)
	requireSameContents(t, snapshot(t, src), snapshot(t, dst))
}

func newKeyring(t *testing.T) crypto.KeyProvider {
	t.Helper()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": bytes.Repeat([]byte{7}, 32)}, "k")
	require.NoError(t, err)
	return keys
}

func TestExportReadsBelowTheEncryptionLayerAndImportRefusesIt(t *testing.T) {
	ctx := context.Background()
	keys := newKeyring(t)
	backend := memory.New()
	sealedStore, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)
	audited, err := audit.NewStore(sealedStore, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	for i := range 5 {
		require.NoError(t, audited.StoreInstallation(ctx, storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "a")))
	}

	// The whole stack is given: records leave sealed, read from the backend.
	var file bytes.Buffer
	st, err := backup.Export(ctx, audited, &file)
	require.NoError(t, err)
	require.Equal(t, backup.Stats{Records: 10}, st)
	require.Contains(t, file.String(), installstore.SealedPrefix)
	require.NotContains(t, file.String(), "xox")

	// Restoring through an encryption layer is refused, writing nothing.
	target := memory.New()
	into, err := crypto.NewStore(target, keys)
	require.NoError(t, err)
	for _, dst := range []installstore.Store{into, audited} {
		_, err = backup.Import(ctx, dst, bytes.NewReader(file.Bytes()))
		require.ErrorIs(t, err, installstore.ErrInvalid)
		require.ErrorContains(t, err, "restore to the backend below the encryption layer")
	}
	require.Zero(t, target.Len())

	// Restored below it, the records open with the same keys.
	_, err = backup.Import(ctx, target, bytes.NewReader(file.Bytes()))
	require.NoError(t, err)
	got, err := into.FetchInstallation(ctx, installstore.Query{TeamID: "T3", UserID: "U1"})
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-T3-a", got.Bot.Token.Reveal())
}

func TestExportOfRegionsWithTheirOwnKeys(t *testing.T) {
	ctx := context.Background()
	eu, us := memory.New(), memory.New()
	euSealed, err := crypto.NewStore(eu, newKeyring(t))
	require.NoError(t, err)
	usSealed, err := crypto.NewStore(us, newKeyring(t))
	require.NoError(t, err)
	routed, err := residency.NewStore(func(t installstore.Tenant) (string, error) {
		switch t.TeamID {
		case "TEU1", "TEU2":
			return "eu", nil
		}
		return "us", nil
	}, map[string]installstore.FullStore{"eu": euSealed, "us": usSealed}, residency.WithHomeRegion("us"))
	require.NoError(t, err)
	for _, team := range []string{"TEU1", "TEU2", "TUS1"} {
		require.NoError(t, routed.StoreInstallation(ctx, storetest.Fixture("", team, "U1", "a")))
	}
	var file bytes.Buffer
	st, err := backup.Export(ctx, routed, &file)
	require.NoError(t, err)
	require.Equal(t, 6, st.Records, "every region")
	require.Equal(t, 4, strings.Count(file.String(), `"team_id":"TEU`), "eu's records")
	require.NotContains(t, file.String(), "xox")
	_, err = backup.Import(ctx, routed, bytes.NewReader(file.Bytes()))
	require.ErrorIs(t, err, installstore.ErrInvalid, "a router over encryption layers is refused too")
}

// corrupt lists its inner store and reports records skipped as corrupt.
type corrupt struct {
	*memory.Store
	bad []string
}

func (c corrupt) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	if err := c.Store.ListInstallations(ctx, fn); err != nil {
		return err
	}
	var errs []error
	for _, b := range c.bad {
		errs = append(errs, fmt.Errorf("memory: list tenant %s: %w", b, installstore.ErrCorrupt))
	}
	return errors.Join(errs...)
}

func TestExportGoesPastCorruptRecords(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	populate(t, src)
	want := snapshot(t, src)
	var file bytes.Buffer
	st, err := backup.Export(ctx, corrupt{src, []string{":T0BAD1", "E1:T0BAD2"}}, &file)
	var skipped *backup.SkippedError
	require.ErrorAs(t, err, &skipped)
	require.Equal(t, 2, skipped.Records)
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.ErrorContains(t, err, "2 records skipped, not in the backup")
	require.ErrorContains(t, err, "E1:T0BAD2")
	require.Equal(t, len(want), st.Records, "every other record is in the backup")
	dst := memory.New()
	_, err = backup.Import(ctx, dst, &file)
	require.NoError(t, err)
	requireSameContents(t, want, snapshot(t, dst))
}

// halfway lists some records, then fails transiently.
type halfway struct{ *memory.Store }

func (h halfway) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	n := 0
	errStop := errors.New("stop")
	err := h.Store.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		if n++; n > 3 {
			return errStop
		}
		return fn(q, inst)
	})
	if errors.Is(err, errStop) {
		return fmt.Errorf("dynamo: list (scan): %w", installstore.ErrUnavailable)
	}
	return err
}

func TestExportThatStopsIsAFailure(t *testing.T) {
	src := memory.New()
	populate(t, src)
	st, err := backup.Export(context.Background(), halfway{src}, io.Discard)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.ErrorContains(t, err, "the listing failed after 3 records")
	var skipped *backup.SkippedError
	require.False(t, errors.As(err, &skipped))
	require.Equal(t, 3, st.Records)
}

func FuzzImport(f *testing.F) {
	f.Add([]byte(`{"v":1,"query":{"TeamID":"T1","UserID":"U1"},"installation":{"team_id":"T1","user":{"id":"U1","token":"ivsealed:x"}}}`))
	f.Add([]byte(`{"v":1,"query":{"EnterpriseID":"E1","IsEnterpriseInstall":true},"installation":{"enterprise_id":"E1","is_enterprise_install":true,"bot":{"token":"ivsealed:y"}}}`))
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dst := memory.New()
		n, err := backup.Import(context.Background(), dst, bytes.NewReader(data))
		if err == nil && dst.Len() > n.Records {
			t.Fatalf("imported %d records but holds %d tenants", n, dst.Len())
		}
	})
}

func Example() {
	ctx := context.Background()
	backend := memory.New() // below the encryption layer: holds sealed values
	if err := backend.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0001",
		Bot:    &installstore.Bot{Token: installstore.NewSecret(installstore.SealedPrefix + "stand-in")},
		User:   installstore.User{ID: "U0001"},
	}); err != nil {
		fmt.Println(err)
		return
	}
	var file bytes.Buffer
	n, err := backup.Export(ctx, backend, &file) // or the whole stack: Export reads below its encryption layers
	if err != nil {
		fmt.Println(err)
		return
	}
	restored := memory.New() // the backend below the encryption layer, never the crypto.Store
	m, err := backup.Import(ctx, restored, bytes.NewReader(file.Bytes()))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("exported", n, "- imported", m)
	// Output: exported 2 records, 0 history entries - imported 2 records, 0 history entries
}

func TestProgressCountsUp(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	populate(t, src)
	var file bytes.Buffer
	var exported []int
	st, err := backup.Export(ctx, src, &file, backup.WithProgress(func(i int) { exported = append(exported, i) }))
	require.NoError(t, err)
	require.Len(t, exported, st.Lines(), "one call per line written")
	for i, v := range exported {
		require.Equal(t, i+1, v)
	}
	var imported []int
	_, err = backup.Import(ctx, memory.New(), &file, backup.WithProgress(func(i int) { imported = append(imported, i) }))
	require.NoError(t, err)
	// One call per write: a write of a tenant's latest record also restores
	// the identical record of its installing user.
	require.NotEmpty(t, imported)
	require.Less(t, len(imported), st.Lines())
	require.Equal(t, st.Lines(), imported[len(imported)-1])
	require.True(t, slices.IsSorted(imported))
}

// counting counts the writes an import makes.
type counting struct {
	*memory.Store
	writes int
}

func (c *counting) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	c.writes++
	return c.Store.StoreInstallation(ctx, inst)
}

func TestImportWritesEachTenantOnceWhenItsUserIsItsLatest(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	for i := range 10 {
		require.NoError(t, src.StoreInstallation(ctx, sealed(storetest.Fixture("", fmt.Sprintf("T%d", i), "U1", "a"))))
	}
	require.NoError(t, src.StoreInstallation(ctx, sealed(storetest.Fixture("", "T0", "U2", "b")))) // T0: U1's record differs from the latest
	var file bytes.Buffer
	st, err := backup.Export(ctx, src, &file)
	require.NoError(t, err)
	require.Equal(t, 21, st.Records)
	dst := &counting{Store: memory.New()}
	got, err := backup.Import(ctx, dst, &file)
	require.NoError(t, err)
	require.Equal(t, st, got, "every record counted")
	require.Equal(t, 11, dst.writes, "one write per tenant, and one more for T0's U1")
	requireSameContents(t, snapshot(t, src), snapshot(t, dst.Store))
}
