package fakeslack

import (
	"encoding/json"
	"io"
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

// raw writes a canned Web API answer.
func raw(w http.ResponseWriter, js string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = io.WriteString(w, js)
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
		s.refreshLocked(w, f.Get("refresh_token"), now, callNumber(r.Context()))
		return
	}
	code := f.Get("code")
	if canned, ok := s.scripts[code]; ok {
		s.cannedLocked(w, code, canned, f.Get("redirect_uri"))
		return
	}
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
	resp := s.teamFields(ws.ID, ws.Name)
	user := obj{"id": ws.UserID}
	call := callNumber(r.Context())
	if len(g.userScope) > 0 {
		access, refresh := s.issueAccess(ws.ID, ws.UserID, g.userScope, now, call)
		user = obj{"id": ws.UserID, "scope": strings.Join(g.userScope, ","), "access_token": access,
			"token_type": "user", "refresh_token": refresh, "expires_in": s.expiresIn()}
	}
	resp["authed_user"] = user
	if len(g.scope) > 0 {
		access, refresh := s.issueAccess(ws.ID, "", g.scope, now, call)
		resp["access_token"], resp["token_type"], resp["scope"] = access, "bot", strings.Join(g.scope, ",")
		resp["bot_user_id"], resp["refresh_token"], resp["expires_in"] = ws.BotUserID, refresh, s.expiresIn()
	}
	s.cfg.Logger.Info("fakeslack: oauth.v2.access: code exchanged", "team_id", ws.ID)
	answer(w, resp)
}

// refreshLocked answers the refresh_token grant of call. s.mu is held.
func (s *Server) refreshLocked(w http.ResponseWriter, refresh string, now time.Time, call int) {
	g := s.refresh[refresh]
	if g == nil && refresh != "" && !s.spent[refresh] && s.cfg.AcceptRefreshToken != nil && s.cfg.AcceptRefreshToken(refresh) {
		g = &refreshGrant{} // a bot token of no known workspace
		s.team("").installed = true
	}
	if g == nil || !s.team(g.team).installed {
		s.stats.Rejected++
		fail(w, "invalid_refresh_token")
		return
	}
	if !s.reuse {
		delete(s.refresh, refresh) // single use: the answer carries the next one
		s.spent[refresh] = true
	}
	ws, _ := s.workspace(g.team)
	access, next := s.issueAccess(g.team, g.user, g.scope, now, call)
	s.stats.Refreshes++
	resp := s.teamFields(g.team, ws.Name)
	resp["access_token"], resp["refresh_token"], resp["expires_in"] = access, next, s.expiresIn()
	resp["scope"] = strings.Join(g.scope, ",")
	if g.user == "" {
		resp["token_type"], resp["bot_user_id"] = "bot", ws.BotUserID
		resp["authed_user"] = obj{"id": ws.UserID}
	} else {
		resp["token_type"] = "user"
		resp["authed_user"] = obj{"id": g.user}
	}
	s.cfg.Logger.Info("fakeslack: oauth.v2.access: token refreshed", "team_id", g.team, "user", g.user != "")
	answer(w, resp)
}

// teamFields are the fields every oauth.v2.access answer carries.
func (s *Server) teamFields(id, name string) obj {
	return obj{"ok": true, "app_id": s.cfg.AppID, "team": obj{"id": id, "name": name},
		"enterprise": nil, "is_enterprise_install": false}
}

// expiresIn is expires_in of an issued token. s.mu is held.
func (s *Server) expiresIn() int { return int(s.cfg.TokenLifetime / time.Second) }

// serveAuthTest is auth.test.
func (s *Server) serveAuthTest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if canned, ok := s.authTests[formToken(r)]; ok {
		raw(w, canned)
		return
	}
	tok := s.authorized(w, formToken(r))
	if tok == nil {
		return
	}
	ws, _ := s.workspace(tok.team)
	if ws.Domain == "" {
		ws.Domain = strings.ToLower(tok.team)
	}
	resp := obj{"ok": true, "url": "https://" + ws.Domain + ".slack.com/", "team": ws.Name, "team_id": tok.team,
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
	token := formToken(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.authorized(w, token)
	switch {
	case tok == nil:
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
	s.cfg.Logger.Info("fakeslack: chat.postMessage", "team_id", ws.ID, "channel", m.Channel)
	answer(w, obj{"ok": true, "channel": m.Channel, "ts": m.TS,
		"message": obj{"type": "message", "user": author, "text": m.Text, "ts": m.TS, "bot_id": ws.BotID}})
}

// serveUserInfo is users.info: a user of the token's workspace (its
// installing user, with is_admin, or its bot user), or one added with
// AddUser; it needs the users:read scope, as at Slack. A token handed out
// in a canned answer may ask about any added user.
func (s *Server) serveUserInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	token, id := formToken(r), r.PostForm.Get("user")
	if s.foreign[token] {
		if u, ok := s.users[id]; ok {
			answer(w, obj{"ok": true, "user": u.json()})
			return
		}
		fail(w, "user_not_found")
		return
	}
	tok := s.authorized(w, token)
	switch {
	case tok == nil:
		return
	case !slices.Contains(tok.scope, "users:read"):
		fail(w, "missing_scope")
		return
	}
	ws, _ := s.workspace(tok.team)
	switch u, added := s.users[id]; {
	case id == ws.UserID:
		answer(w, obj{"ok": true, "user": User{ID: ws.UserID, TeamID: ws.ID, Name: ws.UserName, IsAdmin: ws.UserIsAdmin}.json()})
	case id == ws.BotUserID:
		answer(w, obj{"ok": true, "user": obj{"id": ws.BotUserID, "team_id": ws.ID, "name": "demo-app", "is_bot": true}})
	case added && (u.TeamID == "" || u.TeamID == tok.team):
		answer(w, obj{"ok": true, "user": u.json()})
	default:
		fail(w, "user_not_found")
	}
}

// serveAppsUninstall is apps.uninstall: with the app's client ID and
// secret and one of its tokens, it removes the app from the token's
// workspace (every token revoked). Unlike an uninstall from Slack's UI
// ([Server.Uninstall]) it sends no app_uninstalled: the app asked for it.
func (s *Server) serveAppsUninstall(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PostForm.Get("client_id") != s.cfg.ClientID || r.PostForm.Get("client_secret") != s.cfg.ClientSecret.Reveal() {
		s.stats.Rejected++
		fail(w, "invalid_client_id")
		return
	}
	if s.foreign[formToken(r)] {
		s.stats.AppUninstalls++
		answer(w, obj{"ok": true})
		return
	}
	tok := s.authorized(w, formToken(r))
	if tok == nil {
		return
	}
	s.revokeTeam(tok.team)
	s.stats.AppUninstalls++
	s.cfg.Logger.Info("fakeslack: apps.uninstall", "team_id", tok.team)
	answer(w, obj{"ok": true})
}

// serveAuthRevoke is auth.revoke: it revokes the calling token.
func (s *Server) serveAuthRevoke(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.foreign[formToken(r)] {
		s.stats.Revokes++
		answer(w, obj{"ok": true, "revoked": true})
		return
	}
	tok := s.authorized(w, formToken(r))
	if tok == nil {
		return
	}
	tok.revoked = true
	s.stats.Revokes++
	s.cfg.Logger.Info("fakeslack: auth.revoke", "team_id", tok.team, "user", tok.user != "")
	answer(w, obj{"ok": true, "revoked": true})
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
