package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// noRedirect is an HTTP client that shows each redirect instead of
// following it: the tests carry cookies by hand, as Go's cookie jar does not
// send the Secure state cookie over http://127.0.0.1 (browsers do).
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// installByHTTP installs the demo app in team the way a browser does —
// install page, consent page "Allow", callback — and returns the session
// cookie the app set and the pages' bodies.
func installByHTTP(t *testing.T, d *demo, team string) (*http.Cookie, []string) {
	t.Helper()
	var bodies []string
	resp, err := noRedirect.Get(d.URL + "/slack/install")
	require.NoError(t, err)
	bodies = append(bodies, readBody(t, resp))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	state := findCookie(t, resp.Cookies(), "slack-app-oauth-state")
	authorize, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(authorize.String(), d.Slack.AuthorizeURL()), "install redirects to the stand-in's authorize page")

	form := authorize.Query()
	form.Set("team", team)
	form.Set("decision", "allow")
	resp, err = noRedirect.PostForm(d.Slack.AuthorizeURL(), form)
	require.NoError(t, err)
	bodies = append(bodies, readBody(t, resp))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	callback := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(callback, d.URL+"/slack/oauth_redirect?"), callback)

	req, err := http.NewRequest(http.MethodGet, callback, nil)
	require.NoError(t, err)
	req.AddCookie(state)
	resp, err = noRedirect.Do(req)
	require.NoError(t, err)
	body := readBody(t, resp)
	bodies = append(bodies, body)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	require.Equal(t, "/installed", resp.Header.Get("Location"))
	return findCookie(t, resp.Cookies(), sessionCookie), bodies
}

// getPage fetches path from the app with the session cookie.
func getPage(t *testing.T, d *demo, path string, session *http.Cookie) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.URL+path, nil)
	require.NoError(t, err)
	if session != nil {
		req.AddCookie(session)
	}
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	return resp.StatusCode, readBody(t, resp)
}

func findCookie(t *testing.T, cs []*http.Cookie, name string) *http.Cookie {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in the response", name)
	return nil
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// offsetClock is the real clock moved forward by a settable offset.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
