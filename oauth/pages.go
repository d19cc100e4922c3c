package oauth

import (
	"html/template"
	"net/http"

	"github.com/installvault/installvault/installstore"
)

// Reason says why an install failed. Values are stable, for metrics and
// custom failure pages.
type Reason string

// Failure reasons.
const (
	// ReasonAccessDenied: the user cancelled on Slack's page (error=access_denied).
	ReasonAccessDenied Reason = "access_denied"
	// ReasonSlackError: Slack redirected back with another error.
	ReasonSlackError Reason = "slack_error"
	// ReasonStateMissing: the callback has no state parameter.
	ReasonStateMissing Reason = "state_missing"
	// ReasonCookieMissing: the browser did not send the state cookie back
	// (proxy, domain, path or https misconfiguration, or another browser).
	ReasonCookieMissing Reason = "cookie_missing"
	// ReasonStateInvalid: the state is malformed, tampered with, or signed
	// with another key.
	ReasonStateInvalid Reason = "state_invalid"
	// ReasonStateExpired: the state is older than StateTTL.
	ReasonStateExpired Reason = "state_expired"
	// ReasonStateMismatch: the state is not the one this browser's cookie holds.
	ReasonStateMismatch Reason = "state_mismatch"
	// ReasonStateUsed: the state's nonce was already used (a replay or a
	// double submit) or is unknown to the nonce store.
	ReasonStateUsed Reason = "state_used"
	// ReasonCodeMissing: the callback has no code.
	ReasonCodeMissing Reason = "code_missing"
	// ReasonNonceStore: the nonce store failed.
	ReasonNonceStore Reason = "nonce_store_error"
	// ReasonExchangeFailed: oauth.v2.access or auth.test failed, or Slack
	// returned an installation that cannot be stored.
	ReasonExchangeFailed Reason = "exchange_failed"
	// ReasonInstallerRejected: Config.AuthorizeInstaller refused the installer.
	ReasonInstallerRejected Reason = "installer_rejected"
	// ReasonStoreFailed: the store could not save the installation.
	ReasonStoreFailed Reason = "store_failed"
)

// Failure describes a failed install, for Config.RenderFailure.
type Failure struct {
	// Status is the HTTP status the page should have (4xx or 5xx).
	Status int
	// Reason is the stable reason code.
	Reason Reason
	// Message is a human explanation safe to show the user: no secret, no
	// internal detail beyond configuration hints.
	Message string
	// Err is the underlying error, if any, for logs; it holds no secret.
	// Do not show it to users.
	Err error
}

var (
	installPage = template.Must(template.New("install").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Add to Slack</title></head>
<body><a href="{{.}}">Add to Slack</a></body></html>
`))
	successPage = template.Must(template.New("success").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Installed</title></head>
<body><h1>Installed</h1><p>The app is installed{{with .}} in {{.}}{{end}}. You can close this page.</p></body></html>
`))
	failurePage = template.Must(template.New("failure").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Installation failed</title></head>
<body><h1>Installation failed</h1><p>{{.Message}}</p><p>Reason: <code>{{.Reason}}</code></p></body></html>
`))
)

// pageHeaders sets headers every page of the flow gets: the callback URL
// carries the OAuth code, so no referrer, no caching, no framing.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

func renderInstall(w http.ResponseWriter, _ *http.Request, authorizeURL string) {
	w.WriteHeader(http.StatusOK)
	_ = installPage.Execute(w, template.URL(authorizeURL)) // authorizeURL is built by New's validated config
}

func renderSuccess(w http.ResponseWriter, _ *http.Request, inst *installstore.Installation) {
	name := inst.TeamName
	if inst.IsEnterpriseInstall || name == "" {
		name = inst.EnterpriseName
	}
	w.WriteHeader(http.StatusOK)
	_ = successPage.Execute(w, name)
}

func renderFailure(w http.ResponseWriter, _ *http.Request, f *Failure) {
	w.WriteHeader(f.Status)
	_ = failurePage.Execute(w, f)
}
