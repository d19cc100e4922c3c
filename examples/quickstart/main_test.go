package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuickstartRunsAndPrintsNoToken(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	s := out.String()
	require.Contains(t, s, "refresh calls to Slack: 1, distinct tokens handed out: 1")
	require.Contains(t, s, "6 records seen, 3 rewrapped, 3 already current, 0 failed")
	require.Contains(t, s, "with key-2026 gone: 6 of 6 records readable")
	require.Contains(t, s, "rotation.ErrRefreshFailed, and no token")
	require.Contains(t, s, "crypto.ErrDecrypt, and no token")
	require.Contains(t, s, "Done.")
	require.Contains(t, s, "ivsealed:")
	for _, leak := range []string{"xoxb-", "xoxp-", "xoxe-", "quickstart-client-secret"} {
		require.NotContains(t, s, leak)
	}
}
