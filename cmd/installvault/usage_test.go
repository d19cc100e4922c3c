package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHelp(t *testing.T) {
	h := &harness{t: t, env: map[string]string{}}
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			for _, flag := range []string{"-h", "-help", "--help"} {
				r := h.run(h.env, "", c.name, flag)
				require.Equal(t, exitOK, r.code, r.errOut)
				require.Contains(t, r.out, "Usage: installvault "+c.name)
				require.Contains(t, r.out, "-table")
				require.Contains(t, r.out, "INSTALLVAULT_DYNAMODB_TABLE")
				require.Empty(t, r.errOut)
			}
			r := h.run(h.env, "", "help", c.name)
			require.Equal(t, exitOK, r.code)
			require.Contains(t, r.out, "Usage: installvault "+c.name)
		})
	}
	r := h.run(h.env, "", "-h")
	require.Equal(t, exitOK, r.code)
	for _, c := range commands() {
		require.Contains(t, r.out, "  "+c.name+" ")
	}
	// Command-specific help.
	require.Contains(t, h.run(h.env, "", "rewrap", "-h").out, "resumable")
	require.Contains(t, h.run(h.env, "", "verify", "-h").out, "-kms-key")
	require.Contains(t, h.run(h.env, "", "purge", "-h").out, "-org")
}

func TestUsageErrors(t *testing.T) {
	hermeticAWS(t)
	h := &harness{t: t}
	withTable := map[string]string{envTable: "t", envEndpoint: "http://127.0.0.1:1"}
	k32 := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // 32 zero bytes
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no command", withTable, nil, "no command"},
		{"unknown command", withTable, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"bad flag", withTable, []string{"list", "-bogus"}, "flag provided but not defined: -bogus"},
		{"bad flag value", withTable, []string{"verify", "-concurrency", "many"}, "invalid value"},
		{"extra argument", withTable, []string{"list", "extra"}, `unexpected argument "extra"`},
		{"no table", map[string]string{}, []string{"list"}, "no table: set -table or INSTALLVAULT_DYNAMODB_TABLE"},
		{"no table create", map[string]string{}, []string{"create-table"}, "no table"},
		{"no keys", withTable, []string{"verify"}, "no keys"},
		{"no keys rewrap", withTable, []string{"rewrap"}, "no keys"},
		{"both keys", merge(withTable, envKMSKey, "alias/x", envLocalKeys, "k="+k32), []string{"verify"}, "choose one"},
		{"bad local key", merge(withTable, envLocalKeys, "k=not-base64!!"), []string{"verify"}, `key "k": not base64`},
		{"short local key", merge(withTable, envLocalKeys, "k=AAAA"), []string{"verify"}, `key "k": 3 bytes, want 32`},
		{"no primary", merge(withTable, envLocalKeys, "a="+k32+",b="+k32), []string{"rewrap"}, "name the primary"},
		{"unknown primary", merge(withTable, envLocalKeys, "a="+k32, envLocalPrimary, "z"), []string{"rewrap"}, `primary key "z" is not in`},
		{"concurrency", merge(withTable, envLocalKeys, "a="+k32), []string{"verify", "-concurrency", "0"}, "-concurrency must be at least 1"},
		{"progress", merge(withTable, envLocalKeys, "a="+k32), []string{"rewrap", "-progress", "-1"}, "-progress must not be negative"},
		{"purge nothing", withTable, []string{"purge"}, "give -team"},
		{"purge org no enterprise", withTable, []string{"purge", "-org"}, "-org needs -enterprise"},
		{"purge org and team", withTable, []string{"purge", "-org", "-enterprise", "E1", "-team", "T1"}, "not -team"},
		{"purge bad id", withTable, []string{"purge", "-team", "T 1"}, "invalid"},
		{"drift no scopes", withTable, []string{"scope-drift"}, "-bot-scopes"},
		{"export empty", withTable, []string{"export", "-o", ""}, "-o must name"},
		{"import empty", withTable, []string{"import", "-i", ""}, "-i must name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run(tc.env, "", tc.args...)
			require.Equal(t, exitUsage, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
			require.Contains(t, r.errOut, tc.want)
			require.NotContains(t, r.errOut, k32)
			require.NotContains(t, r.errOut, "not-base64!!")
			require.True(t, strings.Contains(r.errOut, "Usage:") || strings.Contains(r.errOut, "-h' for usage"), r.errOut)
		})
	}
}

func merge(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestParseLocalKeys(t *testing.T) {
	k32 := strings.Repeat("A", 43) + "=" // 32 zero bytes, standard padded
	keys, err := parseLocalKeys("old=" + k32 + ", new = " + strings.Repeat("_", 43))
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.Len(t, keys["old"], 32)
	require.Len(t, keys["new"], 32)
	real := "BKwtDzojgHKghVX8N/Sa6J9ftklvzqxd/6Y7jRd3qC4=" // a bare key splits at its padding
	for _, bad := range []string{"", "k", "=" + k32, "k=" + k32 + ",k=" + k32, "k=" + k32 + ",", "k=%%%", "k=" + k32[:40] + "\n" + k32[40:], real, "k=", "a/b=" + k32} {
		_, err := parseLocalKeys(bad)
		require.Error(t, err, "%q", bad)
		require.NotContains(t, err.Error(), k32[:20])
		require.NotContains(t, err.Error(), real[:20])
	}
}

func FuzzParseLocalKeys(f *testing.F) {
	f.Add("a=" + strings.Repeat("A", 43) + "=")
	f.Add("a=x,b=y")
	f.Add(",,=")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := parseLocalKeys(s)
		if err != nil {
			if keys != nil {
				t.Fatal("keys with an error")
			}
			// The error may name a key, never quote a value.
			for _, part := range strings.Split(s, ",") {
				n, v, ok := strings.Cut(part, "=")
				v = strings.TrimSpace(v)
				if ok && len(v) >= 8 && !strings.Contains(s, v+"=") && !strings.Contains(n, v) && strings.Contains(err.Error(), v) {
					t.Fatalf("error %q quotes a key value", err)
				}
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		for name, k := range keys {
			if name == "" || len(k) != 32 {
				t.Fatalf("bad key %q (%d bytes)", name, len(k))
			}
		}
	})
}
