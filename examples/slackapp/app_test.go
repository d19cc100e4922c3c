package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/fakeslack"
)

// The same walk as e2e's TestAppInBrowser, over plain HTTP: it runs even where
// no browser is installed.
func TestDemoOverHTTP(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	const acme = "T0DEMO00001"
	session, bodies := installByHTTP(t, d, acme)

	status, page := getPage(t, d, "/installed", session)
	bodies = append(bodies, page)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "Installed in Acme Demo")
	require.Contains(t, page, "app_mentions:read, chat:write")

	inst, err := d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: acme})
	require.NoError(t, err)
	require.Contains(t, page, `<td class="version">`+strconv.FormatInt(inst.Version, 10)+`</td>`)
	storetest.RequireSealedAtRest(t, d.Stores.Backend, installstore.Query{TeamID: acme}, inst)

	// Tokens live 12 hours: the mention is answered with the token as
	// issued, no refresh.
	require.NoError(t, d.Slack.Mention(context.Background(), acme, "hi"))
	msgs := d.Slack.Messages(acme)
	require.Len(t, msgs, 2)
	require.Equal(t, inst.Bot.Token, msgs[1].Token)
	require.Zero(t, d.Slack.Stats().Refreshes)

	require.NoError(t, d.Slack.Uninstall(context.Background(), acme))
	_, err = d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: acme})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.Zero(t, countRecords(t, d.Stores.Backend))
	status, page = getPage(t, d, "/installed", session)
	bodies = append(bodies, page)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, acme+": not installed")

	requireNoSecret(t, d, bodies)
}

// Without the session cookie, or with a forged one, /installed shows
// nothing: it is no directory of the app's customers.
func TestInstalledPageShowsOnlyThisBrowsersTenants(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	installByHTTP(t, d, "T0DEMO00001")

	_, page := getPage(t, d, "/installed", nil)
	require.Contains(t, page, "No installation yet")
	require.NotContains(t, page, "Acme Demo")

	forged := (&sessions{key: randomKey()}).encode([]installstore.Query{{TeamID: "T0DEMO00001"}})
	_, page = getPage(t, d, "/installed", &http.Cookie{Name: sessionCookie, Value: forged})
	require.Contains(t, page, "No installation yet")
	require.NotContains(t, page, "Acme Demo")
}

// The reply goes out with the token of the tenant the signed event names,
// and only that one.
func TestMentionUsesTheEventsTenant(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	installByHTTP(t, d, "T0DEMO00001")
	installByHTTP(t, d, "T0DEMO00002")

	require.NoError(t, d.Slack.Mention(context.Background(), "T0DEMO00002", "hi"))
	globex, err := d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: "T0DEMO00002"})
	require.NoError(t, err)
	msgs := d.Slack.Messages("T0DEMO00002")
	require.Len(t, msgs, 2)
	require.Equal(t, globex.Bot.Token, msgs[1].Token)
	require.Contains(t, msgs[1].Text, "T0DEMO00002")
	require.Empty(t, d.Slack.Messages("T0DEMO00001"))
}

// Events the mention handler must not act on: unsigned or tampered (the
// oauth handler refuses them), bots' own mentions, tenants with no
// installation, malformed bodies; and Slack's retries of an event already
// answered (the oauth handler de-duplicates them).
func TestEventsThatPostNothing(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	installByHTTP(t, d, "T0DEMO00001")
	signing := d.Secrets[1].Reveal()
	event := func(team, id, extra string) []byte {
		return []byte(`{"type":"event_callback","team_id":"` + team + `","api_app_id":"A0DEMOAPP01","event_id":"` + id + `","event_time":` +
			strconv.FormatInt(time.Now().Unix(), 10) + `,"authorizations":[{"team_id":"` + team + `","user_id":"U0DEMOBOT01","is_bot":true}],` +
			`"event":{"type":"app_mention","user":"U0DEMO00001","text":"<@U0DEMOBOT01> hi","ts":"1.000001","channel":"C1"` + extra + `}}`)
	}
	post := func(body []byte, sign bool, header ...string) int {
		req, err := http.NewRequest(http.MethodPost, d.URL+"/slack/events", bytes.NewReader(body))
		require.NoError(t, err)
		now := time.Now()
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
		if sign {
			req.Header.Set("X-Slack-Signature", fakeslack.Sign(signing, now, body))
		} else {
			req.Header.Set("X-Slack-Signature", fakeslack.Sign("not-the-signing-secret", now, body))
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		readBody(t, resp)
		return resp.StatusCode
	}

	require.Equal(t, http.StatusUnauthorized, post(event("T0DEMO00001", "Ev1", ""), false), "wrong signature")
	require.Equal(t, http.StatusOK, post(event("T0DEMO00001", "Ev2", `,"bot_id":"B0DEMOBOT01"`), true), "a bot's mention")
	require.Equal(t, http.StatusOK, post(event("T0NOTHERE01", "Ev3", ""), true), "no installation: acknowledged, logged")
	require.Equal(t, http.StatusBadRequest, post([]byte(`{"type":"event_callback","event":{"type":"app_mention"}}`), true), "no tenant")
	require.Equal(t, http.StatusOK, post([]byte(`{"type":"event_callback","team_id":"T0DEMO00001","event":{"type":"reaction_added"}}`), true), "other events")
	require.Equal(t, http.StatusOK, post([]byte(`{"type":"event_callback","team_id":"T0DEMO00001","event_id":"Ev4","event":{"type":"app_mention","ts":1}}`), true), "a mention that does not parse")
	require.Empty(t, d.Slack.Messages("T0DEMO00001"))
	require.Zero(t, d.Slack.Stats().Posts)

	// The same event, signed and fresh, is answered once: the cases above
	// failed for their own reason, and Slack's retries are acknowledged
	// without a second reply.
	require.Equal(t, http.StatusOK, post(event("T0DEMO00001", "Ev1", ""), true))
	for i := 1; i <= 3; i++ {
		require.Equal(t, http.StatusOK, post(event("T0DEMO00001", "Ev1", ""), true, "X-Slack-Retry-Num", strconv.Itoa(i), "X-Slack-Retry-Reason", "http_timeout"))
	}
	require.Equal(t, 1, d.Slack.Stats().Posts)
}

// With tokens revoked at Slack (tokens_revoked not yet received), a
// mention fails at Slack and nothing is posted: no retry loop, no crash.
func TestMentionWithRevokedTokenPostsNothing(t *testing.T) {
	d := newTestDemo(t, fakeslack.DefaultTokenLifetime)
	installByHTTP(t, d, "T0DEMO00001")
	d.Slack.RevokeTokens("T0DEMO00001")
	require.NoError(t, d.Slack.Mention(context.Background(), "T0DEMO00001", "hi"))
	require.Zero(t, d.Slack.Stats().Posts)
	require.Equal(t, 1, d.Slack.Stats().Rejected, "one chat.postMessage, refused, and no retry")
}

// An expired token is refreshed once before the reply; when the refresh
// is refused, the app fails closed: nothing is posted with the expired
// token.
func TestExpiredTokenRefreshedOrFailsClosed(t *testing.T) {
	clock := &offsetClock{}
	d := newTestDemoClock(t, fakeslack.DefaultTokenLifetime, clock.Now)
	installByHTTP(t, d, "T0DEMO00001")
	before, err := d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: "T0DEMO00001"})
	require.NoError(t, err)

	clock.Advance(13 * time.Hour) // the app now sees the 12-hour token as expired
	require.NoError(t, d.Slack.Mention(context.Background(), "T0DEMO00001", "hi"))
	require.Equal(t, 1, d.Slack.Stats().Refreshes)
	require.Equal(t, 1, d.Slack.Stats().Posts)
	after, err := d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: "T0DEMO00001"})
	require.NoError(t, err)
	require.NotEqual(t, before.Bot.Token, after.Bot.Token)
	require.Equal(t, after.Bot.Token, d.Slack.Messages("T0DEMO00001")[1].Token)

	d.Slack.RevokeTokens("T0DEMO00001") // the refresh token dies too
	clock.Advance(13 * time.Hour)
	require.NoError(t, d.Slack.Mention(context.Background(), "T0DEMO00001", "again"))
	require.Equal(t, 1, d.Slack.Stats().Posts, "nothing posted with the expired token")
	require.Equal(t, 1, d.Slack.Stats().Refreshes)
	require.Equal(t, 1, d.Slack.Stats().Rejected, "one refused refresh; chat.postMessage never called")
}

// requireNoSecret checks that no body holds a token, code, or secret.
func requireNoSecret(t *testing.T, d *demo, bodies []string) {
	t.Helper()
	require.NotEmpty(t, bodies)
	secrets := append(d.Slack.IssuedSecrets(), d.Secrets...)
	for i, b := range bodies {
		for _, s := range secrets {
			require.NotContains(t, b, s.Reveal(), "body %d", i)
		}
		require.False(t, strings.Contains(b, "xoxe") || strings.Contains(b, "ivsealed:"), "body %d holds a token-like value", i)
	}
}
