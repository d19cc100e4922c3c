package rotation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// echoRefresh is the refresh token the echoing endpoints put back into
// every part of their answer they control.
const echoRefresh = "xoxe-test-bot-echoed-secret"

// TestSlackAnswersNeverReachErrorsOrLogs: an endpoint that echoes the
// refresh token (or any text) in its error field, its status line, its
// Retry-After header or a redirect gets nothing of it into the error or
// the log: only a known error code, an HTTP status code, or a fixed
// description.
func TestSlackAnswersNeverReachErrorsOrLogs(t *testing.T) {
	for _, c := range []struct {
		name      string
		serve     http.HandlerFunc
		says      string // in the error
		transient bool   // matches installstore.ErrUnavailable
	}{
		{"error field echoes the refresh token", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"ok": false, "error": r.PostFormValue("refresh_token")})
		}, "Slack answered an unrecognized error", false},
		{"error field echoes the client secret", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"ok": false, "error": r.PostFormValue("client_secret")})
		}, "Slack answered an unrecognized error", false},
		{"error field with a code we do not know", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"ok": false, "error": "some_future_error"})
		}, "Slack answered an unrecognized error", false},
		{"known code", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_client_id"})
		}, "Slack answered invalid_client_id", false},
		{"known transient code", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"ok": false, "error": "service_unavailable"})
		}, "Slack answered service_unavailable", true},
		{"status line echoes the refresh token", func(w http.ResponseWriter, r *http.Request) {
			rawStatus(w, "503 "+r.PostFormValue("refresh_token"))
		}, "HTTP status 503 Service Unavailable", true},
		{"Retry-After echoes the refresh token", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", r.PostFormValue("refresh_token"))
			w.WriteHeader(http.StatusTooManyRequests)
		}, "rate limited with a malformed Retry-After", true},
		{"redirect to a URL holding the refresh token", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/"+r.PostFormValue("refresh_token"), http.StatusTemporaryRedirect)
		}, "connection refused", true},
		{"body that is not JSON", func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprint(w, r.PostFormValue("refresh_token"))
		}, "malformed answer", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.slack.Handle(access, c.serve)
			inst := &installstore.Installation{TeamID: "T0ECHO", Bot: &installstore.Bot{
				ID: "B1", Token: installstore.NewSecret("xoxb-test-expired"), RefreshToken: installstore.NewSecret(echoRefresh), ExpiresAt: e.clock.now().Add(-time.Minute),
			}}
			require.NoError(t, e.store.StoreInstallation(context.Background(), inst))
			r := e.refresher(nil)
			got, err := r.Authorize(context.Background(), installstore.Query{TeamID: "T0ECHO"})
			require.Nil(t, got)
			require.ErrorIs(t, err, ErrRefreshFailed)
			require.NotErrorIs(t, err, ErrReinstallRequired)
			require.Equal(t, c.transient, errors.Is(err, installstore.ErrUnavailable), "transient: %v", err)
			require.Contains(t, err.Error(), c.says)
			require.Equal(t, 1, e.slack.Calls(access), "the hostile endpoint answered")
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), e.logs.String()} {
				require.NotContains(t, text, echoRefresh)
				noSecrets(t, "error and log", text)
			}
		})
	}
}

// rawStatus writes a response whose status line is exactly status, which
// net/http's ResponseWriter cannot do.
func rawStatus(w http.ResponseWriter, status string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	_ = buf.Flush()
}

func TestClassifyKeepsKnownValuesOnly(t *testing.T) {
	for _, c := range []struct {
		err       error
		msg       string
		transient bool
	}{
		{&slack.RateLimitedError{RetryAfter: 30 * time.Second}, "rate limited (HTTP 429), retry after 30s", true},
		{&slack.RateLimitedError{RetryAfter: 1000 * time.Hour}, "rate limited (HTTP 429), retry after 15m0s", true},
		{slack.StatusCodeError{Code: 502, Status: "502 xoxe-test-leak"}, "HTTP status 502 Bad Gateway", true},
		{slack.StatusCodeError{Code: 403, Status: "403 xoxe-test-leak"}, "HTTP status 403 Forbidden", false},
		{slack.SlackErrorResponse{Err: "xoxe-test-leak"}, "Slack answered an unrecognized error", false},
		{slack.SlackErrorResponse{Err: "ratelimited"}, "Slack answered ratelimited", true},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), "timed out", true},
		{errors.New("xoxe-test-leak"), "unrecognized failure", false},
	} {
		f := classify(c.err)
		require.Equal(t, c.msg, f.msg)
		require.Equal(t, c.transient, f.transient, c.msg)
		require.NotContains(t, f.err().Error(), "xoxe-test-leak")
	}
	require.ErrorIs(t, classify(fmt.Errorf("x: %w", context.DeadlineExceeded)).err(), context.DeadlineExceeded)
	require.ErrorIs(t, classify(slack.SlackErrorResponse{Err: "invalid_grant"}).err(), ErrReinstallRequired)
	for code := range knownCodes {
		require.NotContains(t, code, "xox", "a code is never token-shaped")
		require.Equal(t, strings.ToLower(code), code)
	}
}
