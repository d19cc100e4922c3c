package standin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// obj is a JSON object answer.
type obj = map[string]any

// answer writes a Web API answer (always 200, as Slack does).
func answer(w http.ResponseWriter, v obj) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// fail writes a Web API error answer.
func fail(w http.ResponseWriter, code string) {
	answer(w, obj{"ok": false, "error": code})
}

// formToken is the token of a Web API call: the Authorization bearer
// header, or the token form field (slack-go sends the latter).
func formToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	return r.PostForm.Get("token")
}

// serveAccess is oauth.v2.access: the code exchange, or the refresh_token
// grant.
func (s *Server) serveAccess(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		fail(w, "invalid_form_data")
		return
	}
	f := r.PostForm
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case id != s.cfg.ClientID:
		s.stats.Rejected++
		fail(w, "invalid_client_id")
		return
	case secret != s.cfg.ClientSecret.Reveal():
		s.stats.Rejected++
		fail(w, "bad_client_secret")
		return
	}
	now := s.cfg.Now()
	if f.Get("grant_type") == "refresh_token" {
		s.refreshLocked(w, f.Get("refresh_token"), now)
		return
	}
	code := f.Get("code")
	g := s.codes[code]
	delete(s.codes, code) // single use, even when the rest is wrong
	switch {
	case code == "" || g == nil || !now.Before(g.expires):
		s.stats.Rejected++
		fail(w, "invalid_code")
		return
	case f.Get("redirect_uri") != g.redirectURI:
		s.stats.Rejected++
		fail(w, "bad_redirect_uri")
		return
	}
	ws, _ := s.workspace(g.team)
	t := s.team(ws.ID)
	t.installed, t.scope, t.userScope = true, g.scope, g.userScope
	s.stats.Exchanges++
	resp := s.teamFields(ws)
	user := obj{"id": ws.UserID}
	if len(g.userScope) > 0 {
		access, refresh := s.issueAccess(ws.ID, ws.UserID, g.userScope, now)
		user = obj{"id": ws.UserID, "scope": strings.Join(g.userScope, ","), "access_token": access,
			"token_type": "user", "refresh_token": refresh, "expires_in": s.expiresIn()}
	}
	resp["authed_user"] = user
	if len(g.scope) > 0 {
		access, refresh := s.issueAccess(ws.ID, "", g.scope, now)
		resp["access_token"], resp["token_type"], resp["scope"] = access, "bot", strings.Join(g.scope, ",")
		resp["bot_user_id"], resp["refresh_token"], resp["expires_in"] = ws.BotUserID, refresh, s.expiresIn()
	}
	s.cfg.Logger.Info("standin: oauth.v2.access: code exchanged", "team_id", ws.ID)
	answer(w, resp)
}

// refreshLocked answers the refresh_token grant. s.mu is held.
func (s *Server) refreshLocked(w http.ResponseWriter, refresh string, now time.Time) {
	g := s.refresh[refresh]
	if g == nil || !s.team(g.team).installed {
		s.stats.Rejected++
		fail(w, "invalid_refresh_token")
		return
	}
	delete(s.refresh, refresh) // single use: the answer carries the next one
	ws, _ := s.workspace(g.team)
	access, next := s.issueAccess(g.team, g.user, g.scope, now)
	s.stats.Refreshes++
	resp := s.teamFields(ws)
	resp["access_token"], resp["refresh_token"], resp["expires_in"] = access, next, s.expiresIn()
	resp["scope"] = strings.Join(g.scope, ",")
	if g.user == "" {
		resp["token_type"], resp["bot_user_id"] = "bot", ws.BotUserID
		resp["authed_user"] = obj{"id": ws.UserID}
	} else {
		resp["token_type"] = "user"
		resp["authed_user"] = obj{"id": g.user}
	}
	s.cfg.Logger.Info("standin: oauth.v2.access: token refreshed", "team_id", ws.ID, "user", g.user != "")
	answer(w, resp)
}

// teamFields are the fields every oauth.v2.access answer carries.
func (s *Server) teamFields(ws Workspace) obj {
	return obj{"ok": true, "app_id": s.cfg.AppID, "team": obj{"id": ws.ID, "name": ws.Name},
		"enterprise": nil, "is_enterprise_install": false}
}

func (s *Server) expiresIn() int { return int(s.cfg.TokenLifetime / time.Second) }

// serveAuthTest is auth.test.
func (s *Server) serveAuthTest(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, problem := s.checkToken(formToken(r), s.cfg.Now())
	if problem != "" {
		s.stats.Rejected++
		fail(w, problem)
		return
	}
	ws, _ := s.workspace(tok.team)
	resp := obj{"ok": true, "url": "https://" + ws.Domain + ".slack.com/", "team": ws.Name, "team_id": ws.ID,
		"is_enterprise_install": false}
	if tok.user == "" {
		resp["user"], resp["user_id"], resp["bot_id"] = "demo-app", ws.BotUserID, ws.BotID
	} else {
		resp["user"], resp["user_id"] = ws.UserName, ws.UserID
	}
	answer(w, resp)
}

// servePostMessage is chat.postMessage: it records the message in the
// token's workspace.
func (s *Server) servePostMessage(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	token := formToken(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, problem := s.checkToken(token, s.cfg.Now())
	switch {
	case problem != "":
		s.stats.Rejected++
		fail(w, problem)
		return
	case r.PostForm.Get("channel") == "":
		fail(w, "channel_not_found")
		return
	case r.PostForm.Get("text") == "" && r.PostForm.Get("blocks") == "":
		fail(w, "no_text")
		return
	}
	ws, _ := s.workspace(tok.team)
	author := ws.BotUserID
	if tok.user != "" {
		author = tok.user
	}
	m := Message{TeamID: ws.ID, Channel: r.PostForm.Get("channel"), User: author, Text: r.PostForm.Get("text"),
		TS: s.nextTS(), ThreadTS: r.PostForm.Get("thread_ts"), Token: secretFrom(token)}
	t := s.team(ws.ID)
	t.messages = append(t.messages, m)
	s.stats.Posts++
	s.cfg.Logger.Info("standin: chat.postMessage", "team_id", ws.ID, "channel", m.Channel)
	answer(w, obj{"ok": true, "channel": m.Channel, "ts": m.TS,
		"message": obj{"type": "message", "user": author, "text": m.Text, "ts": m.TS, "bot_id": ws.BotID}})
}

// serveUserInfo is users.info: the installing user of the token's
// workspace, with is_admin; it needs the users:read scope, as at Slack.
func (s *Server) serveUserInfo(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, problem := s.checkToken(formToken(r), s.cfg.Now())
	switch {
	case problem != "":
		s.stats.Rejected++
		fail(w, problem)
		return
	case !slices.Contains(tok.scope, "users:read"):
		fail(w, "missing_scope")
		return
	}
	ws, _ := s.workspace(tok.team)
	switch r.PostForm.Get("user") {
	case ws.UserID:
		answer(w, obj{"ok": true, "user": obj{"id": ws.UserID, "team_id": ws.ID, "name": ws.UserName,
			"is_admin": ws.UserIsAdmin, "is_owner": false, "is_primary_owner": false, "is_bot": false}})
	case ws.BotUserID:
		answer(w, obj{"ok": true, "user": obj{"id": ws.BotUserID, "team_id": ws.ID, "name": "demo-app", "is_bot": true}})
	default:
		fail(w, "user_not_found")
	}
}

// serveAppsUninstall is apps.uninstall: with the app's client ID and
// secret and one of its tokens, it removes the app from the token's
// workspace (every token revoked). Unlike an uninstall from Slack's UI
// ([Server.Uninstall]) it sends no app_uninstalled: the app asked for it.
func (s *Server) serveAppsUninstall(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PostForm.Get("client_id") != s.cfg.ClientID || r.PostForm.Get("client_secret") != s.cfg.ClientSecret.Reveal() {
		s.stats.Rejected++
		fail(w, "invalid_client_id")
		return
	}
	tok, problem := s.checkToken(formToken(r), s.cfg.Now())
	if problem != "" {
		s.stats.Rejected++
		fail(w, problem)
		return
	}
	s.revokeTeam(tok.team)
	s.stats.AppUninstalls++
	s.cfg.Logger.Info("standin: apps.uninstall", "team_id", tok.team)
	answer(w, obj{"ok": true})
}

// serveAuthRevoke is auth.revoke: it revokes the calling token.
func (s *Server) serveAuthRevoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, problem := s.checkToken(formToken(r), s.cfg.Now())
	if problem != "" {
		s.stats.Rejected++
		fail(w, problem)
		return
	}
	tok.revoked = true
	s.stats.Revokes++
	s.cfg.Logger.Info("standin: auth.revoke", "team_id", tok.team, "user", tok.user != "")
	answer(w, obj{"ok": true, "revoked": true})
}

// serveUnknownMethod answers methods the stand-in does not implement.
func (s *Server) serveUnknownMethod(w http.ResponseWriter, _ *http.Request) {
	fail(w, "unknown_method")
}

// nextTS returns a message timestamp, unique within the server. s.mu is held.
func (s *Server) nextTS() string {
	s.seq++
	return strconv.FormatInt(s.cfg.Now().Unix(), 10) + "." + leftPad(s.seq)
}

func leftPad(n int64) string {
	v := strconv.FormatInt(n, 10)
	for len(v) < 6 {
		v = "0" + v
	}
	return v
}
