package rotation

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// TestShortTokenLifetimeWarnsOnce: tokens that Slack issues for less than
// the refresh margin would be refreshed on every use; the refresher says so,
// once.
func TestShortTokenLifetimeWarnsOnce(t *testing.T) {
	e := newEnv(t)
	e.slack.SetTokenLifetime(time.Hour) // 1 h, inside the default 2 h margin
	r := e.refresher(nil)
	e.install("T0SHORT", "U1", time.Minute, 0)
	e.install("T0SHORT2", "U1", time.Minute, 0)
	for _, team := range []string{"T0SHORT", "T0SHORT2"} {
		_, err := r.Authorize(context.Background(), installstore.Query{TeamID: team})
		require.NoError(t, err)
	}
	e.wait(r)
	require.Equal(t, 1, e.logs.count("expire within the refresh margin"), e.logs.String())

	long := newEnv(t)
	r = long.refresher(nil)
	long.install("T0LONG", "U1", time.Minute, 0)
	_, err := r.Authorize(context.Background(), installstore.Query{TeamID: "T0LONG"})
	require.NoError(t, err)
	long.wait(r)
	require.Zero(t, long.logs.count("expire within the refresh margin"))
}
