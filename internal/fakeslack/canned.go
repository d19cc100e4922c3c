package fakeslack

import (
	"encoding/json"
	"net/http"

	"github.com/installvault/installvault/installstore"
)

// User is a Slack user that users.info knows (see [Server.AddUser]).
type User struct {
	// ID is the user ID (U... or W...).
	ID string
	// TeamID is the user's workspace; "" for any.
	TeamID string
	// Name is the user's handle.
	Name string
	// IsAdmin is whether the user is a workspace admin.
	IsAdmin bool
}

func (u User) json() obj {
	name := u.Name
	if name == "" {
		name = "someone"
	}
	return obj{"id": u.ID, "team_id": u.TeamID, "name": name, "is_admin": u.IsAdmin, "is_owner": false,
		"is_primary_owner": false, "is_bot": false}
}

// AddUser makes users.info know u (replacing a user with the same ID).
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// GrantCode makes approvals on the authorize page hand out code from now
// on (until the next GrantCode), and oauth.v2.access answer exactly answer
// (a JSON object) for it, once:
// for tests of what an app does with a particular answer (an Enterprise
// Grid install, a user-only install, odd fields). The credentials and the
// redirect_uri are checked first, as for any code. The tokens in answer
// (access_token and refresh_token, also under authed_user) become known:
// they count as issued secrets, and users.info, apps.uninstall and
// auth.revoke accept them; auth.test answers them only as AnswerAuthTest
// says (invalid_auth otherwise).
func (s *Server) GrantCode(code, answer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[code] = answer
	s.nextCode = code
	s.issued = append(s.issued, installstore.NewSecret(code))
}

// AnswerAuthTest makes auth.test answer exactly answer (a JSON object) for
// token.
func (s *Server) AnswerAuthTest(token, answer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authTests[token] = answer
}

// cannedLocked answers the exchange of a code given to GrantCode. s.mu is
// held.
func (s *Server) cannedLocked(w http.ResponseWriter, code, canned, redirectURI string) {
	if redirectURI == "" || (s.cfg.RedirectURL != "" && redirectURI != s.cfg.RedirectURL) {
		s.stats.Rejected++
		fail(w, "bad_redirect_uri")
		return
	}
	delete(s.scripts, code)
	var a struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		AuthedUser   struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		} `json:"authed_user"`
	}
	_ = json.Unmarshal([]byte(canned), &a) // a canned answer may be malformed on purpose
	for _, tok := range []string{a.AccessToken, a.RefreshToken, a.AuthedUser.AccessToken, a.AuthedUser.RefreshToken} {
		if tok != "" {
			s.foreign[tok] = true
			s.issued = append(s.issued, installstore.NewSecret(tok))
		}
	}
	s.stats.Exchanges++
	raw(w, canned)
}
