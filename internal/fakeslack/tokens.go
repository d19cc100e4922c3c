package fakeslack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
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
	expires time.Time // zero: never
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

// Token is a token the fake did not issue but must know: the tokens of an
// installation a test stores directly. See [Server.AddToken].
type Token struct {
	// Team is the workspace (or organization) ID.
	Team string
	// User is the user of a user token; "" for the bot token.
	User string
	// Access is the access token; Refresh its refresh token. Either may
	// be empty.
	Access, Refresh string
	// Scope is what Access was granted.
	Scope []string
	// Expires is when Access expires at Slack; zero: never.
	Expires time.Time
}

// AddToken makes the fake know t, as if it had issued it: auth.test and
// the other methods accept t.Access until t.Expires, and oauth.v2.access
// accepts t.Refresh once. The app counts as installed in t.Team.
func (s *Server) AddToken(t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Access != "" {
		s.tokens[t.Access] = &accessToken{team: t.Team, user: t.User, scope: t.Scope, expires: t.Expires}
	}
	if t.Refresh != "" {
		s.refresh[t.Refresh] = &refreshGrant{team: t.Team, user: t.User, scope: t.Scope}
		delete(s.spent, t.Refresh)
	}
	s.team(t.Team).installed = true
}

// Expire makes Slack consider the access token expired from now on,
// whatever expiry it was issued with.
func (s *Server) Expire(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[access]; t != nil {
		t.expires = s.cfg.Now().Add(-time.Nanosecond)
	}
}

// RevokeRefreshToken makes oauth.v2.access refuse the refresh token from
// now on (invalid_refresh_token), as when another process rotated it.
func (s *Server) RevokeRefreshToken(refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refresh, refresh)
	s.spent[refresh] = true
}

// ReuseRefreshTokens makes refresh tokens work any number of times (on),
// as for an app with token rotation off, or once again (off, the
// default, as at Slack).
func (s *Server) ReuseRefreshTokens(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reuse = on
}

// SetTokenLifetime changes expires_in for access tokens issued from now on.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.TokenLifetime = d
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

// callKey carries the number of the Web API call being answered.
type callKey struct{}

func withCall(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, callKey{}, n)
}

func callNumber(ctx context.Context) int { n, _ := ctx.Value(callKey{}).(int); return n }

// newCode returns a fresh OAuth code. s.mu must be held.
func (s *Server) newCode() string {
	var code string
	if s.cfg.Tokens == Rotating {
		code = random(strings.ReplaceAll(s.cfg.ClientID, ".", "") + ".demo-code-")
	} else {
		s.codeSeq++
		code = fmt.Sprintf("code-test-%d", s.codeSeq)
	}
	s.issued = append(s.issued, installstore.NewSecret(code))
	return code
}

// issueAccess issues an access token for team (user "" for the bot) and its
// refresh token, in the call numbered call. s.mu must be held.
func (s *Server) issueAccess(team, user string, scope []string, now time.Time, call int) (access, refresh string) {
	kind, role := "xoxb", "bot"
	if user != "" {
		kind, role = "xoxp", "user"
	}
	if s.cfg.Tokens == Rotating {
		access = random("xoxe." + kind + "-1-demo-")
		refresh = random("xoxe-1-demo-")
	} else {
		s.refSeq++
		access = fmt.Sprintf("%s-test-%s-%d", kind, role, call)
		refresh = fmt.Sprintf("xoxe-test-%s-refresh-%d", role, s.refSeq)
	}
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
			s.spent[r] = true
		}
	}
	t := s.team(team)
	t.installed = false
}

// authorized returns the access token's record; for a missing, unknown,
// revoked or expired token it answers Slack's error code for it instead,
// counts the rejection and returns nil. s.mu must be held.
func (s *Server) authorized(w http.ResponseWriter, token string) *accessToken {
	t := s.tokens[token]
	var problem string
	switch {
	case token == "":
		problem = "not_authed"
	case t == nil:
		problem = "invalid_auth"
	case t.revoked:
		problem = "token_revoked"
	case !t.expires.IsZero() && !s.cfg.Now().Before(t.expires):
		problem = "token_expired"
	default:
		return t
	}
	s.stats.Rejected++
	fail(w, problem)
	return nil
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
