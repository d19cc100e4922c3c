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
	"time"

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
// user's row come from the same write, every acknowledged store has its
// history entry and none is newer than the record, and the file passes
// SQLite's integrity check.
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
	s := openAt(t, path, sqlite.WithPlaintextSecrets(), sqlite.WithHistory())
	ctx := context.Background()
	for team, last := range acked {
		latest, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team})
		require.NoError(t, err, team)
		user, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team, UserID: "U1"})
		require.NoError(t, err, team)
		got, err := strconv.Atoi(strings.TrimPrefix(latest.Bot.Token.Reveal(), "xoxb-test-"+team+"-"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, got, last, "%s: acknowledged write %d lost (stored %d)", team, last, got)
		storetest.Equal(t, crashFixture(team, got), user, "%s: the user's row is from the same write", team)
		require.Equal(t, latest.Version, user.Version)
		hs := storetest.History(t, s, installstore.Query{TeamID: team})
		require.NotEmpty(t, hs, team)
		storetest.Equal(t, crashFixture(team, got), withVersion(hs[0], latest.Version), "%s: the newest entry is the record's store", team)
		found := false
		for _, h := range hs {
			found = found || h.Bot.Token.Reveal() == fmt.Sprintf("xoxb-test-%s-%d", team, last)
		}
		require.True(t, found, "%s: acknowledged store %d has no history entry", team, last)
	}
}

// crashFixture is the writer's store number i of team: a re-install, i
// seconds after the fixture's install time.
func crashFixture(team string, i int) *installstore.Installation {
	inst := storetest.Fixture("", team, "U1", strconv.Itoa(i))
	inst.InstalledAt = inst.InstalledAt.Add(time.Duration(i) * time.Second)
	inst.Bot.InstalledAt = inst.InstalledAt
	return inst
}

func withVersion(inst *installstore.Installation, v int64) *installstore.Installation {
	inst.Version = v
	return inst
}

// crashWriter stores re-installs of crashTeams tenants, acknowledging each
// on stdout once StoreInstallation returned, until it is killed.
func crashWriter(t *testing.T, path string) {
	s, err := sqlite.Open(context.Background(), path, sqlite.WithPlaintextSecrets(), sqlite.WithHistory())
	require.NoError(t, err)
	for i := 0; ; i++ {
		team := fmt.Sprintf("TK%d", i%crashTeams)
		require.NoError(t, s.StoreInstallation(context.Background(), crashFixture(team, i)))
		fmt.Printf("ACK %s %d\n", team, i)
	}
}
