package fakeslack

import (
	"net/http"
	"net/url"
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
	case s.cfg.RedirectURL != "" && req.RedirectURI != "" && req.RedirectURI != s.cfg.RedirectURL:
		return nil, "redirect_uri did not match any configured URIs"
	}
	if req.RedirectURI == "" {
		req.RedirectURI = s.cfg.RedirectURL
	}
	if u, err := url.Parse(req.RedirectURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "Invalid redirect_uri parameter"
	}
	return req, ""
}

// serveAuthorize is the consent page, or with Config.AutoApprove an
// approval for the workspace the team parameter names (default: the
// first).
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.lastAuth = r.URL.Query()
	s.mu.Unlock()
	req, problem := s.parseAuthorize(r.URL.Query())
	if problem != "" {
		render(w, http.StatusBadRequest, errorPage, problem)
		return
	}
	if s.cfg.AutoApprove {
		team := req.Team
		if _, ok := s.workspace(team); !ok {
			team = s.cfg.Workspaces[0].ID
		}
		s.decide(w, r, req, true, team)
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
	s.mu.Lock()
	s.lastAuth = r.PostForm
	s.mu.Unlock()
	req, problem := s.parseAuthorize(r.PostForm)
	if problem != "" {
		render(w, http.StatusBadRequest, errorPage, problem)
		return
	}
	s.decide(w, r, req, r.PostForm.Get("decision") == "allow", r.PostForm.Get("team"))
}

// decide redirects to the app with a code for team (allow), or with
// error=access_denied. A code given to GrantCode is handed out whatever
// the team.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, req *authorizeRequest, allow bool, team string) {
	back, _ := url.Parse(req.RedirectURI) // validated by parseAuthorize
	q := back.Query()
	if !allow {
		q.Set("error", "access_denied")
	} else {
		s.mu.Lock()
		code := s.nextCode
		s.mu.Unlock()
		if code == "" {
			ws, ok := s.workspace(team)
			if !ok {
				render(w, http.StatusBadRequest, errorPage, "Unknown workspace")
				return
			}
			s.mu.Lock()
			code = s.newCode()
			s.codes[code] = &codeGrant{team: ws.ID, scope: req.Scope, userScope: req.UserScope,
				redirectURI: req.RedirectURI, expires: s.cfg.Now().Add(codeLifetime)}
			s.mu.Unlock()
		}
		q.Set("code", code)
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	back.RawQuery = q.Encode()
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, back.String(), http.StatusFound)
}
