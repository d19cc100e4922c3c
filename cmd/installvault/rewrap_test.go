package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/installstore/storetest"
)

var statsRE = regexp.MustCompile(`rewrap: (\d+) seen, (\d+) rewrapped, (\d+) already current, (\d+) gone, (\d+) failed`)

type stats struct{ seen, rewrapped, current, gone, failed int }

func parseStats(t *testing.T, out string) stats {
	t.Helper()
	m := statsRE.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	n := make([]int, 5)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return stats{n[0], n[1], n[2], n[3], n[4]}
}

// cancelOnProgress cancels a context when the first progress line is written.
type cancelOnProgress struct {
	once   sync.Once
	cancel context.CancelFunc
}

func (c *cancelOnProgress) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "records done") {
		c.once.Do(c.cancel)
	}
	return len(p), nil
}

func TestRewrapKMSRotation(t *testing.T) {
	h := newHarness(t)
	srv := kmstest.NewServer()
	t.Cleanup(srv.Close)
	oldKey, newKey := srv.CreateKey("old"), srv.CreateKey("new")
	keys, err := crypto.NewKMS(srv.Client(), oldKey.ARN)
	require.NoError(t, err)
	h.seed(keys, fixtures()...)
	env := h.with(envKMSKey, newKey.ARN, envKMSEndpoint, srv.URL())

	// The old key is unusable: every record fails, nothing changes, exit 1.
	require.NoError(t, srv.DisableKey(oldKey.ID))
	r := h.run(env, "", "rewrap")
	require.Equal(t, exitFailure, r.code)
	require.Equal(t, stats{seen: 9, failed: 9}, parseStats(t, r.out))
	require.Contains(t, r.out, "run it again")
	require.Contains(t, r.errOut, "9 of 9 records failed")
	require.NoError(t, srv.EnableKey(oldKey.ID))

	// Interrupted after the first progress report (as by Ctrl-C).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r = h.runCtx(ctx, env, "", &cancelOnProgress{cancel: cancel}, "rewrap", "-progress", "3")
	require.Equal(t, exitFailure, r.code)
	first := parseStats(t, r.out)
	require.Equal(t, 3, first.seen, r.out)
	require.Equal(t, 3, first.rewrapped+first.current) // a tenant's latest record carries its last installer's
	require.Positive(t, first.rewrapped)
	require.Contains(t, r.errOut, "rewrap: 3 records done")
	require.Contains(t, r.errOut, "context canceled")

	// Resumed: what was done is skipped, the rest is rewrapped.
	r = h.run(env, "", "rewrap", "-progress", "2")
	require.Equal(t, exitOK, r.code, r.errOut)
	second := parseStats(t, r.out)
	require.Equal(t, 9, second.seen)
	require.Zero(t, second.failed)
	require.GreaterOrEqual(t, second.current, 3)
	require.Equal(t, 9, second.rewrapped+second.current)
	require.Contains(t, r.errOut, "rewrap: 8 records done")

	r = h.run(env, "", "rewrap")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, stats{seen: 9, current: 9}, parseStats(t, r.out))

	// Every record names the new key only.
	r = h.run(env, "", "list")
	require.Equal(t, exitOK, r.code)
	require.NotContains(t, r.out, oldKey.ARN)
	require.Equal(t, 9, strings.Count(r.out, "aws-kms:"+newKey.ARN))

	// Retire the old key: everything still opens.
	require.NoError(t, srv.DisableKey(oldKey.ID))
	decrypts := srv.Calls("Decrypt")
	r = h.run(env, "", "verify")
	require.Equal(t, exitOK, r.code, r.out)
	require.Equal(t, "verified 9 records: 9 ok, 0 failed, 0 gone; history off\n", r.out)
	require.GreaterOrEqual(t, srv.Calls("Decrypt")-decrypts, 9, "verify opened every record through KMS")

	// Disabling the new key instead makes verify fail for every record.
	require.NoError(t, srv.DisableKey(newKey.ID))
	r = h.run(env, "", "verify")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.out, "9 failed")
	require.Contains(t, r.out, "DisabledException")
}

func TestRewrapLocalKeyring(t *testing.T) {
	h := newHarness(t)
	oldRaw, oldB64 := h.localKey()
	_, newB64 := h.localKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"old": oldRaw}, "old")
	require.NoError(t, err)
	h.seed(keys, fixtures()...)

	both := h.with(envLocalKeys, "old="+oldB64+",new="+newB64, envLocalPrimary, "new")
	r := h.run(both, "", "rewrap")
	require.Equal(t, exitOK, r.code, r.errOut)
	s := parseStats(t, r.out)
	require.Equal(t, 9, s.seen)
	require.Equal(t, 9, s.rewrapped+s.current)
	require.Positive(t, s.rewrapped)

	r = h.run(both, "", "list")
	require.Equal(t, 9, strings.Count(r.out, "local:new"))
	require.NotContains(t, r.out, "local:old")

	// The old key removed from the keyring: everything opens.
	r = h.run(h.with(envLocalKeys, "new="+newB64), "", "verify")
	require.Equal(t, exitOK, r.code, r.out)
	require.Contains(t, r.out, "9 ok, 0 failed")
	// With only the old key, nothing does.
	r = h.run(h.with(envLocalKeys, "old="+oldB64), "", "verify")
	require.Equal(t, exitFailure, r.code)
	require.Contains(t, r.out, "0 ok, 9 failed")
	// -local-primary overrides the environment.
	r = h.run(h.with(envLocalKeys, "old="+oldB64+",new="+newB64, envLocalPrimary, "old"), "", "rewrap", "-local-primary", "new")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, stats{seen: 9, current: 9}, parseStats(t, r.out))
}

func TestFindSecret(t *testing.T) {
	inst := storetest.Fixture("", "T1", "U1", "x")
	require.Equal(t, "xoxb-", findSecret("token="+inst.Bot.Token.Reveal(), nil))
	require.Equal(t, "k3y", findSecret("a k3y", []string{"k3y"}))
	require.Empty(t, findSecret("token="+inst.Bot.Token.String(), []string{""}))
}
