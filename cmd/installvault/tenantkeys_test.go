package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/installstore"
)

func TestParseTenantKeys(t *testing.T) {
	keys, err := parseTenantKeys([]byte(`{":T1": "alias/t1", "E1:T2": "arn:aws:kms:us-east-1:111122223333:key/x", "E1:": "k3"}`))
	require.NoError(t, err)
	require.Equal(t, map[installstore.Tenant]string{
		{TeamID: "T1"}:                     "alias/t1",
		{EnterpriseID: "E1", TeamID: "T2"}: "arn:aws:kms:us-east-1:111122223333:key/x",
		{EnterpriseID: "E1"}:               "k3",
	}, keys)
	for _, bad := range []string{``, `[]`, `null`, `{"T1": "k"}`, `{":": "k"}`, `{":T1": ""}`, `{":T 1": "k"}`,
		`{":T1": "k"} {}`, `{":T1": 3}`, `{"E1:T2:T3": "k"}`} {
		_, err := parseTenantKeys([]byte(bad))
		require.Error(t, err, "%q", bad)
	}
}

func FuzzParseTenantKeys(f *testing.F) {
	f.Add([]byte(`{":T1": "alias/t1", "E1:": "k"}`))
	f.Add([]byte(`{"E1:T2": "k"}`))
	f.Add([]byte(`{":": ""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseTenantKeys(data)
		if err != nil {
			return
		}
		for tenant, key := range keys {
			if key == "" {
				t.Fatal("empty key accepted")
			}
			back, err := parseTenant(tenant.Key())
			if err != nil || back != tenant {
				t.Fatalf("tenant %v does not round-trip: %v", tenant, err)
			}
		}
	})
}

func TestRewrapTenantKeys(t *testing.T) {
	h := newHarness(t)
	srv := kmstest.NewServer()
	t.Cleanup(srv.Close)
	def, t1Key, orgKey := srv.CreateKey("default"), srv.CreateKey("T1's own"), srv.CreateKey("E1's own")
	require.NoError(t, srv.CreateAlias("alias/e1", orgKey.ID))
	keys, err := crypto.NewKMS(srv.Client(), def.ARN)
	require.NoError(t, err)
	h.seed(keys, fixtures()...)

	file := filepath.Join(t.TempDir(), "tenant-keys.json")
	m, _ := json.Marshal(map[string]string{":T1": t1Key.ARN, "E1:": "alias/e1"})
	require.NoError(t, os.WriteFile(file, m, 0o600))
	env := h.with(envKMSKey, def.ARN, envKMSEndpoint, srv.URL(), envTenantKeys, file)

	r := h.run(env, "", "rewrap")
	require.Equal(t, exitOK, r.code, r.errOut)
	s := parseStats(t, r.out)
	require.Equal(t, 9, s.seen)
	require.Zero(t, s.failed)
	require.GreaterOrEqual(t, s.current, 4, "E1/T2 and T3 stay under the default key")

	r = h.run(env, "", "list", "-json")
	require.Equal(t, exitOK, r.code, r.errOut)
	for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var row listRow
		require.NoError(t, json.Unmarshal([]byte(l), &row))
		want := def.ARN
		switch row.Tenant {
		case ":T1":
			want = t1Key.ARN
		case "E1:":
			want = orgKey.ARN
		}
		require.Equal(t, []string{"aws-kms:" + want}, row.Keys, row.Tenant)
	}

	// Revoking T1's key makes only T1 unreadable.
	require.NoError(t, srv.DisableKey(t1Key.ID))
	r = h.run(env, "", "verify")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.out, "6 ok, 3 failed")
	require.Equal(t, 3, strings.Count(r.out, "FAIL tenant=T1 "))

	// Configuration errors are usage errors.
	for _, bad := range []map[string]string{
		h.with(envTenantKeys, file, envLocalKeys, "k="+strings.Repeat("A", 43)),
		h.with(envKMSKey, def.ARN, envTenantKeys, filepath.Join(t.TempDir(), "missing.json")),
	} {
		r = h.run(bad, "", "rewrap")
		require.Equal(t, exitUsage, r.code, r.errOut)
	}
	require.NoError(t, os.WriteFile(file, []byte(`{"T1": "k"}`), 0o600))
	r = h.run(env, "", "rewrap")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.errOut, `tenant "T1": want ENTERPRISE:TEAM`)
}
