package rotation

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
)

// The cross-process storm: the parent runs the fake Slack and counts its
// calls; it re-executes this test binary as child processes ("replicas")
// that share one store and each make concurrent Authorize calls.
const (
	xprocProcs      = 4
	xprocPerProc    = 250
	envXprocChild   = "ROTATION_XPROC_CHILD"   // "1" in a child
	envXprocSlack   = "ROTATION_XPROC_SLACK"   // the fake Slack's API URL
	envXprocBarrier = "ROTATION_XPROC_BARRIER" // where a child reports its storm started
	envXprocTeam    = "ROTATION_XPROC_TEAM"    // the installation's team
	envXprocBackend = "ROTATION_XPROC_BACKEND" // the shared backend's name
)

// sharedBackend is a store that separate processes can share: open runs in
// the parent and in every child; env is what a child needs to open the same
// store.
type sharedBackend struct {
	env  []string
	open func(t testing.TB) installstore.FullStore
}

// sharedBackends are the backends the storm runs on, by name, each
// provided by its own file. newBackend runs in the parent, and in a child
// (os.Getenv(envXprocChild) == "1") with the env the parent passed.
var sharedBackends = map[string]func(t testing.TB) *sharedBackend{}

func TestCrossProcessStormMakesOneRefresh(t *testing.T) {
	if os.Getenv(envXprocChild) == "1" {
		xprocChild(t)
		return
	}
	if len(sharedBackends) == 0 {
		t.Skip("no store shared across processes is wired in this build")
	}
	for name, newBackend := range sharedBackends {
		t.Run(name, func(t *testing.T) { xprocParent(t, name, newBackend(t)) })
	}
}

func xprocParent(t *testing.T, name string, backend *sharedBackend) {
	ctx := context.Background()
	store := backend.open(t)
	team := fmt.Sprintf("T0XPROC%d", time.Now().UnixNano())
	inst := &installstore.Installation{TeamID: team, Bot: &installstore.Bot{
		ID: "B1", Token: installstore.NewSecret("xoxb-test-expired"), RefreshToken: installstore.NewSecret("xoxe-test-bot-xproc"), ExpiresAt: time.Now().Add(-time.Minute),
	}}
	require.NoError(t, store.StoreInstallation(ctx, inst))

	// Slack answers only once every replica has started its storm, so the
	// storms overlap the refresh for certain.
	var started atomic.Int64
	allStarted := make(chan struct{})
	barrier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if started.Add(1) == xprocProcs {
			close(allStarted)
		}
	}))
	defer barrier.Close()
	fake := newFakeSlack(t)
	fake.AddToken(fakeslack.Token{Team: team, Refresh: "xoxe-test-bot-xproc"})
	var overlapped atomic.Bool
	fake.OnCall(access, func() {
		select {
		case <-allStarted:
			overlapped.Store(true)
		case <-time.After(60 * time.Second):
		}
	})

	outs := make([]string, xprocProcs)
	var wg sync.WaitGroup
	for i := range xprocProcs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrossProcessStormMakesOneRefresh$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), backend.env...)
			cmd.Env = append(cmd.Env, envXprocChild+"=1", envXprocSlack+"="+fake.url(), envXprocBarrier+"="+barrier.URL, envXprocTeam+"="+team, envXprocBackend+"="+name)
			out, err := cmd.CombinedOutput()
			outs[i] = string(out)
			if err != nil {
				t.Errorf("replica %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	require.True(t, overlapped.Load(), "the replicas' storms did not overlap the refresh")
	require.Equal(t, int64(1), fake.calls.Load(), "oauth.v2.access calls across %d processes", xprocProcs)

	var tokens []string
	for i, out := range outs {
		line := xprocResult(out)
		require.NotEmpty(t, line, "replica %d printed no result:\n%s", i, out)
		tokens = append(tokens, line)
	}
	for _, tok := range tokens {
		require.Equal(t, tokens[0], tok, "every replica handed out the same, single token")
	}
	stored, err := store.FetchInstallation(ctx, installstore.Query{TeamID: team})
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", stored.Bot.Token.Reveal())
	require.Equal(t, tokenDigest("xoxb-test-bot-1"), tokens[0])
}

// xprocChild is one replica: 250 concurrent Authorize calls; it prints the
// digest of the single token it handed out.
func xprocChild(t *testing.T) {
	store := backendForChild(t)
	r, err := New(store, WithClientCredentials(testClientID, installstore.NewSecret(testClientSecret)), WithSlackAPIURL(os.Getenv(envXprocSlack)))
	require.NoError(t, err)
	q := installstore.Query{TeamID: os.Getenv(envXprocTeam)}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	distinct := map[string]bool{}
	for range xprocPerProc {
		wg.Go(func() {
			<-start
			inst, err := r.Authorize(context.Background(), q)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			distinct[tokenDigest(inst.Bot.Token.Reveal())] = true
			mu.Unlock()
		})
	}
	close(start)
	resp, err := http.Post(os.Getenv(envXprocBarrier), "text/plain", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	wg.Wait()
	require.Len(t, distinct, 1, "distinct tokens in this replica")
	for d := range distinct {
		fmt.Printf("XPROC-RESULT %s stats=%+v\n", d, r.Stats())
	}
}

// backendForChild opens, in a child, the backend its parent named.
func backendForChild(t *testing.T) installstore.FullStore {
	newBackend := sharedBackends[os.Getenv(envXprocBackend)]
	if newBackend == nil {
		t.Fatalf("child: unknown shared backend %q", os.Getenv(envXprocBackend))
	}
	return newBackend(t).open(t)
}

func xprocResult(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "XPROC-RESULT "); ok {
			d, _, _ := strings.Cut(rest, " ")
			return d
		}
	}
	return ""
}

// tokenDigest names a (fake) token in test output without printing it.
func tokenDigest(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:8])
}
