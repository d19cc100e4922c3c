package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/examples/slackapp/standin"
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
	d := newTestDemo(t, standin.DefaultTokenLifetime)
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
	d := newTestDemo(t, standin.DefaultTokenLifetime)
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
	d := newTestDemo(t, standin.DefaultTokenLifetime)
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
