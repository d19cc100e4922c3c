package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/rotation"
)

// Environment of the browser test.
const (
	envChromium    = "INSTALLVAULT_CHROMIUM"
	envSkipBrowser = "INSTALLVAULT_SKIP_BROWSER"
	defaultBrowser = "/usr/bin/chromium"
)

// defaultScopes are the bot scopes the app asks for (its default).
var defaultScopes = []string{"app_mentions:read", "chat:write"}

// browserPath returns the Chromium to drive. Without one the test is
// skipped (one line), unless CI=true, where it fails; INSTALLVAULT_SKIP_BROWSER=1
// skips it even then.
func browserPath(t *testing.T) string {
	t.Helper()
	if os.Getenv(envSkipBrowser) == "1" {
		t.Skip(envSkipBrowser + "=1: skipping the headless Chromium test")
	}
	p := os.Getenv(envChromium)
	if p == "" {
		p = defaultBrowser
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		msg := "no headless Chromium at " + p + ": run `scripts/chromium.sh install` (Debian's chromium), or set " + envChromium + " to a Chromium binary"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// newBrowser starts a headless Chromium with a fresh profile and returns a
// tab's context; everything stops at the end of the test.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Without these Chromium keeps calling Google services, which a
		// closed network refuses over and over.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	// The first call starts the browser, which lives as long as ctx: no
	// timeout on it (see browse for the per-step bound).
	require.NoError(t, chromedp.Do(ctx), "start Chromium at %s", path)
	return ctx
}

// browse runs steps in the browser, bounded so that a missing element fails
// the test instead of hanging it.
func browse(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// pages records the HTML of every page the browser showed.
type pages struct{ html []string }

// capture appends the current page's HTML and returns its visible text.
func (p *pages) capture(text *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		html, err := chromedp.OuterHTML(chromedp.CSS("html"))(ctx, t)
		if err != nil {
			return err
		}
		p.html = append(p.html, html)
		*text, err = chromedp.Text(chromedp.CSS("body"))(ctx, t)
		return err
	})
}

func TestAppInBrowser(t *testing.T) {
	path := browserPath(t)
	d := startApp(t)
	ctx := newBrowser(t, path)
	var seen pages
	var text string
	const acme, globex = "T0DEMO00001", "T0DEMO00002"
	store := d.Sealed
	bg := context.Background()

	// Cancel on Slack's page: the failure page, nothing stored.
	browse(t, ctx,
		chromedp.Navigate(d.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("add-to-slack")),
		seen.capture(&text),
		chromedp.Click(chromedp.ID("add-to-slack")),
		chromedp.WaitVisible(chromedp.ID("cancel")),
		chromedp.Click(chromedp.ID("cancel")),
		chromedp.WaitVisible(chromedp.ID("reason")),
		seen.capture(&text),
	)
	require.Contains(t, text, "Installation cancelled")
	require.Contains(t, text, "access_denied")
	require.Zero(t, countRecords(t, d.Backend), "a cancelled install stored something")

	// Add to Slack → the consent page lists the scopes → Allow → installed.
	var consent string
	browse(t, ctx,
		chromedp.Navigate(d.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("add-to-slack")),
		chromedp.Click(chromedp.ID("add-to-slack")),
		chromedp.WaitVisible(chromedp.ID("allow")),
		seen.capture(&consent),
		chromedp.Click(chromedp.ID("allow")),
		chromedp.WaitVisible(chromedp.ID("tenant-"+acme)),
		seen.capture(&text),
	)
	require.Contains(t, consent, "app_mentions:read")
	require.Contains(t, consent, "chat:write")
	require.Contains(t, text, "Installed in Acme Demo ("+acme+")")
	require.Contains(t, text, "app_mentions:read, chat:write")
	require.Contains(t, text, "rotating, expires")
	require.Regexp(t, `Version\s+\d+`, text)

	// The stored record, read back through the sealed store, is what the
	// fake Slack issued; the file holds it sealed.
	inst, err := store.FetchInstallation(bg, installstore.Query{TeamID: acme})
	require.NoError(t, err)
	require.Equal(t, "Acme Demo", inst.TeamName)
	require.Equal(t, "A0DEMOAPP01", inst.AppID)
	require.Equal(t, "U0DEMO00001", inst.User.ID)
	require.NotNil(t, inst.Bot)
	require.Equal(t, "U0DEMOBOT01", inst.Bot.UserID)
	require.Equal(t, "B0DEMOBOT01", inst.Bot.ID)
	require.Equal(t, defaultScopes, inst.Bot.Scopes)
	require.Contains(t, d.Slack.IssuedSecrets(), inst.Bot.Token)
	require.Contains(t, d.Slack.IssuedSecrets(), inst.Bot.RefreshToken)
	require.WithinDuration(t, time.Now().Add(fakeslack.DefaultTokenLifetime), inst.Bot.ExpiresAt, time.Minute)
	firstToken := inst.Bot.Token
	storetest.RequireSealedAtRest(t, d.Backend, installstore.Query{TeamID: acme}, inst)

	// A second workspace, picked on the consent page.
	browse(t, ctx,
		chromedp.Click(chromedp.ID("add-to-slack")),
		chromedp.WaitVisible(chromedp.ID("allow")),
		chromedp.SetValue(chromedp.ID("team"), globex),
		seen.capture(&consent),
		chromedp.Click(chromedp.ID("allow")),
		chromedp.WaitVisible(chromedp.ID("tenant-"+globex)),
		chromedp.WaitVisible(chromedp.ID("tenant-"+acme)),
		seen.capture(&text),
	)
	require.Contains(t, text, "Installed in Globex Demo ("+globex+")")
	require.Contains(t, text, "Installed in Acme Demo ("+acme+")")

	// Acme's token is aged into the app's refresh margin (rotation's
	// default 2 h of the 12 h), half of it before expiry: beyond the safety
	// margin, so the mention below is answered at once with it while its
	// refresh runs in the background. (The app's clock cannot be moved from
	// here; the stored expiry can, in the app's own file, through the same
	// key: what the refresher reads is the same.)
	inst, err = store.FetchInstallation(bg, installstore.Query{TeamID: acme})
	require.NoError(t, err)
	require.True(t, inst.Bot.Token.Equal(firstToken), "nothing refreshed Acme's token yet")
	inst.Bot.ExpiresAt = time.Now().Add(rotation.DefaultRefreshBefore / 2)
	require.NoError(t, store.UpdateInstallation(bg, inst))
	agedVersion := inst.Version

	// @mention the app in Acme's #general: it answers with Acme's own
	// token; the refreshed token is stored.
	browse(t, ctx,
		chromedp.Click(chromedp.ID("channel-"+acme)),
		chromedp.WaitVisible(chromedp.ID("mention")),
		chromedp.Click(chromedp.ID("mention")),
		chromedp.WaitVisible(chromedp.CSS("#messages .bot")),
		seen.capture(&text),
	)
	require.Contains(t, text, "posted with workspace "+acme+"'s own bot token")
	msgs := d.Slack.Messages(acme)
	require.Len(t, msgs, 2)
	require.Equal(t, fakeslack.DemoChannel, msgs[1].Channel)
	require.Equal(t, msgs[0].TS, msgs[1].ThreadTS, "the reply is in the mention's thread")
	var refreshed *installstore.Installation
	require.Eventually(t, func() bool {
		refreshed, err = store.FetchInstallation(bg, installstore.Query{TeamID: acme})
		return err == nil && !refreshed.Bot.Token.Equal(firstToken)
	}, 30*time.Second, 10*time.Millisecond, "Acme's token was never refreshed")
	require.GreaterOrEqual(t, d.Slack.Stats().Refreshes, 1)
	require.Contains(t, []installstore.Secret{firstToken, refreshed.Bot.Token}, msgs[1].Token,
		"the reply used one of Acme's own tokens, valid when it was used")
	require.Greater(t, refreshed.Version, agedVersion)
	require.WithinDuration(t, time.Now().Add(fakeslack.DefaultTokenLifetime), refreshed.Bot.ExpiresAt, time.Minute,
		"the refreshed token lives a full lifetime")
	require.Empty(t, d.Slack.Messages(globex), "nothing was posted in the other workspace")

	// Uninstall from Acme: app_uninstalled arrives signed, Acme is gone,
	// Globex stays; the app's own code hears of it after the purge.
	browse(t, ctx,
		chromedp.Click(chromedp.ID("back")),
		chromedp.WaitVisible(chromedp.ID("uninstall-"+acme)),
		chromedp.Click(chromedp.ID("uninstall-"+acme)),
		chromedp.WaitVisible(chromedp.CSS("#tenant-"+acme+" .gone")),
		seen.capture(&text),
	)
	require.Contains(t, text, acme+": not installed")
	require.Contains(t, text, "Installed in Globex Demo ("+globex+")")
	_, err = store.FetchInstallation(bg, installstore.Query{TeamID: acme})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	_, err = store.FetchInstallation(bg, installstore.Query{TeamID: globex})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return hasLine(d.Logs.String(), "workspace uninstalled the app", acme)
	}, 30*time.Second, 10*time.Millisecond, "the app's event handler did not hear of the uninstall")

	// No page ever showed a token, a code or a secret.
	require.NotEmpty(t, seen.html)
	secrets := append(d.Slack.IssuedSecrets(), d.Secrets...)
	for i, html := range seen.html {
		for _, s := range secrets {
			require.NotContains(t, html, s.Reveal(), "page %d shows a secret", i)
		}
		require.NotContains(t, html, "xox", "page %d shows something token-like", i)
		require.NotContains(t, html, "ivsealed:", "page %d shows a sealed value", i)
	}
}

// hasLine reports whether a line of logs contains every one of parts.
func hasLine(logs string, parts ...string) bool {
	for line := range strings.Lines(logs) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
