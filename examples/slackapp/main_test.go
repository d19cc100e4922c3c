package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
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

// `slackapp -demo` prints the URL to open, serves it, and stops cleanly.
func TestRunDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-demo", "-addr", "127.0.0.1:0"}, env{}.get, &out, io.Discard) }()

	urlRE := regexp.MustCompile(`open (http://127\.0\.0\.1:\d+)/ in your browser`)
	var base string
	require.Eventually(t, func() bool {
		m := urlRE.FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "the demo did not print its URL: %q", out.String())

	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, readBody(t, resp), "Add to Slack")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	_, err = http.Get(base + "/")
	require.Error(t, err, "the app still serves after stopping")
}

func TestRunRejects(t *testing.T) {
	ctx := context.Background()
	err := run(ctx, []string{"-addr", "0.0.0.0:3000"}, validEnv().get, io.Discard, io.Discard)
	require.ErrorContains(t, err, "only 127.0.0.1")
	err = run(ctx, []string{"-addr", "127.0.0.1:0"}, env{}.get, io.Discard, io.Discard)
	require.ErrorContains(t, err, envClientID+" is required")
	err = run(ctx, []string{"-no-such-flag"}, env{}.get, io.Discard, io.Discard)
	require.ErrorContains(t, err, "no-such-flag")
}

// With real configuration (a local key, memory) the app serves the install
// flow pointing at slack.com.
func TestRunConfigured(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := validEnv()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, e.get, &out, io.Discard) }()
	addrRE := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	require.Eventually(t, func() bool {
		m := addrRE.FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "no listening line: %q", out.String())

	resp, err := noRedirect.Get(base + "/slack/install")
	require.NoError(t, err)
	readBody(t, resp)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Regexp(t, `^https://slack\.com/oauth/v2/authorize\?`, resp.Header.Get("Location"))
	require.Contains(t, resp.Header.Get("Location"), "redirect_uri=https%3A%2F%2Fapp.example.com%2Fslack%2Foauth_redirect")
	require.Contains(t, resp.Header.Get("Location"), "scope=app_mentions%3Aread%2Cchat%3Awrite")
	cancel()
	require.NoError(t, <-done)
}
