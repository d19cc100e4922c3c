package standin

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
)

// codeLifetime is how long an OAuth code can be exchanged, as at Slack.
const codeLifetime = 10 * time.Minute

// codeGrant is what the consent page granted, waiting for oauth.v2.access.
type codeGrant struct {
	team        string
	scope       []string
	userScope   []string
	redirectURI string
	expires     time.Time
}

// accessToken is an issued access token.
type accessToken struct {
	team    string
	user    string // installing user for user tokens; "" for the bot
	scope   []string
	expires time.Time
	revoked bool
}

// refreshGrant is an unused refresh token.
type refreshGrant struct {
	team  string
	user  string // as accessToken.user
	scope []string
}

// teamState is the app's state in one workspace.
type teamState struct {
	installed bool
	scope     []string
	userScope []string
	// lastIssue is when tokens were last issued to the app for this
	// workspace; events are stamped after it (see deliver).
	lastIssue time.Time
	messages  []Message
}

// team returns the state of id, creating it. s.mu must be held.
func (s *Server) team(id string) *teamState {
	t := s.teams[id]
	if t == nil {
		t = &teamState{}
		s.teams[id] = t
	}
	return t
}

// random returns prefix followed by 24 random hex characters.
func random(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b)
}

// issueAccess issues an access token for team (user "" for the bot) and its
// refresh token. s.mu must be held.
func (s *Server) issueAccess(team, user string, scope []string, now time.Time) (access, refresh string) {
	kind := "xoxb"
	if user != "" {
		kind = "xoxp"
	}
	access = random("xoxe." + kind + "-1-demo-")
	refresh = random("xoxe-1-demo-")
	s.tokens[access] = &accessToken{team: team, user: user, scope: scope, expires: now.Add(s.cfg.TokenLifetime)}
	s.refresh[refresh] = &refreshGrant{team: team, user: user, scope: scope}
	s.issued = append(s.issued, installstore.NewSecret(access), installstore.NewSecret(refresh))
	s.team(team).lastIssue = now
	return access, refresh
}

// revokeTeam revokes every token of team, as an uninstall does. s.mu must be
// held.
func (s *Server) revokeTeam(team string) {
	for _, t := range s.tokens {
		if t.team == team {
			t.revoked = true
		}
	}
	for r, g := range s.refresh {
		if g.team == team {
			delete(s.refresh, r)
		}
	}
	t := s.team(team)
	t.installed = false
}

// checkToken returns the access token's record, or Slack's error code for
// it. s.mu must be held.
func (s *Server) checkToken(token string, now time.Time) (*accessToken, string) {
	t := s.tokens[token]
	switch {
	case token == "":
		return nil, "not_authed"
	case t == nil:
		return nil, "invalid_auth"
	case t.revoked:
		return nil, "token_revoked"
	case !now.Before(t.expires):
		return nil, "token_expired"
	}
	return t, ""
}

// splitScope splits a comma-separated scope list.
func splitScope(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// secretFrom wraps a token received from the app.
func secretFrom(token string) installstore.Secret { return installstore.NewSecret(token) }
