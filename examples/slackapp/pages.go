package main

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/oauth"
)

// installationView is what /installed shows of an installation: never a
// token, only whether there is one.
type installationView struct {
	TeamID, TeamName, EnterpriseID, AppID string
	OrgWide                               bool
	BotUserID, BotID                      string
	BotScopes, UserScopes                 string
	InstallerID                           string
	HasUserToken, Rotating                bool
	ExpiresAt, InstalledAt                string
	ExpiresIn                             string
	Version                               int64
}

// viewOf copies the displayable fields of inst.
func viewOf(inst *installstore.Installation, now time.Time) installationView {
	v := installationView{
		TeamID: inst.TeamID, TeamName: inst.TeamName, EnterpriseID: inst.EnterpriseID, AppID: inst.AppID,
		OrgWide: inst.IsEnterpriseInstall, InstallerID: inst.User.ID, HasUserToken: !inst.User.Token.IsZero(),
		UserScopes: strings.Join(inst.User.Scopes, ", "), InstalledAt: inst.InstalledAt.UTC().Format(time.RFC3339),
		Version: inst.Version,
	}
	if b := inst.Bot; b != nil {
		v.BotUserID, v.BotID, v.BotScopes = b.UserID, b.ID, strings.Join(b.Scopes, ", ")
		v.Rotating = !b.RefreshToken.IsZero()
		if !b.ExpiresAt.IsZero() {
			v.ExpiresAt = b.ExpiresAt.UTC().Format(time.RFC3339)
			v.ExpiresIn = b.ExpiresAt.Sub(now).Round(time.Minute).String()
		}
	}
	return v
}

// tenantRow is one tenant of the browser's session on /installed.
type tenantRow struct {
	Query installstore.Query
	// ID names the row in the page: the team ID, or the enterprise ID of
	// an org-wide install.
	ID           string
	Label        string
	Installation *installationView
	// Problem is set when the installation could not be read (not a
	// missing one).
	Problem string
}

// demoLinks are the stand-in's pages, shown in -demo mode only.
type demoLinks struct {
	// SlackURL is the stand-in's base URL.
	SlackURL string
}

const style = `<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1d1c1d}
table{border-collapse:collapse}td,th{text-align:left;padding:.2rem .8rem .2rem 0;vertical-align:top}
.card{border:1px solid #ddd;border-radius:8px;padding:.5rem 1rem;margin:1rem 0}.gone{color:#8a8a8a}
a.button,button{display:inline-block;font-size:1rem;padding:.5rem 1.2rem;border-radius:4px;border:1px solid #4a154b;background:#4a154b;color:#fff;text-decoration:none;cursor:pointer}
form{display:inline}.demo{background:#fff8e1;padding:.3rem .8rem;border-radius:6px}.ref{color:#616061;font-size:.85rem}</style>`

var (
	homePage = template.Must(template.New("home").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>installvault example app</title>` + style + `</head><body>
<h1>installvault example Slack app</h1>
{{if .Demo}}<p class="demo">Demo mode: "Slack" is a stand-in at {{.Demo.SlackURL}}; nothing leaves this machine.</p>{{end}}
<p>Install the app in a workspace. Its tokens are sealed before they are stored, refreshed once when they rotate,
and never shown anywhere.</p>
<p><a class="button" id="add-to-slack" href="{{.InstallPath}}">Add to Slack</a></p>
<p><a href="/installed">Installations made from this browser</a></p>
</body></html>
`))
	installedPage = template.Must(template.New("installed").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Installed — installvault example app</title>` + style + `</head><body>
<h1>Installations made from this browser</h1>
{{if .Demo}}<p class="demo">Demo mode: buttons below ask the Slack stand-in to act like Slack (send an @mention, uninstall the app).</p>{{end}}
{{if not .Rows}}<p id="none">No installation yet.</p>{{end}}
{{range .Rows}}<div class="card" id="tenant-{{.ID}}">
{{with .Installation}}<h2>Installed in {{.TeamName}} <small>({{.TeamID}})</small></h2>
<table>
<tr><th>Enterprise</th><td>{{if .EnterpriseID}}{{.EnterpriseID}}{{if .OrgWide}} (org-wide install){{end}}{{else}}none{{end}}</td></tr>
<tr><th>App</th><td>{{.AppID}}</td></tr>
<tr><th>Bot</th><td>{{if .BotUserID}}{{.BotUserID}} ({{.BotID}}){{else}}none{{end}}</td></tr>
<tr><th>Bot scopes</th><td class="scopes">{{.BotScopes}}</td></tr>
<tr><th>User scopes</th><td>{{if .UserScopes}}{{.UserScopes}}{{else}}none{{end}}{{if .HasUserToken}} (user token held){{end}}</td></tr>
<tr><th>Installed by</th><td>{{.InstallerID}}</td></tr>
<tr><th>Installed at</th><td>{{.InstalledAt}}</td></tr>
<tr><th>Bot token</th><td class="expiry">{{if .ExpiresAt}}rotating, expires {{.ExpiresAt}} (in {{.ExpiresIn}}){{else}}does not expire{{end}}</td></tr>
<tr><th>Version</th><td class="version">{{.Version}}</td></tr>
</table>
{{if $.Demo}}<p><a class="button" id="channel-{{.TeamID}}" href="{{$.Demo.SlackURL}}/demo/channel?team={{.TeamID}}">Open #general to @mention the app</a>
<form method="post" action="{{$.Demo.SlackURL}}/demo/uninstall"><input type="hidden" name="team" value="{{.TeamID}}">
<input type="hidden" name="return" value="{{$.Self}}"><button type="submit" id="uninstall-{{.TeamID}}">Uninstall from {{.TeamName}}</button></form></p>{{end}}
{{else}}{{if .Problem}}<h2>{{.Label}}</h2><p class="problem">{{.Problem}}</p>
{{else}}<h2 class="gone">{{.Label}}: not installed</h2><p class="gone">The app was uninstalled; nothing of this workspace is stored any more.</p>{{end}}{{end}}
</div>{{end}}
<p><a class="button" id="add-to-slack" href="{{.InstallPath}}">Add to Slack</a></p>
</body></html>
`))
	failurePage = template.Must(template.New("failure").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}} — installvault example app</title>` + style + `</head><body>
<h1>{{.Title}}</h1><p id="message">{{.Message}}</p>
<p><a class="button" id="start-again" href="/">Back to the start page</a></p>
<p class="ref">Reference for support: <code id="reason">{{.Reason}}</code></p></body></html>
`))
	problemPage = template.Must(template.New("problem").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}} — installvault example app</title>` + style + `</head><body>
<h1>{{.Title}}</h1><p id="message">{{.Message}}</p>
<p><a class="button" id="start-again" href="/">Back to the start page</a></p>
<p class="ref">Error {{.Status}}</p></body></html>
`))
)

// failureTitle is the heading of an oauth failure page, in the installing
// person's words.
func failureTitle(f *oauth.Failure) string {
	switch f.Reason {
	case oauth.ReasonAccessDenied:
		return "Installation cancelled"
	case oauth.ReasonInstallerRejected, oauth.ReasonAdminCheckFailed:
		return "Ask an admin to install the app"
	case oauth.ReasonUnavailable:
		return "Please try again in a minute"
	}
	return "Installation failed"
}

// render executes t into a buffer, so that a template error never sends
// half a page, and sets the headers every page gets.
func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
