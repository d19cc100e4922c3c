package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

func tenantsOf(recs map[installstore.Query]*installstore.Installation) map[string]int {
	n := make(map[string]int)
	for q := range recs {
		n[q.Tenant().Key()]++
	}
	return n
}

func TestPurge(t *testing.T) {
	h := newHarness(t)
	keyRaw, _ := h.localKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": keyRaw}, "k")
	require.NoError(t, err)
	h.seed(keys, fixtures()...)
	require.Equal(t, map[string]int{":T1": 3, "E1:T2": 2, "E1:": 2, ":T3": 2}, tenantsOf(rawRecords(t, h.client, h.table)))

	// A workspace of an organization: the org-wide install stays.
	r := h.run(h.env, "", "purge", "-team", "T2", "-enterprise", "E1")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, "deleted tenant E1/T2 latest installation (and its bot)\n"+
		"deleted tenant E1/T2 user U3\n"+
		"purged 2 records of tenant E1/T2\n", r.out)
	require.Equal(t, map[string]int{":T1": 3, "E1:": 2, ":T3": 2}, tenantsOf(rawRecords(t, h.client, h.table)))

	// Again: nothing left, exit 1.
	r = h.run(h.env, "", "purge", "-team", "T2", "-enterprise", "E1")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "holds no record of it")

	// A workspace with two installers.
	r = h.run(h.env, "", "purge", "-team", "T1")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Contains(t, r.out, "deleted tenant T1 user U1\ndeleted tenant T1 user U2\n")
	require.Contains(t, r.out, "purged 3 records of tenant T1\n")
	require.Equal(t, map[string]int{"E1:": 2, ":T3": 2}, tenantsOf(rawRecords(t, h.client, h.table)))

	// The org-wide install.
	r = h.run(h.env, "", "purge", "-enterprise", "E1", "-org")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Contains(t, r.out, "purged 2 records of tenant E1 (org-wide)\n")
	require.Equal(t, map[string]int{":T3": 2}, tenantsOf(rawRecords(t, h.client, h.table)))

	// An unknown workspace: exit 1, nothing touched.
	r = h.run(h.env, "", "purge", "-team", "T9")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.errOut, "purge tenant T9")
	require.Equal(t, map[string]int{":T3": 2}, tenantsOf(rawRecords(t, h.client, h.table)))
}
