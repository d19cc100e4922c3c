package main

import (
	"encoding/base64"
	"encoding/hex"
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
				require.Contains(t, r.out, "-store")
				require.Contains(t, r.out, "INSTALLVAULT_STORE")
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
	k32 := "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=" // 32 bytes of 0x01
	k33 := "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=" // 32 bytes of 0x02
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
		{"no table", map[string]string{}, []string{"list"}, "no store: set -store or INSTALLVAULT_STORE"},
		{"no table create", map[string]string{}, []string{"create-table"}, "or -table or INSTALLVAULT_DYNAMODB_TABLE"},
		{"store and table", withTable, []string{"list", "-store", "sqlite:x.db", "-table", "t"}, "give one"},
		{"two stores in env", merge(withTable, envStore, "sqlite:x.db"), []string{"list"}, "different stores"},
		{"bad store", map[string]string{envStore: "mysql://db"}, []string{"list"}, `unknown scheme "mysql"`},
		{"bad store flag", map[string]string{}, []string{"export", "-store", "sqlite:"}, "no file"},
		{"endpoint not dynamo", map[string]string{}, []string{"list", "-store", "sqlite:x.db", "-endpoint", "http://127.0.0.1:1"}, "-endpoint is for a dynamodb: store"},
		{"due index not dynamo", map[string]string{envStore: "sqlite:x.db"}, []string{"add-due-index"}, "add-due-index needs a dynamodb: store, not sqlite:x.db"},
		{"no keys", withTable, []string{"verify"}, "no keys"},
		{"no keys rewrap", withTable, []string{"rewrap"}, "no keys"},
		{"both keys", merge(withTable, envKMSKey, "alias/x", envLocalKeys, "k="+k32), []string{"verify"}, "choose one"},
		{"bad local key", merge(withTable, envLocalKeys, "k=not-base64!!"), []string{"verify"}, `entry 1: not 32 bytes of base64 or hex`},
		{"short local key", merge(withTable, envLocalKeys, "k=AAAA"), []string{"verify"}, `entry 1: not 32 bytes`},
		{"no primary", merge(withTable, envLocalKeys, "a="+k32+",b="+k33), []string{"rewrap"}, "-local-primary"},
		{"unknown primary", merge(withTable, envLocalKeys, "a="+k32, envLocalPrimary, "z"), []string{"rewrap"}, `primary key's name is not one of the 1 names`},
		{"concurrency", merge(withTable, envLocalKeys, "a="+k32), []string{"verify", "-concurrency", "0"}, "-concurrency must be at least 1"},
		{"progress", merge(withTable, envLocalKeys, "a="+k32), []string{"rewrap", "-progress", "-1"}, "-progress must not be negative"},
		{"progress interval", merge(withTable, envLocalKeys, "a="+k32), []string{"verify", "-progress-interval", "-1s"}, "-progress-interval must not be negative"},
		{"scan segments", withTable, []string{"export", "-scan-segments", "65"}, "-scan-segments must be 0"},
		{"bad client id", withTable, []string{"export", "-client-id", "a b"}, "-client-id"},
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
			require.NotContains(t, r.errOut, k32[:8])
			require.NotContains(t, r.errOut, k33[:8])
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

// TestKeyMaterialIsNeverPrinted runs commands with every shape of
// INSTALLVAULT_LOCAL_KEYS a user may paste, good and bad, and checks that
// no output holds 6 or more characters of any key in it.
func TestKeyMaterialIsNeverPrinted(t *testing.T) {
	hermeticAWS(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	h := &harness{t: t}
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i*37 + 11)
	}
	padded := base64.StdEncoding.EncodeToString(raw) // openssl rand -base64 32
	rawStd := base64.RawStdEncoding.EncodeToString(raw)
	urlPadded := base64.URLEncoding.EncodeToString(raw)
	urlRaw := base64.RawURLEncoding.EncodeToString(raw)
	hexKey := hex.EncodeToString(raw) // openssl rand -hex 32
	short := base64.StdEncoding.EncodeToString(raw[:20])
	garbage := "Zm9v!!bmFy$$YmF6%%cXV4^^" + padded[:10]
	withTable := map[string]string{envTable: "t", envEndpoint: "http://127.0.0.1:1"}
	for name, tc := range map[string]struct {
		value  string
		keys   []string // the key material in value
		usage  bool     // refused as a usage error (exit 2)
		primes string   // -local-primary
	}{
		"bare padded":          {value: padded, keys: []string{padded}},
		"bare raw":             {value: rawStd, keys: []string{rawStd}},
		"bare URL-safe padded": {value: urlPadded, keys: []string{urlPadded}},
		"bare URL-safe raw":    {value: urlRaw, keys: []string{urlRaw}},
		"bare hex":             {value: hexKey, keys: []string{hexKey}},
		"bare with spaces":     {value: "  " + padded + " \n", keys: []string{padded}},
		"named":                {value: "k=" + padded, keys: []string{padded}},
		"named with spaces":    {value: " old = " + padded + " , new=" + hexKey, keys: []string{padded, hexKey}, usage: true},
		"two named, primary":   {value: "old=" + padded + ",new=" + urlRaw, keys: []string{padded, urlRaw}, primes: "new"},
		"unknown primary":      {value: "old=" + padded, keys: []string{padded}, primes: padded[:12], usage: true},
		"garbage":              {value: garbage, keys: []string{garbage}, usage: true},
		"named garbage":        {value: "k=" + garbage, keys: []string{garbage}, usage: true},
		"short key":            {value: "k=" + short, keys: []string{short}, usage: true},
		"two bare keys":        {value: padded + "," + hexKey, keys: []string{padded, hexKey}, usage: true},
		"key as a name":        {value: padded + "=" + hexKey, keys: []string{padded, hexKey}, usage: true},
		"bad name":             {value: "a/b=" + padded, keys: []string{padded}, usage: true},
		"line break in a key":  {value: "k=" + padded[:20] + "\n" + padded[20:], keys: []string{padded[:20], padded[20:]}, usage: true},
		"all zero":             {value: base64.StdEncoding.EncodeToString(make([]byte, 32)), usage: true},
	} {
		t.Run(name, func(t *testing.T) {
			env := merge(withTable, envLocalKeys, tc.value, envLocalPrimary, tc.primes)
			for _, cmd := range []string{"verify", "rewrap"} {
				r := h.run(env, "", cmd)
				if tc.usage {
					require.Equal(t, exitUsage, r.code, r.errOut)
					require.Contains(t, r.errOut, envLocalKeys)
				} else {
					require.Equal(t, exitFailure, r.code, "the keys parse; the table is unreachable: %s", r.errOut)
				}
				for _, k := range append(tc.keys, tc.primes) {
					for i := 0; i+6 <= len(k); i++ {
						require.NotContains(t, r.out+r.errOut, k[i:i+6], "output quotes key material")
					}
				}
			}
		})
	}
}
