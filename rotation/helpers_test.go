package rotation

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/memory"
)

// env is one test's world: a fake Slack, a clock, a memory store, a log.
type env struct {
	t     *testing.T
	slack *fakeSlack
	clock *clock // nil in a bubble (newBubbleEnv): time itself is fake there
	store *memory.Store
	logs  *syncBuffer
	// backend is the real store the fault tests use (default: store).
	backend installstore.FullStore
}

// newEnv is an env on a settable clock that the store, the refresher and
// the fake Slack (on a loopback server) share: for tests on real backends,
// which a testing/synctest bubble cannot hold.
func newEnv(t *testing.T) *env {
	t.Helper()
	c := newClock()
	e := &env{t: t, slack: newFakeSlackAt(t, c.now), clock: c, store: memory.New(memory.WithClock(c.now)), logs: &syncBuffer{}}
	e.backend = e.store
	return e
}

// newBubbleEnv is an env for a test running in a testing/synctest bubble:
// no clock option anywhere (the store, the refresher and the fake Slack
// read time.Now, the bubble's fake clock, which time.Sleep moves), and
// Slack reached in memory.
func newBubbleEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, slack: newFakeSlackInMemory(t), store: memory.New(), logs: &syncBuffer{}}
	e.backend = e.store
	return e
}

// now is the env's time.
func (e *env) now() time.Time {
	if e.clock == nil {
		return time.Now()
	}
	return e.clock.now()
}

// refresher returns a Refresher over store (default: the env's memory store).
func (e *env) refresher(store installstore.FullStore, opts ...Option) *Refresher {
	e.t.Helper()
	if store == nil {
		store = e.store
	}
	base := []Option{
		WithClientCredentials(testClientID, installstore.NewSecret(testClientSecret)),
		WithSlackAPIURL(e.slack.url()),
		WithLogger(slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	if e.clock != nil {
		base = append(base, WithClock(e.clock.now))
	} else {
		base = append(base, WithHTTPClient(e.slack.Client()))
	}
	r, err := New(store, append(base, opts...)...)
	require.NoError(e.t, err)
	return r
}

// install stores an installation of team with a rotating bot token that
// expires in botTTL and, when userTTL is non-zero, a rotating user token for
// user that expires in userTTL. The fake knows both tokens and accepts
// both refresh tokens.
func (e *env) install(team, user string, botTTL, userTTL time.Duration) *installstore.Installation {
	e.t.Helper()
	now := e.now()
	inst := &installstore.Installation{
		AppID:  "A0TEST",
		TeamID: team,
		Bot: &installstore.Bot{
			ID: "B0BOT", UserID: "U0BOT",
			Token:        installstore.NewSecret("xoxb-test-initial-" + team),
			RefreshToken: installstore.NewSecret("xoxe-test-bot-initial-" + team),
			ExpiresAt:    now.Add(botTTL),
			Scopes:       []string{"chat:write"},
		},
		User:      installstore.User{ID: user},
		TokenType: "bot",
	}
	e.slack.AddToken(fakeslack.Token{Team: team, Access: inst.Bot.Token.Reveal(), Refresh: inst.Bot.RefreshToken.Reveal(), Expires: inst.Bot.ExpiresAt})
	if userTTL != 0 {
		inst.User.Token = installstore.NewSecret("xoxp-test-initial-" + team + "-" + user)
		inst.User.RefreshToken = installstore.NewSecret("xoxe-test-user-initial-" + team + "-" + user)
		inst.User.ExpiresAt = now.Add(userTTL)
		e.slack.AddToken(fakeslack.Token{Team: team, User: user, Access: inst.User.Token.Reveal(), Refresh: inst.User.RefreshToken.Reveal(), Expires: inst.User.ExpiresAt})
	}
	require.NoError(e.t, e.store.StoreInstallation(context.Background(), inst))
	return inst
}

// allow makes the fake accept refresh, a refresh token of team, once.
func (e *env) allow(team, refresh string) {
	e.slack.AddToken(fakeslack.Token{Team: team, Refresh: refresh})
}

// noSecrets fails if s holds a token or the client secret.
func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, bad := range []string{"xoxb-", "xoxp-", "xoxe-", testClientSecret} {
		require.NotContains(t, s, bad, "%s leaks a secret", what)
	}
}

// wait waits for r's background refreshes and write-backs.
func (e *env) wait(r *Refresher) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(e.t, r.Wait(ctx), "background work still running")
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// count returns how many log lines contain msg.
func (s *syncBuffer) count(msg string) int { return strings.Count(s.String(), msg) }
