package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
)

// requireStyledPage checks that body is one of the app's own pages, not Go's
// plain text, and speaks no developer jargon.
func requireStyledPage(t *testing.T, body string) {
	t.Helper()
	require.Contains(t, body, "<!DOCTYPE html>")
	require.Contains(t, body, "<style>")
	require.Contains(t, body, `id="start-again"`)
	for _, jargon := range []string{"state parameter", "CookieDomain", "CookiePath", "HTTPS", "nonce", "oauth.v2.access", "404 page not found"} {
		require.NotContains(t, body, jargon)
	}
}

// TestNotFoundAndMethodPages (issue 18): 404 and 405 are the app's own
// pages, with the right status and Allow header.
func TestNotFoundAndMethodPages(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
		says         string
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, "", "Page not found"},
		{http.MethodGet, "/installed/extra", http.StatusNotFound, "", "Page not found"},
		{http.MethodPost, "/", http.StatusMethodNotAllowed, "GET, HEAD", "cannot do that"},
		{http.MethodPost, "/installed", http.StatusMethodNotAllowed, "GET, HEAD", "cannot do that"},
		{http.MethodPost, "/slack/install", http.StatusMethodNotAllowed, "GET, HEAD", "cannot do that"},
		{http.MethodDelete, "/slack/oauth_redirect", http.StatusMethodNotAllowed, "GET", "cannot do that"},
		{http.MethodGet, "/slack/events", http.StatusMethodNotAllowed, "POST", "cannot do that"},
	} {
		req, err := http.NewRequest(c.method, d.URL+c.path, nil)
		require.NoError(t, err)
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		body := readBody(t, resp)
		require.Equal(t, c.status, resp.StatusCode, "%s %s", c.method, c.path)
		require.Equal(t, c.allow, resp.Header.Get("Allow"), "%s %s", c.method, c.path)
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Contains(t, body, c.says)
		requireStyledPage(t, body)
	}
}

// TestFailurePagesSpeakToTheUser: every way the callback can fail shows the
// app's styled page in plain words; the reason is there for support only.
func TestFailurePagesSpeakToTheUser(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	resp, err := noRedirect.Get(d.URL + "/slack/install")
	require.NoError(t, err)
	readBody(t, resp)
	cookie := findCookie(t, resp.Cookies(), "slack-app-oauth-state")
	authorize, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	state := authorize.Query().Get("state")

	for name, c := range map[string]struct {
		query  string
		cookie bool
		status int
		says   string
	}{
		"NoState":     {"code=x", true, http.StatusBadRequest, "start the installation again"},
		"NoCookie":    {"code=x&state=" + state, false, http.StatusBadRequest, "in this browser"},
		"Tampered":    {"code=x&state=" + state[:len(state)-2] + "AA", true, http.StatusBadRequest, "not valid"},
		"Cancelled":   {"error=access_denied&state=" + state, true, http.StatusForbidden, "cancelled"},
		"SlackError":  {"error=invalid_scope&state=" + state, true, http.StatusBadRequest, "Slack could not complete"},
		"NoCode":      {"state=" + state, true, http.StatusBadRequest, "incomplete"},
		"UnknownCode": {"code=not-a-code&state=" + state, true, http.StatusBadGateway, "Slack did not complete"},
	} {
		req, err := http.NewRequest(http.MethodGet, d.URL+"/slack/oauth_redirect?"+c.query, nil)
		require.NoError(t, err)
		if c.cookie {
			req.AddCookie(cookie)
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		body := readBody(t, resp)
		require.Equal(t, c.status, resp.StatusCode, name)
		require.Contains(t, body, c.says, name)
		require.Contains(t, body, "Reference for support", name)
		requireStyledPage(t, body)
		requireNoSecret(t, d, []string{body})
	}
}

// TestReloadAfterInstallShowsTheInstallation: reloading the callback page
// after a completed install shows the installations, not an error.
func TestReloadAfterInstallShowsTheInstallation(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	resp, err := noRedirect.Get(d.URL + "/slack/install")
	require.NoError(t, err)
	readBody(t, resp)
	state := findCookie(t, resp.Cookies(), "slack-app-oauth-state")
	authorize, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	form := authorize.Query()
	form.Set("team", "T0DEMO00001")
	form.Set("decision", "allow")
	resp, err = noRedirect.PostForm(d.Slack.AuthorizeURL(), form)
	require.NoError(t, err)
	readBody(t, resp)
	callback := resp.Header.Get("Location")

	get := func(c *http.Cookie) *http.Response {
		req, err := http.NewRequest(http.MethodGet, callback, nil)
		require.NoError(t, err)
		req.AddCookie(c)
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		readBody(t, resp)
		return resp
	}
	first := get(state)
	require.Equal(t, http.StatusSeeOther, first.StatusCode)
	done := findCookie(t, first.Cookies(), "slack-app-oauth-state")
	again := get(done)
	require.Equal(t, http.StatusSeeOther, again.StatusCode, "a reload is no failure")
	require.Equal(t, "/installed", again.Header.Get("Location"))
	require.Equal(t, 1, d.Slack.Stats().Exchanges)
	require.False(t, strings.Contains(again.Header.Get("Location"), "code="))
}

// TestAdminOnlyScopes (SLACK_ADMIN_ONLY_SCOPES): an admin installs; a
// non-admin's install is refused with a page telling them to ask an admin,
// nothing is stored, and the app is removed from that workspace at Slack.
func TestAdminOnlyScopes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d, err := startDemo(context.Background(), demoOptions{Listener: ln, TokenLifetime: fakeslack.DefaultTokenLifetime,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AdminOnlyScopes: []string{"chat:write"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })

	installByHTTP(t, d, "T0DEMO00001") // ada is an admin of Acme
	resp, body := callbackFor(t, d, "T0DEMO00002")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, "Ask an admin to install the app")
	require.Contains(t, body, "admin or owner of your workspace")
	requireStyledPage(t, body)
	_, err = d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: "T0DEMO00002"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.False(t, d.Slack.Installed("T0DEMO00002"), "the rejected install was undone at Slack")
	require.True(t, d.Slack.Installed("T0DEMO00001"))
	require.Equal(t, 1, d.Slack.Stats().AppUninstalls)
}

// TestInstallPreselectsTeam: /slack/install?team=T... asks Slack to
// pre-select that workspace.
func TestInstallPreselectsTeam(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	resp, err := noRedirect.Get(d.URL + "/slack/install?team=T0DEMO00002")
	require.NoError(t, err)
	readBody(t, resp)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	to, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "T0DEMO00002", to.Query().Get("team"))
	resp, err = http.Get(to.String())
	require.NoError(t, err)
	require.Contains(t, readBody(t, resp), `value="T0DEMO00002" selected`)

	resp, err = noRedirect.Get(d.URL + "/slack/install?team=" + url.QueryEscape("T0 bad"))
	require.NoError(t, err)
	body := readBody(t, resp)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	requireStyledPage(t, body)
}

// callbackFor walks install page → consent "Allow" in team → callback and
// returns the callback's answer.
func callbackFor(t *testing.T, d *demo, team string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Get(d.URL + "/slack/install")
	require.NoError(t, err)
	readBody(t, resp)
	state := findCookie(t, resp.Cookies(), "slack-app-oauth-state")
	authorize, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	form := authorize.Query()
	form.Set("team", team)
	form.Set("decision", "allow")
	resp, err = noRedirect.PostForm(d.Slack.AuthorizeURL(), form)
	require.NoError(t, err)
	readBody(t, resp)
	req, err := http.NewRequest(http.MethodGet, resp.Header.Get("Location"), nil)
	require.NoError(t, err)
	req.AddCookie(state)
	resp, err = noRedirect.Do(req)
	require.NoError(t, err)
	return resp, readBody(t, resp)
}
