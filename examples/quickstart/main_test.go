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
	require.Contains(t, out.String(), "Done.")
	require.NotContains(t, out.String(), "xoxb-")
	require.NotContains(t, out.String(), "xoxp-")
}
