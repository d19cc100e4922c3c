package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/internal/redistest"
	"github.com/installvault/installvault/internal/storeurl"
)

// backend makes fresh, empty stores of one kind and returns their URLs.
type backend struct {
	name string
	// fresh returns the URL of a new store, and whether create-table must
	// make it first (a PostgreSQL schema, a SQLite file).
	fresh func(t *testing.T) (u string, needsCreate bool)
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t *testing.T) (string, bool) {
			return "sqlite:" + filepath.Join(t.TempDir(), "installs.db"), true
		}},
		{"postgres", func(t *testing.T) (string, bool) {
			u := pgtest.URL(t)
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			return u + sep + "search_path=" + pgtest.NewSchemaUnmigrated(t), true
		}},
		{"redis", func(t *testing.T) (string, bool) {
			return "redis://" + redistest.Addr(t) + "/0?prefix=" + redistest.Prefix(t, redistest.Client(t)), false
		}},
		{"redis-cluster", func(t *testing.T) (string, bool) {
			return "redis-cluster://" + strings.Join(redistest.ClusterAddrs(t), ",") + "?prefix=" + redistest.Prefix(t, redistest.ClusterClient(t)), false
		}},
	}
}

// storeHarness is a harness whose store is a URL; its password, if any,
// counts as a secret no output may hold.
func storeHarness(t *testing.T, u string) *harness {
	h := &harness{t: t, env: map[string]string{envStore: u}}
	if pu, err := url.Parse(u); err == nil {
		if pw, ok := pu.User.Password(); ok {
			h.secrets = append(h.secrets, pw)
		}
	}
	return h
}

// seedURL stores insts into the store at u through crypto with keys.
func (h *harness) seedURL(u string, keys crypto.KeyProvider, insts ...*installstore.Installation) {
	h.t.Helper()
	raw, closeFn, err := storeurl.Open(context.Background(), u, storeurl.Options{})
	require.NoError(h.t, err)
	defer func() { require.NoError(h.t, closeFn()) }()
	s, err := crypto.NewStore(raw, keys)
	require.NoError(h.t, err)
	for _, inst := range insts {
		h.remember(inst)
		require.NoError(h.t, s.StoreInstallation(context.Background(), inst.Clone()))
	}
}

// rawRecordsURL lists the store at u below the encryption layer.
func rawRecordsURL(t *testing.T, u string) map[installstore.Query]*installstore.Installation {
	t.Helper()
	raw, closeFn, err := storeurl.Open(context.Background(), u, storeurl.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, closeFn()) }()
	recs := make(map[installstore.Query]*installstore.Installation)
	require.NoError(t, raw.ListInstallations(context.Background(), func(q installstore.Query, inst *installstore.Installation) error {
		recs[q] = inst
		return nil
	}))
	return recs
}

// listJSON runs list -json and returns its rows.
func (h *harness) listJSON(env map[string]string) []listRow {
	h.t.Helper()
	r := h.run(env, "", "list", "-json")
	require.Equal(h.t, exitOK, r.code, r.errOut)
	var rows []listRow
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		if line == "" {
			continue
		}
		var row listRow
		require.NoError(h.t, json.Unmarshal([]byte(line), &row))
		rows = append(rows, row)
	}
	return rows
}

// create-table, list, verify, export, import and purge on every store
// other than DynamoDB, through -store and INSTALLVAULT_STORE.
func TestStoresRoundTrip(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			src, needsCreate := b.fresh(t)
			h := storeHarness(t, src)
			if needsCreate {
				// Nothing but create-table makes a schema or file.
				r := h.run(h.env, "", "list")
				require.Equal(t, exitFailure, r.code, r.errOut)
				require.Contains(t, r.errOut, "create it with 'installvault create-table'")
				if b.name == "sqlite" {
					_, err := os.Stat(strings.TrimPrefix(src, "sqlite:"))
					require.ErrorIs(t, err, os.ErrNotExist, "list made no file")
				}
			}
			r := h.run(map[string]string{}, "", "create-table", "-store", src)
			require.Equal(t, exitOK, r.code, r.errOut)
			r = h.run(h.env, "", "create-table") // idempotent for these stores
			require.Equal(t, exitOK, r.code, r.errOut)

			r = h.run(h.env, "", "list")
			require.Equal(t, exitOK, r.code, r.errOut)
			require.Contains(t, r.out, "0 records, 0 tenants")

			keyRaw, keyB64 := h.localKey()
			keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": keyRaw}, "k")
			require.NoError(t, err)
			h.seedURL(src, keys, fixtures()...)
			want := rawRecordsURL(t, src)
			require.Len(t, want, 9)

			rows := h.listJSON(h.env)
			require.Len(t, rows, 9)
			for _, row := range rows {
				require.Contains(t, row.Keys, "local:k", "%+v", row)
			}
			withKeys := h.with(envLocalKeys, "k="+keyB64)
			r = h.run(withKeys, "", "verify")
			require.Equal(t, exitOK, r.code, r.errOut)
			require.Equal(t, "verified 9 records: 9 ok, 0 failed, 0 gone; history off\n", r.out)

			file := filepath.Join(t.TempDir(), "backup.jsonl")
			r = h.run(h.env, "", "export", "-o", file)
			require.Equal(t, exitOK, r.code, r.errOut)
			require.Contains(t, r.errOut, "exported 9 records and 0 history entries from store ")
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			h.noSecret(string(data), "backup file")

			// Import into a fresh store of the same kind, and into SQLite.
			for _, dst := range []struct {
				u      string
				create bool
			}{func() (d struct {
				u      string
				create bool
			}) {
				d.u, d.create = b.fresh(t)
				return d
			}(), {"sqlite:" + filepath.Join(t.TempDir(), "restored.db"), true}} {
				dstEnv := h.with(envStore, dst.u)
				if dst.create {
					r = h.run(dstEnv, "", "import", "-i", file)
					require.Equal(t, exitFailure, r.code, "no store yet: %s", r.errOut)
					require.Contains(t, r.errOut, "nothing was written")
					r = h.run(dstEnv, "", "create-table")
					require.Equal(t, exitOK, r.code, r.errOut)
				}
				r = h.run(dstEnv, "", "import", "-i", file)
				require.Equal(t, exitOK, r.code, r.errOut)
				require.Contains(t, r.out, "imported 9 records and 0 history entries into store ")
				sameRecords(t, want, rawRecordsURL(t, dst.u))
				r = h.run(h.with(envStore, dst.u, envLocalKeys, "k="+keyB64), "", "verify")
				require.Equal(t, exitOK, r.code, r.errOut)
			}

			// rewrap re-seals every record under a new key, online.
			_, newB64 := h.localKey()
			r = h.run(h.with(envLocalKeys, "k="+keyB64+",new="+newB64, envLocalPrimary, "new"), "", "rewrap")
			require.Equal(t, exitOK, r.code, r.errOut)
			m := statsRE.FindStringSubmatch(r.out)
			require.NotNil(t, m, r.out)
			require.Equal(t, []string{"9", "0", "0"}, []string{m[1], m[4], m[5]}, "seen, gone, failed")
			require.NotEqual(t, "0", m[2], "rewrapped")
			r = h.run(h.with(envLocalKeys, "new="+newB64), "", "verify")
			require.Equal(t, exitOK, r.code, "only the new key is needed now: %s", r.errOut)
			for _, row := range h.listJSON(h.env) {
				require.Equal(t, []string{"local:new"}, row.Keys, "%+v", row)
			}
			r = h.run(h.env, "", "scope-drift", "-bot-scopes", "chat:write")
			require.Equal(t, exitOK, r.code, r.errOut)
			require.Contains(t, r.out, "drift")

			// purge deletes one tenant, and only it.
			r = h.run(h.env, "", "purge", "-team", "T1")
			require.Equal(t, exitOK, r.code, r.errOut)
			require.Contains(t, r.out, "purged 3 records of tenant T1")
			require.Len(t, h.listJSON(h.env), 6)
			r = h.run(h.env, "", "purge", "-team", "T1")
			require.Equal(t, exitFailure, r.code)
			require.Contains(t, r.errOut, "holds no record of it")

			// DynamoDB-only commands say so.
			r = h.run(h.env, "", "add-due-index")
			require.Equal(t, exitUsage, r.code)
			require.Contains(t, r.errOut, "add-due-index needs a dynamodb: store")
		})
	}
}

// A wrong PostgreSQL password: the error names the store, never the
// password given, nor the right one.
func TestStorePasswordNotPrinted(t *testing.T) {
	base := pgtest.URL(t)
	pu, err := url.Parse(base)
	require.NoError(t, err)
	const wrong = "wrong-Pa55word-e9c1"
	pu.User = url.UserPassword(pu.User.Username(), wrong)
	h := storeHarness(t, base)
	h.secrets = append(h.secrets, wrong)
	r := h.run(map[string]string{envStore: pu.String()}, "", "list")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "xxxxx")
	r = h.run(map[string]string{}, "", "list", "-store", pu.String()+"?sslmode=bogus")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "sslmode is invalid")
}

// -history and -client-id reach every backend through the store URL: an
// app's records and history in a shared store, exported and verified as
// that app, and invisible to an unscoped run.
func TestHistoryAndClientIDOnEveryBackend(t *testing.T) {
	const app = "1111111111.2222222222"
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			src, _ := b.fresh(t)
			h := storeHarness(t, src)
			r := h.run(h.env, "", "create-table")
			require.Equal(t, exitOK, r.code, r.errOut)
			keyRaw, keyB64 := h.localKey()
			keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": keyRaw}, "k")
			require.NoError(t, err)
			raw, closeFn, err := storeurl.Open(context.Background(), src, storeurl.Options{History: true, ClientID: app})
			require.NoError(t, err)
			s, err := crypto.NewStore(raw, keys)
			require.NoError(t, err)
			for _, inst := range fixtures() {
				h.remember(inst)
				require.NoError(t, s.StoreInstallation(context.Background(), inst.Clone()))
			}
			require.NoError(t, closeFn())
			env := h.with(envLocalKeys, "k="+keyB64)

			out := filepath.Join(t.TempDir(), "app.jsonl")
			r = h.run(env, "", "export", "-history", "-client-id", app, "-o", out)
			require.Equal(t, exitOK, r.code, r.errOut)
			require.Contains(t, r.errOut, "exported 9 records and 5 history entries")
			r = h.run(h.with(envLocalKeys, "k="+keyB64, envClientID, app), "", "verify", "-history")
			require.Equal(t, exitOK, r.code, r.out+r.errOut)
			require.Contains(t, r.out, "9 ok, 0 failed, 0 gone; 5 history entries: 5 ok, 0 failed")

			r = h.run(env, "", "export", "-o", filepath.Join(t.TempDir(), "unscoped.jsonl"))
			require.Equal(t, exitOK, r.code, r.errOut)
			require.Contains(t, r.errOut, "exported 0 records", "an unscoped run sees none of the app's records")
			h.noSecret(r.out + r.errOut)
		})
	}
}
