package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/dynamotest"
)

// sameRecords checks that two tables hold the same records, sealed values
// byte for byte, apart from the Versions each table assigns.
func sameRecords(t *testing.T, want, got map[installstore.Query]*installstore.Installation) {
	t.Helper()
	require.Len(t, got, len(want))
	for q, w := range want {
		g, ok := got[q]
		require.True(t, ok, "record %+v missing", q)
		w, g = w.Clone(), g.Clone()
		require.Positive(t, g.Version)
		w.Version, g.Version = 0, 0
		require.True(t, w.InstalledAt.Equal(g.InstalledAt), "%+v", q)
		w.InstalledAt, g.InstalledAt = time.Time{}, time.Time{} // compared with Equal above
		var ws, gs []string
		_ = w.Secrets(func(_ string, s *installstore.Secret) error { ws = append(ws, s.Reveal()); return nil })
		_ = g.Secrets(func(_ string, s *installstore.Secret) error { gs = append(gs, s.Reveal()); return nil })
		require.Equal(t, ws, gs, "sealed values of %+v", q)
		require.Equal(t, w, g, "%+v", q)
	}
}

func TestExportImport(t *testing.T) {
	h := newHarness(t)
	keyRaw, keyB64 := h.localKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": keyRaw}, "k")
	require.NoError(t, err)
	h.seed(keys, fixtures()...)
	src := rawRecords(t, h.client, h.table)
	require.Len(t, src, 9)

	dir := t.TempDir()
	file := filepath.Join(dir, "backup.jsonl")
	r := h.run(h.env, "", "export", "-o", file)
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Empty(t, r.out)
	require.Contains(t, r.errOut, "exported 9 records and 0 history entries from table "+h.table)
	st, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	h.noSecret(string(data), "backup file")
	require.Equal(t, 9, strings.Count(string(data), "\n"))
	require.Contains(t, string(data), installstore.SealedPrefix)
	// A tenant's latest record and its installing user's are the same
	// installation, line for line: import stores both with one write.
	var latestT3, userT3 string
	for _, line := range strings.Split(string(data), "\n") {
		switch inst, _, _ := strings.Cut(line, `"installation":`); {
		case strings.Contains(line, `"TeamID":"T3","UserID":"",`):
			_, latestT3, _ = strings.Cut(line, inst)
		case strings.Contains(line, `"TeamID":"T3","UserID":"U5",`):
			_, userT3, _ = strings.Cut(line, inst)
		}
	}
	require.NotEmpty(t, latestT3)
	require.Equal(t, latestT3, userT3)
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temporary file left")

	// An existing file is kept unless -force.
	r = h.run(h.env, "", "export", "-o", file)
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "exists (use -force")
	r = h.run(h.env, "", "export", "-o", file, "-force")
	require.Equal(t, exitOK, r.code, r.errOut)

	// Import into a fresh table: nothing lost, sealed values identical.
	dst := dynamotest.NewTable(t, h.client)
	dstEnv := h.with(envTable, dst)
	r = h.run(dstEnv, "", "import", "-i", file, "-progress", "4")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, "imported 9 records and 0 history entries into table "+dst+"\n", r.out)
	require.Contains(t, r.errOut, "import: ")
	require.LessOrEqual(t, strings.Count(r.errOut, "import: "), 2, "each multiple of -progress once")
	sameRecords(t, src, rawRecords(t, h.client, dst))
	// The restored table opens with the same keys.
	r = h.run(h.with(envTable, dst, envLocalKeys, "k="+keyB64), "", "verify")
	require.Equal(t, exitOK, r.code, r.out)
	require.Contains(t, r.out, "9 ok, 0 failed")

	// Importing again changes nothing.
	r = h.run(dstEnv, "", "import", "-i", file)
	require.Equal(t, exitOK, r.code, r.errOut)
	sameRecords(t, src, rawRecords(t, h.client, dst))

	// stdout → stdin, into a third table.
	r = h.run(h.env, "", "export")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, 9, strings.Count(r.out, "\n"))
	third := dynamotest.NewTable(t, h.client)
	r2 := h.run(h.with(envTable, third), r.out, "import")
	require.Equal(t, exitOK, r2.code, r2.errOut)
	require.Contains(t, r2.out, "imported 9 records and 0 history entries")
	sameRecords(t, src, rawRecords(t, h.client, third))

	// A bad backup fails with exit 1 and a message.
	r = h.run(h.with(envTable, third), "{not json\n", "import")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "import into table "+third)
	r = h.run(h.env, "", "import", "-i", filepath.Join(dir, "missing.jsonl"))
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "no such file")
	// Export to a directory that does not exist fails.
	r = h.run(h.env, "", "export", "-o", filepath.Join(dir, "no", "such", "dir.jsonl"))
	require.Equal(t, exitFailure, r.code)
}
