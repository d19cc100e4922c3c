// Package e2e is the end-to-end browser test of the example app in
// examples/slackapp: the app's own binary, built from the repository and
// run as a subprocess on 127.0.0.1 against a fake Slack the test runs,
// driven in a headless Chromium with chromedp.
//
// It is a module of its own, so that the library's go.mod carries no
// browser driver. Run it from this directory:
//
//	go test -race ./...
//
// The browser is INSTALLVAULT_CHROMIUM (default /usr/bin/chromium; install
// it with scripts/chromium.sh install). Without one the test skips in one
// line, unless CI=true, where it fails; INSTALLVAULT_SKIP_BROWSER=1 skips it
// anywhere.
package e2e
