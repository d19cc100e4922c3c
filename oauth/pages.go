package oauth

import (
	"html/template"
	"net/http"

	"github.com/installvault/installvault/installstore"
)

// Reason says why an install did not complete. Values are stable, for
// metrics and custom failure pages.
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
	// (proxy, domain, path or https misconfiguration, or another browser;
	// the log says what to check).
	ReasonCookieMissing Reason = "cookie_missing"
	// ReasonStateInvalid: the state is malformed, tampered with, or signed
	// with another key.
	ReasonStateInvalid Reason = "state_invalid"
	// ReasonStateExpired: the state's own expiry (StateTTL after issue) passed.
	ReasonStateExpired Reason = "state_expired"
	// ReasonStateMismatch: the state is not the one this browser's cookie holds.
	ReasonStateMismatch Reason = "state_mismatch"
	// ReasonStateUsed: the state was already used (a replay or a double
	// submit).
	ReasonStateUsed Reason = "state_used"
	// ReasonCodeMissing: the callback has no code.
	ReasonCodeMissing Reason = "code_missing"
	// ReasonUnavailable: the store did not answer before the exchange
	// (ErrUnavailable); nothing was written and Slack was not called, so
	// reloading the page retries.
	ReasonUnavailable Reason = "unavailable"
	// ReasonInstallOptions: the install could not start: BeforeInstall chose
	// unusable options (logged), or no random nonce.
	ReasonInstallOptions Reason = "install_options"
	// ReasonExchangeFailed: oauth.v2.access or auth.test failed, or Slack
	// returned an installation that cannot be stored.
	ReasonExchangeFailed Reason = "exchange_failed"
	// ReasonInstallerRejected: the installer may not install the app: not an
	// admin or owner while SensitiveScopes were granted, or refused by
	// Config.AuthorizeInstaller. The install was undone at Slack.
	ReasonInstallerRejected Reason = "installer_rejected"
	// ReasonAdminCheckFailed: SensitiveScopes were granted and Slack could
	// not say whether the installer is an admin (users.info failed); the
	// guard failed closed and the install was undone at Slack.
	ReasonAdminCheckFailed Reason = "admin_check_failed"
	// ReasonStoreFailed: the store could not save the installation; the
	// install was undone at Slack.
	ReasonStoreFailed Reason = "store_failed"
	// ReasonAlreadyCompleted is no failure: the callback was loaded again
	// (reload, back button) in the browser that completed the install. Its
	// Status is 200; the page should say the app is installed.
	ReasonAlreadyCompleted Reason = "already_completed"
)

// Failure describes an install that did not complete in this request, for
// Config.RenderFailure.
type Failure struct {
	// Status is the HTTP status the page should have: 4xx or 5xx, or 200
	// for [ReasonAlreadyCompleted].
	Status int
	// Reason is the stable reason code.
	Reason Reason
	// Message is a human explanation for the person installing, saying
	// what to do next: no secret, no internal detail, no configuration
	// jargon (developer hints go to the log).
	Message string
	// Err is the underlying error, if any, for logs; it holds no secret.
	// Do not show it to users.
	Err error
}

const pageStyle = `<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d1c1d}
small{color:#616061}</style>`

var (
	installPage = template.Must(template.New("install").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Add to Slack</title>` + pageStyle + `</head>
<body><a href="{{.}}">Add to Slack</a></body></html>
`))
	successPage = template.Must(template.New("success").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Installed</title>` + pageStyle + `</head>
<body><h1>Installed</h1><p>The app is installed{{with .}} in {{.}}{{end}}. You can close this page.</p></body></html>
`))
	failurePage = template.Must(template.New("failure").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{if eq .Status 200}}Already installed{{else}}Installation failed{{end}}</title>` + pageStyle + `</head>
<body><h1>{{if eq .Status 200}}Already installed{{else}}Installation failed{{end}}</h1><p>{{.Message}}</p>
<p><small>Reference for support: {{.Reason}}</small></p></body></html>
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
