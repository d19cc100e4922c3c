package fakeslack_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
)

// newFake returns a fake reached in memory (through its Client), on
// time.Now: in a testing/synctest bubble, the bubble's fake clock.
func newFake(t *testing.T, mutate ...func(*fakeslack.Config)) *fakeslack.Server {
	t.Helper()
	cfg := fakeslack.Config{ClientID: clientID, ClientSecret: installstore.NewSecret(clientSecret)}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := fakeslack.New(cfg)
	require.NoError(t, err)
	return s
}

func refresh(s *fakeslack.Server, token string) (*slack.OAuthV2Response, error) {
	return slack.RefreshOAuthV2TokenContext(context.Background(), s.Client(), clientID, clientSecret, token,
		slack.OAuthOptionAPIURL(s.APIURL()))
}

func api(s *fakeslack.Server, token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(s.Client()))
}

// Numbered tokens name the call that issued them; a refresh token works
// once, whoever minted it.
func TestAddedTokensRefreshOnceWithNumberedTokens(t *testing.T) {
	s := newFake(t)
	s.AddToken(fakeslack.Token{Team: "T1", Access: "xoxb-test-a", Refresh: "xoxe-test-bot-r", Expires: time.Now().Add(time.Hour)})
	s.AddToken(fakeslack.Token{Team: "T1", User: "U1", Refresh: "xoxe-test-user-r"})

	r, err := refresh(s, "xoxe-test-bot-r")
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", r.AccessToken)
	require.Equal(t, "xoxe-test-bot-refresh-1", r.RefreshToken)
	require.Equal(t, "bot", r.TokenType)
	require.Equal(t, "T1", r.Team.ID)
	require.Equal(t, 43200, r.ExpiresIn)

	_, err = refresh(s, "xoxe-test-bot-r")
	require.ErrorContains(t, err, "invalid_refresh_token", "refresh tokens are single-use")

	s.SetTokenLifetime(time.Hour)
	r, err = refresh(s, "xoxe-test-user-r")
	require.NoError(t, err)
	require.Equal(t, "xoxp-test-user-3", r.AccessToken, "numbered by the call, failed calls included")
	require.Equal(t, "xoxe-test-user-refresh-2", r.RefreshToken)
	require.Equal(t, "user", r.TokenType)
	require.Equal(t, 3600, r.ExpiresIn)

	_, err = slack.RefreshOAuthV2TokenContext(context.Background(), s.Client(), clientID, "wrong-secret", "xoxe-test-bot-refresh-1",
		slack.OAuthOptionAPIURL(s.APIURL()))
	require.ErrorContains(t, err, "bad_client_secret")
	_, err = refresh(s, "xoxe-test-bot-refresh-1")
	require.NoError(t, err, "a refused client does not spend the token")

	require.Equal(t, 5, s.Calls("oauth.v2.access"))
	st := s.Stats()
	require.Equal(t, 3, st.Refreshes)
	require.Equal(t, 2, st.Rejected)
}

func TestExpireRevokeAndReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFake(t)
		s.AddToken(fakeslack.Token{Team: "T1", Access: "xoxb-test-a", Refresh: "xoxe-test-r1", Expires: time.Now().Add(time.Hour)})
		s.AddToken(fakeslack.Token{Team: "T2", Access: "xoxb-test-b", Refresh: "xoxe-test-r2"})

		at, err := api(s, "xoxb-test-a").AuthTest()
		require.NoError(t, err)
		require.Equal(t, "T1", at.TeamID)
		time.Sleep(time.Hour)
		_, err = api(s, "xoxb-test-a").AuthTest()
		require.ErrorContains(t, err, "token_expired", "at Slack's clock")
		_, err = api(s, "xoxb-test-b").AuthTest()
		require.NoError(t, err, "zero Expires: never")
		s.Expire("xoxb-test-b")
		_, err = api(s, "xoxb-test-b").AuthTest()
		require.ErrorContains(t, err, "token_expired")
		require.Equal(t, []string{"xoxb-test-a", "xoxb-test-a", "xoxb-test-b", "xoxb-test-b"}, s.Tokens("auth.test"))

		s.RevokeRefreshToken("xoxe-test-r1")
		_, err = refresh(s, "xoxe-test-r1")
		require.ErrorContains(t, err, "invalid_refresh_token")

		s.ReuseRefreshTokens(true)
		for range 2 {
			_, err = refresh(s, "xoxe-test-r2")
			require.NoError(t, err, "reusable")
		}
		s.ReuseRefreshTokens(false)
		_, err = refresh(s, "xoxe-test-r2")
		require.NoError(t, err)
		_, err = refresh(s, "xoxe-test-r2")
		require.ErrorContains(t, err, "invalid_refresh_token")
	})
}

func TestAcceptRefreshTokenAcceptsOnce(t *testing.T) {
	s := newFake(t, func(c *fakeslack.Config) {
		c.AcceptRefreshToken = func(tok string) bool { return strings.HasPrefix(tok, "xoxe-test-bot-") }
	})
	r, err := refresh(s, "xoxe-test-bot-seeded")
	require.NoError(t, err)
	_, err = refresh(s, "xoxe-test-bot-seeded")
	require.ErrorContains(t, err, "invalid_refresh_token", "spent, even though the rule accepts it")
	_, err = refresh(s, r.RefreshToken)
	require.NoError(t, err, "the issued one works")
	_, err = refresh(s, r.RefreshToken)
	require.ErrorContains(t, err, "invalid_refresh_token", "once")
	_, err = refresh(s, "xoxe-other")
	require.ErrorContains(t, err, "invalid_refresh_token")
	require.Equal(t, 3, s.Stats().Rejected)
}

func TestFaults(t *testing.T) {
	s := newFake(t)
	s.AddToken(fakeslack.Token{Team: "T1", Refresh: "xoxe-test-r"})

	s.Fail("oauth.v2.access", &fakeslack.Fault{Status: http.StatusServiceUnavailable})
	_, err := refresh(s, "xoxe-test-r")
	var status slack.StatusCodeError
	require.ErrorAs(t, err, &status)
	require.Equal(t, http.StatusServiceUnavailable, status.Code)

	s.Fail("oauth.v2.access", &fakeslack.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	_, err = refresh(s, "xoxe-test-r")
	var limited *slack.RateLimitedError
	require.ErrorAs(t, err, &limited)
	require.Equal(t, 30*time.Second, limited.RetryAfter)

	s.Fail("oauth.v2.access", &fakeslack.Fault{Error: "ratelimited"})
	_, err = refresh(s, "xoxe-test-r")
	require.ErrorContains(t, err, "ratelimited")

	s.Fail("oauth.v2.access", nil)
	_, err = refresh(s, "xoxe-test-r")
	require.NoError(t, err, "healed; no fault spent the token")
	require.Equal(t, 4, s.Calls("oauth.v2.access"), "every call counts")
	require.Equal(t, 1, s.Stats().Refreshes)
}

// A delay holds the answer back, in a testing/synctest bubble exactly as
// long as it says; a caller whose context ends first gets its context's
// error, and the token is not spent.
func TestFaultDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := fakeslack.New(fakeslack.Config{ClientID: clientID, ClientSecret: installstore.NewSecret(clientSecret)})
		require.NoError(t, err)
		s.AddToken(fakeslack.Token{Team: "T1", Refresh: "xoxe-test-r"})
		s.Fail("oauth.v2.access", &fakeslack.Fault{Delay: time.Hour})

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err = slack.RefreshOAuthV2TokenContext(ctx, s.Client(), clientID, clientSecret, "xoxe-test-r", slack.OAuthOptionAPIURL(s.APIURL()))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, time.Minute, time.Since(start))
		synctest.Wait()
		require.Zero(t, s.Stats().Refreshes, "the fake stopped waiting too")

		start = time.Now()
		r, err := refresh(s, "xoxe-test-r")
		require.NoError(t, err)
		require.Equal(t, time.Hour, time.Since(start))
		require.Equal(t, "xoxb-test-bot-2", r.AccessToken)
	})
}

func TestHandleAndOnCall(t *testing.T) {
	s := newFake(t)
	s.AddToken(fakeslack.Token{Team: "T1", Refresh: "xoxe-test-r"})
	s.Handle("oauth.v2.access", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":false,"error":"`+r.PostFormValue("refresh_token")+`"}`)
	}))
	_, err := refresh(s, "xoxe-test-r")
	require.ErrorContains(t, err, "xoxe-test-r", "the handler answered, echoing what it was sent")

	s.Handle("oauth.v2.access", nil)
	release, inside := make(chan struct{}), make(chan int, 1)
	s.OnCall("oauth.v2.access", func() {
		inside <- s.Calls("oauth.v2.access")
		<-release
	})
	done := make(chan error)
	go func() {
		_, err := refresh(s, "xoxe-test-r")
		done <- err
	}()
	require.Equal(t, 2, <-inside, "the hook runs inside the call, after it is counted")
	select {
	case <-done:
		t.Fatal("answered while the hook held the call")
	default:
	}
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, 1, s.Stats().Refreshes)
}

// A canned exchange answers exactly; its tokens are known to users.info,
// apps.uninstall and auth.revoke, and to auth.test only as canned.
func TestGrantCodeAnswersExactly(t *testing.T) {
	s := newFake(t, func(c *fakeslack.Config) { c.AutoApprove = true })
	canned := `{"ok":true,"access_token":"xoxb-test-canned","token_type":"bot","team":{"id":"T0WS","name":"WS"},"app_id":"A0X",` +
		`"authed_user":{"id":"U0INSTALLER","access_token":"xoxp-test-canned"}}`
	s.GrantCode("code-test-canned", canned)
	s.AnswerAuthTest("xoxb-test-canned", `{"ok":true,"team_id":"T0WS","user_id":"U0BOT","bot_id":"B0CANNED"}`)
	s.AddUser(fakeslack.User{ID: "U0INSTALLER", IsAdmin: true})

	loc := autoApprove(t, s, url.Values{"client_id": {clientID}, "scope": {"chat:write"}, "redirect_uri": {redirectURL}, "state": {"st"}})
	require.Equal(t, "code-test-canned", loc.Get("code"))
	require.Equal(t, "st", loc.Get("state"))
	require.Equal(t, "chat:write", s.LastAuthorize().Get("scope"))

	_, err := slack.GetOAuthV2ResponseContext(context.Background(), s.Client(), clientID, clientSecret, "code-test-canned", "",
		slack.OAuthOptionAPIURL(s.APIURL()))
	require.ErrorContains(t, err, "bad_redirect_uri")
	resp, err := exchangeIn(s, "code-test-canned")
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-canned", resp.AccessToken)
	require.Equal(t, "A0X", resp.AppID)
	_, err = exchangeIn(s, "code-test-canned")
	require.ErrorContains(t, err, "invalid_code", "once")

	at, err := api(s, "xoxb-test-canned").AuthTest()
	require.NoError(t, err)
	require.Equal(t, "B0CANNED", at.BotID)
	_, err = api(s, "xoxp-test-canned").AuthTest()
	require.ErrorContains(t, err, "invalid_auth", "not canned")

	u, err := api(s, "xoxb-test-canned").GetUserInfo("U0INSTALLER")
	require.NoError(t, err)
	require.True(t, u.IsAdmin)
	_, err = api(s, "xoxb-test-canned").GetUserInfo("U0NOBODY")
	require.ErrorContains(t, err, "user_not_found")
	_, err = api(s, "xoxb-test-unknown").GetUserInfo("U0INSTALLER")
	require.ErrorContains(t, err, "invalid_auth")

	require.ErrorContains(t, api(s, "xoxb-test-canned").UninstallApp(clientID, "wrong"), "invalid_client_id")
	require.NoError(t, api(s, "xoxb-test-canned").UninstallApp(clientID, clientSecret))
	_, err = api(s, "xoxp-test-canned").SendAuthRevoke("")
	require.NoError(t, err)
	require.Equal(t, []string{"xoxb-test-canned", "xoxb-test-canned"}, s.Tokens("apps.uninstall"))
	require.Equal(t, []string{"xoxp-test-canned"}, s.Tokens("auth.revoke"))
	for _, sec := range []string{"code-test-canned", "xoxb-test-canned", "xoxp-test-canned"} {
		require.Contains(t, s.IssuedSecrets(), installstore.NewSecret(sec))
	}
}

// Without a canned code, AutoApprove approves the workspace named by team
// with a numbered code, good for one exchange.
func TestAutoApproveIssuesACode(t *testing.T) {
	s := newFake(t, func(c *fakeslack.Config) { c.AutoApprove = true })
	q := url.Values{"client_id": {clientID}, "scope": {"chat:write,users:read"}, "redirect_uri": {redirectURL}, "team": {"T0DEMO00002"}}
	code := autoApprove(t, s, q).Get("code")
	require.Equal(t, "code-test-1", code)
	resp, err := exchangeIn(s, code)
	require.NoError(t, err)
	require.Equal(t, "T0DEMO00002", resp.Team.ID)
	require.Equal(t, "xoxb-test-bot-1", resp.AccessToken)
	u, err := api(s, resp.AccessToken).GetUserInfo("U0DEMO00002")
	require.NoError(t, err)
	require.False(t, u.IsAdmin)
	require.True(t, s.Installed("T0DEMO00002"))

	q.Set("client_id", "other")
	resp2, err := s.Client().Get(s.AuthorizeURL() + "?" + q.Encode())
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp2.StatusCode, "another app's client_id")

	// Events need an endpoint and a signing secret.
	require.ErrorIs(t, s.Mention(context.Background(), "T0DEMO00002", "hi"), fakeslack.ErrNoEvents)
}

func TestDateIsSlacksClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFake(t)
		date := func() string {
			resp, err := s.Client().PostForm(s.APIURL()+"auth.test", url.Values{"token": {"x"}})
			require.NoError(t, err)
			resp.Body.Close()
			return resp.Header.Get("Date")
		}
		require.Equal(t, time.Now().UTC().Format(http.TimeFormat), date())
		s.SkewClock(5 * time.Second)
		require.Equal(t, time.Now().Add(5*time.Second).UTC().Format(http.TimeFormat), date())
		s.OmitDate(true)
		require.Empty(t, date())
	})
}

func TestUnknownMethod(t *testing.T) {
	s := newFake(t)
	_, err := api(s, "xoxb-test-x").GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "C1"})
	require.ErrorContains(t, err, "unknown_method")
	require.Equal(t, 1, s.Calls("conversations.info"))
}

func exchangeIn(s *fakeslack.Server, code string) (*slack.OAuthV2Response, error) {
	return slack.GetOAuthV2ResponseContext(context.Background(), s.Client(), clientID, clientSecret, code, redirectURL,
		slack.OAuthOptionAPIURL(s.APIURL()))
}

// autoApprove GETs the authorize page with q and returns the query of the
// redirect back to the app.
func autoApprove(t *testing.T, s *fakeslack.Server, q url.Values) url.Values {
	t.Helper()
	c := s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(s.AuthorizeURL() + "?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.String(), redirectURL+"?"), loc.String())
	return loc.Query()
}
