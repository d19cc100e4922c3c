package fakeslack

import (
	"bytes"
	"html/template"
	"net/http"
)

// scopeText describes the scopes the example app asks for, as Slack's
// consent page does.
var scopeText = map[string]string{
	"app_mentions:read": "View messages that directly mention @the app in conversations that the app is in",
	"chat:write":        "Send messages as @the app",
	"commands":          "Add shortcuts and/or slash commands that people can use",
	"channels:history":  "View messages and other content in public channels that the app has been added to",
	"users:read":        "View people in a workspace",
}

var funcs = template.FuncMap{"describe": func(s string) string { return scopeText[s] }}

const style = `<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1d1c1d}
.banner{background:#4a154b;color:#fff;padding:.5rem 1rem;border-radius:6px}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem;border-radius:4px;border:1px solid #ccc;cursor:pointer}
button.primary{background:#007a5a;color:#fff;border-color:#007a5a}li{margin:.3rem 0}code{background:#f4f4f4;padding:0 .2rem}
.msg{border-left:3px solid #ddd;padding:.3rem .8rem;margin:.5rem 0}.bot{border-color:#007a5a}</style>`

var (
	authorizePage = template.Must(template.New("authorize").Funcs(funcs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Slack stand-in: authorize</title>` + style + `</head><body>
<p class="banner">Slack stand-in (installvault demo) — not slack.com</p>
<h1>The app <code>{{.AppID}}</code> is requesting permission to access a workspace</h1>
<form method="post" action="/oauth/v2/authorize">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="scope" value="{{range $i, $s := .Scope}}{{if $i}},{{end}}{{$s}}{{end}}">
<input type="hidden" name="user_scope" value="{{range $i, $s := .UserScope}}{{if $i}},{{end}}{{$s}}{{end}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<p><label>Workspace: <select name="team" id="team">{{range .Workspaces}}<option value="{{.ID}}"{{if eq .ID $.Team}} selected{{end}}>{{.Name}} ({{.Domain}}.slack.com)</option>{{end}}</select></label></p>
{{with .Scope}}<h2>What will the app be able to do?</h2><ul id="scopes">{{range .}}<li><code>{{.}}</code> {{describe .}}</li>{{end}}</ul>{{end}}
{{with .UserScope}}<h2>On your behalf</h2><ul id="user-scopes">{{range .}}<li><code>{{.}}</code> {{describe .}}</li>{{end}}</ul>{{end}}
<p><button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>
<button type="submit" name="decision" value="allow" id="allow" class="primary">Allow</button></p>
</form></body></html>
`))
	channelPage = template.Must(template.New("channel").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Slack stand-in: #general in {{.Name}}</title>` + style + `</head><body>
<p class="banner">Slack stand-in (installvault demo) — not slack.com</p>
<h1>#general in {{.Name}}</h1>
{{if not .Messages}}<p>No messages yet.</p>{{end}}
<div id="messages">{{range .Messages}}<div class="msg{{if .Token}} bot{{end}}"><b>{{if .Token}}app{{else}}{{.User}}{{end}}</b>: {{.Text}}</div>{{end}}</div>
{{if .Installed}}<form method="post" action="/demo/mention"><input type="hidden" name="team" value="{{.ID}}">
<input name="text" value="hello" aria-label="message"> <button type="submit" id="mention" class="primary">Mention the app</button></form>
{{else}}<p id="not-installed">The app is not installed in {{.Name}}.</p>{{end}}
<p><a href="{{.AppURL}}" id="back">Back to the app</a></p>
</body></html>
`))
	errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Slack stand-in: error</title>` + style + `</head><body>
<p class="banner">Slack stand-in (installvault demo) — not slack.com</p>
<h1>Something went wrong</h1><p id="error">{{.}}</p></body></html>
`))
)

// render executes t into a buffer first, so a template error never leaves
// half a page.
func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
