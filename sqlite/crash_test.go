package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/sqlite"
)

const (
	envCrashPath = "SQLITE_CRASH_PATH" // set in the writer child
	crashTeams   = 8
	crashAcks    = 300 // acknowledged writes before the parent kills the writer
)

// A writer killed (SIGKILL) in the middle of its writes loses none it
// acknowledged and leaves none half-done: each tenant's latest row and its
// user's row come from the same write, and the file passes SQLite's
// integrity check.
func TestKilledWriterLosesNothing(t *testing.T) {
	if path := os.Getenv(envCrashPath); path != "" {
		crashWriter(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLosesNothing$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashPath+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	acked := map[string]int{} // team -> last acknowledged write
	sc := bufio.NewScanner(out)
	n := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ACK" {
			continue
		}
		i, err := strconv.Atoi(f[2])
		require.NoError(t, err)
		acked[f[1]] = i
		if n++; n == crashAcks {
			require.NoError(t, cmd.Process.Kill()) // mid-write: the writer never pauses
		}
	}
	_ = cmd.Wait()
	require.GreaterOrEqual(t, n, crashAcks, "the writer acknowledged writes before it was killed")

	require.Equal(t, "ok", rawString(t, path, "PRAGMA integrity_check"))
	s := openAt(t, path, sqlite.WithPlaintextSecrets())
	ctx := context.Background()
	for team, last := range acked {
		latest, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team})
		require.NoError(t, err, team)
		user, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team, UserID: "U1"})
		require.NoError(t, err, team)
		got, err := strconv.Atoi(strings.TrimPrefix(latest.Bot.Token.Reveal(), "xoxb-test-"+team+"-"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, got, last, "%s: acknowledged write %d lost (stored %d)", team, last, got)
		storetest.Equal(t, storetest.Fixture("", team, "U1", strconv.Itoa(got)), user, "%s: the user's row is from the same write", team)
		require.Equal(t, latest.Version, user.Version)
	}
}

// crashWriter stores re-installs of crashTeams tenants, acknowledging each
// on stdout once StoreInstallation returned, until it is killed.
func crashWriter(t *testing.T, path string) {
	s, err := sqlite.Open(context.Background(), path, sqlite.WithPlaintextSecrets())
	require.NoError(t, err)
	for i := 0; ; i++ {
		team := fmt.Sprintf("TK%d", i%crashTeams)
		require.NoError(t, s.StoreInstallation(context.Background(), storetest.Fixture("", team, "U1", strconv.Itoa(i))))
		fmt.Printf("ACK %s %d\n", team, i)
	}
}
