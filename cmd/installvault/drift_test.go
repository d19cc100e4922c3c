package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
)

func TestScopeDrift(t *testing.T) {
	h := newHarness(t)
	keyRaw, _ := h.localKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": keyRaw}, "k")
	require.NoError(t, err)
	insts := fixtures()
	insts[4].Bot.Scopes = []string{"chat:write"} // T3 installed before "commands" was added
	h.seed(keys, insts...)

	r := h.run(h.env, "", "scope-drift", "-bot-scopes", "chat:write, commands", "-user-scopes", "search:read")
	require.Equal(t, exitOK, r.code, r.errOut)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, lines, 3, r.out)
	require.Regexp(t, `^T3\s+-\s+commands\s+-\s+-\s+-$`, lines[1])
	require.Equal(t, "1 installation drifts", lines[2])

	r = h.run(h.env, "", "scope-drift", "-bot-scopes", "chat:write,commands", "-user-scopes", "search:read,users:read", "-json")
	require.Equal(t, exitOK, r.code, r.errOut)
	rows := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, rows, 1+5, r.out) // T3's bot, and every user installation misses users:read
	var row driftRow
	require.NoError(t, json.Unmarshal([]byte(rows[0]), &row))
	require.Equal(t, ":T1", row.Tenant, "JSON names the tenant by its key")
}
