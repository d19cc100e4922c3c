package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/oauth"
	"github.com/installvault/installvault/sqlite"
)

// clientID is the made-up client ID the app and the fake Slack share.
const clientID = "1000000000001.2000000000002"

// readyLine starts the line the app prints on stdout once it serves.
const readyLine = "slackapp: listening on "

// startTimeout bounds the app's start and stop, so that a broken binary
// fails the test instead of hanging it.
const startTimeout = 2 * time.Minute

// runningApp is the example app's binary serving on 127.0.0.1, configured
// as in production (environment, a SQLite file, a local key), against a
// fake Slack this test runs. The test reads the app's store through its
// own crypto layer with the same key.
type runningApp struct {
	// URL is the app's base URL.
	URL string
	// Slack is the fake Slack the app talks to.
	Slack *fakeslack.Server
	// Sealed is the app's store as the app sees it (crypto over the
	// SQLite file), Backend the file's raw records (sealed values only).
	Sealed  *crypto.Store
	Backend installstore.FullStore
	// Secrets are the client, signing and state secrets and the local
	// key the app was given, for the checks that none leaks.
	Secrets []installstore.Secret
	// Logs are everything the app printed (stdout, stderr) and the fake
	// Slack's log.
	Logs *syncBuffer
}

// buildOnce builds the app binary once per test process.
var buildOnce struct {
	sync.Once
	dir, path string
	out       []byte
	err       error
}

// buildApp builds examples/slackapp from the repository (with the race
// detector when this test has it) and returns the binary's path.
func buildApp(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", "..", ".."))
		if err != nil {
			buildOnce.err = err
			return
		}
		if buildOnce.dir, buildOnce.err = os.MkdirTemp("", "installvault-e2e-"); buildOnce.err != nil {
			return
		}
		buildOnce.path = filepath.Join(buildOnce.dir, "slackapp")
		args := []string{"build", "-o", buildOnce.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./examples/slackapp")...)
		cmd.Dir = root
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	require.NoError(t, buildOnce.err, "go build ./examples/slackapp:\n%s", buildOnce.out)
	return buildOnce.path
}

// TestMain removes the built binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.dir != "" {
		_ = os.RemoveAll(buildOnce.dir)
	}
	os.Exit(code)
}

// startApp builds and starts the app on a free port of 127.0.0.1 with a
// fake Slack issuing tokens that live fakeslack.DefaultTokenLifetime (12 h,
// as Slack's). Everything stops at the end of the test: the app by
// SIGTERM, which it must survive with exit status 0.
func startApp(t *testing.T) *runningApp {
	t.Helper()
	bin := buildApp(t)
	logs := &syncBuffer{}
	a := &runningApp{Logs: logs}

	port := freePort(t)
	a.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	clientSecret, signingSecret, stateSecret := randomSecret(t), randomSecret(t), randomSecret(t)
	key := installstore.NewSecret(base64.StdEncoding.EncodeToString(randomBytes(t, 32)))
	a.Secrets = []installstore.Secret{clientSecret, signingSecret, stateSecret, key}

	slack, err := fakeslack.Start(fakeslack.Config{
		ClientID:      clientID,
		ClientSecret:  clientSecret,
		SigningSecret: signingSecret,
		RedirectURL:   a.URL + oauth.DefaultRedirectPath,
		EventsURL:     a.URL + oauth.DefaultEventsPath,
		Tokens:        fakeslack.Rotating,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	a.Slack = slack
	t.Cleanup(func() { require.NoError(t, slack.Close()) })

	db := filepath.Join(t.TempDir(), "installations.db")
	cmd := exec.Command(bin, "-addr", "127.0.0.1:"+strconv.Itoa(port))
	// Only what the app needs: nothing of the test's environment (a
	// DynamoDB endpoint that scripts/test.sh exports, say) reaches it.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"SLACK_CLIENT_ID=" + clientID,
		"SLACK_CLIENT_SECRET=" + clientSecret.Reveal(),
		"SLACK_SIGNING_SECRET=" + signingSecret.Reveal(),
		"SLACK_STATE_SECRET=" + stateSecret.Reveal(),
		"APP_BASE_URL=" + a.URL,
		"SLACK_URL=" + slack.URL(),
		"INSTALLVAULT_LOCAL_KEYS=" + key.Reveal(),
		"INSTALLVAULT_STORE=sqlite:" + db,
	}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			_, _ = logs.Write(append(sc.Bytes(), '\n'))
			if !signalled && strings.HasPrefix(sc.Text(), readyLine) {
				close(ready)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				require.NoError(t, err, "the app exits cleanly on SIGTERM")
			case <-time.After(startTimeout):
				_ = cmd.Process.Kill()
				t.Errorf("the app did not stop within %v of SIGTERM", startTimeout)
			}
		}
		// Whatever happened in the test, the logs (app, oauth, refresher,
		// fake Slack) hold no token, code or secret.
		out := logs.String()
		require.NotEmpty(t, out)
		for _, s := range append(slack.IssuedSecrets(), a.Secrets...) {
			require.NotContains(t, out, s.Reveal(), "a secret was logged")
		}
		if t.Failed() { // checked above: they hold no secret
			t.Logf("the logs of the app and the fake Slack:\n%s", out)
		}
	})
	select {
	case <-ready:
	case err := <-exited:
		stopped = true
		t.Fatalf("the app exited before serving (%v):\n%s", err, logs.String())
	case <-time.After(startTimeout):
		t.Fatalf("the app printed no %q within %v:\n%s", readyLine, startTimeout, logs.String())
	}

	// The app created the file; the test opens it too (SQLite in WAL mode
	// serves several processes) and seals and opens with the same key.
	backend, err := sqlite.Open(context.Background(), db)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, backend.Close()) })
	keys, err := crypto.ParseLocalKeyring(key.Reveal(), "")
	require.NoError(t, err)
	a.Sealed, err = crypto.NewStore(backend, keys)
	require.NoError(t, err)
	a.Backend = backend
	return a
}

// freePort returns a port of 127.0.0.1 that was free a moment ago: the app
// and the fake Slack must know the app's URL before it starts.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// randomSecret is 32 random bytes in hex, like the demo's made-up secrets.
func randomSecret(t *testing.T) installstore.Secret {
	return installstore.NewSecret(hex.EncodeToString(randomBytes(t, 32)))
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// countRecords counts the backend's records.
func countRecords(t *testing.T, s installstore.Lister) int {
	t.Helper()
	n := 0
	require.NoError(t, s.ListInstallations(context.Background(), func(installstore.Query, *installstore.Installation) error {
		n++
		return nil
	}))
	return n
}
