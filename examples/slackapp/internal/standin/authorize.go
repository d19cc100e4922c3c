package standin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/installvault/installvault/installstore"
)

// authorizeRequest is a validated /oauth/v2/authorize request.
type authorizeRequest struct {
	ClientID    string
	Scope       []string
	UserScope   []string
	RedirectURI string
	State       string
	// Team is the workspace the app asked to pre-select (Slack's team
	// parameter); the visitor may still pick another.
	Team string
}

// parseAuthorize validates the authorize parameters; the message is shown
// to the user when they are wrong, as Slack does.
func (s *Server) parseAuthorize(v url.Values) (*authorizeRequest, string) {
	req := &authorizeRequest{
		ClientID:    v.Get("client_id"),
		Scope:       splitScope(v.Get("scope")),
		UserScope:   splitScope(v.Get("user_scope")),
		RedirectURI: v.Get("redirect_uri"),
		State:       v.Get("state"),
		Team:        v.Get("team"),
	}
	switch {
	case req.ClientID != s.cfg.ClientID:
		return nil, "Invalid client_id parameter"
	case len(req.Scope) == 0 && len(req.UserScope) == 0:
		return nil, "Invalid permissions requested: no scope"
	case req.RedirectURI != "" && req.RedirectURI != s.cfg.RedirectURL:
		return nil, "redirect_uri did not match any configured URIs"
	}
	if req.RedirectURI == "" {
		req.RedirectURI = s.cfg.RedirectURL
	}
	return req, ""
}

// serveAuthorize is the consent page.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	req, problem := s.parseAuthorize(r.URL.Query())
	if problem != "" {
		render(w, http.StatusBadRequest, errorPage, problem)
		return
	}
	render(w, http.StatusOK, authorizePage, struct {
		*authorizeRequest
		Workspaces []Workspace
		AppID      string
	}{req, s.cfg.Workspaces, s.cfg.AppID})
}

// serveDecision handles the consent form: Allow issues a code and redirects
// to the app; Cancel redirects with error=access_denied.
func (s *Server) serveDecision(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		render(w, http.StatusBadRequest, errorPage, "Malformed form")
		return
	}
	req, problem := s.parseAuthorize(r.PostForm)
	if problem != "" {
		render(w, http.StatusBadRequest, errorPage, problem)
		return
	}
	back, _ := url.Parse(req.RedirectURI) // validated against cfg by parseAuthorize
	q := back.Query()
	if r.PostForm.Get("decision") != "allow" {
		q.Set("error", "access_denied")
	} else {
		ws, ok := s.workspace(r.PostForm.Get("team"))
		if !ok {
			render(w, http.StatusBadRequest, errorPage, "Unknown workspace")
			return
		}
		code := random(strings.ReplaceAll(s.cfg.ClientID, ".", "") + ".demo-code-")
		s.mu.Lock()
		s.codes[code] = &codeGrant{team: ws.ID, scope: req.Scope, userScope: req.UserScope,
			redirectURI: req.RedirectURI, expires: s.cfg.Now().Add(codeLifetime)}
		s.issued = append(s.issued, installstore.NewSecret(code))
		s.mu.Unlock()
		q.Set("code", code)
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	back.RawQuery = q.Encode()
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, back.String(), http.StatusFound)
}
