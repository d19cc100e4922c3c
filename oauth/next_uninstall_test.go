package oauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/oauth"
)

// The tests of this file (issue 15: uninstall events reach the app) are
// self-contained: their helpers carry the prefix nu.

const nuSigningSecret = "signing-secret-test-nu-0123456789abcdef"

// nuFlakyStore fails FetchInstallation with ErrUnavailable while fail is set,
// as a backend outage would.
type nuFlakyStore struct {
	installstore.FullStore
	fail atomic.Bool
}

func (s *nuFlakyStore) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	if s.fail.Load() {
		return nil, fmt.Errorf("test backend: fetch tenant %s: %w", q.Tenant(), installstore.ErrUnavailable)
	}
	return s.FullStore.FetchInstallation(ctx, q)
}

// nuEnv is an oauth handler over a memory store with next as Config.Next.
type nuEnv struct {
	t     *testing.T
	h     *oauth.Handler
	store *nuFlakyStore
	next  *recorder
	logs  *strings.Builder
	mu    sync.Mutex
}

func newNuEnv(t *testing.T, probes ...installstore.Query) *nuEnv {
	t.Helper()
	e := &nuEnv{t: t, store: &nuFlakyStore{FullStore: memory.New()}, logs: &strings.Builder{}}
	e.next = &recorder{store: e.store, probes: probes}
	h, err := oauth.New(oauth.Config{
		ClientID:      "1000000000001.2000000000002",
		ClientSecret:  installstore.NewSecret("client-secret-test-nu"),
		SigningSecret: installstore.NewSecret(nuSigningSecret),
		StateSecret:   installstore.NewSecret("state-secret-test-nu-0123456789abcdef"),
		Scopes:        []string{"chat:write"},
		RedirectURL:   "https://app.example.test" + oauth.DefaultRedirectPath,
		Store:         e.store,
		Next:          e.next,
		Logger:        slog.New(slog.NewTextHandler(nuWriter{e}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	e.h = h
	return e
}

type nuWriter struct{ e *nuEnv }

func (w nuWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.logs.Write(p)
}

func (e *nuEnv) logged() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

// seed stores a fixture of team (user, bot) installed at.
func (e *nuEnv) seed(team, user, tag string, at time.Time) *installstore.Installation {
	e.t.Helper()
	inst := storetest.Fixture("", team, user, tag)
	inst.InstalledAt = at
	inst.Bot.InstalledAt = at
	require.NoError(e.t, e.store.StoreInstallation(context.Background(), inst.Clone()))
	return inst
}

// post delivers body signed now, as Slack does, and returns the status.
func (e *nuEnv) post(body string, retry int) int {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, oauth.DefaultEventsPath, strings.NewReader(body))
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(nuSigningSecret))
	fmt.Fprintf(m, "v0:%s:%s", stamp, body)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_error")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Code
}

// nuBody is a signed-ready event_callback of team around inner.
func nuBody(team, eventID, inner string, at time.Time) string {
	return fmt.Sprintf(`{"token":"verification-token-test-nu","team_id":%q,"api_app_id":"A0TEST","type":"event_callback",
		"event_id":%q,"event_time":%d,"event":%s,
		"authorizations":[{"team_id":%q,"user_id":"UB%s","is_bot":true,"is_enterprise_install":false}]}`,
		team, eventID, at.Unix(), inner, team, team)
}

func nuQ(team, user string) installstore.Query { return installstore.Query{TeamID: team, UserID: user} }

// TestNextGetsAppUninstalledAfterThePurge: app_uninstalled reaches Next
// once, typed, after the tenant's tokens were deleted; another workspace is
// untouched.
func TestNextGetsAppUninstalledAfterThePurge(t *testing.T) {
	installed := time.Now().Add(-time.Hour).Truncate(time.Second)
	e := newNuEnv(t, nuQ("T1", ""), nuQ("T1", "U1"), nuQ("T2", ""))
	e.seed("T1", "U1", "a", installed)
	other := e.seed("T2", "U1", "b", installed)
	body := nuBody("T1", "Ev0UNINST1", `{"type":"app_uninstalled"}`, installed.Add(time.Minute))

	require.Equal(t, http.StatusOK, e.post(body, 0))
	require.Equal(t, 1, e.next.count(), "app_uninstalled reaches Next")
	ev := e.next.events[0]
	require.Equal(t, "app_uninstalled", ev.Type)
	require.Equal(t, installstore.Query{TeamID: "T1"}, ev.Tenant, "the verified tenant")
	require.Equal(t, "Ev0UNINST1", ev.ID)
	require.True(t, ev.Time.Equal(installed.Add(time.Minute)))
	_, ok := ev.API.InnerEvent.Data.(*slackevents.AppUninstalledEvent)
	require.True(t, ok, "typed inner event, got %T", ev.API.InnerEvent.Data)
	require.Empty(t, ev.API.Token, "the verification token is not handed on")
	require.False(t, ev.Kept.Any(), "nothing was kept: %+v", ev.Kept)
	require.Equal(t, body, e.next.bodies[0], "the body reaches Next intact")
	require.Equal(t, map[installstore.Query]bool{nuQ("T1", ""): false, nuQ("T1", "U1"): false, nuQ("T2", ""): true},
		e.next.stored[0], "when Next runs, the uninstalled tenant's tokens are gone and the other tenant's are not")

	// Slack's retry of the same event: purged again (nothing left), and
	// acknowledged without reaching Next a second time.
	require.Equal(t, http.StatusOK, e.post(body, 1))
	require.Equal(t, 1, e.next.count(), "a retry of a delivered event does not reach Next again")
	got, err := e.store.FetchInstallation(context.Background(), nuQ("T2", "U1"))
	require.NoError(t, err)
	storetest.Equal(t, other, got)
}

// TestNextGetsTokensRevokedAfterThePurge: tokens_revoked reaches Next after
// the listed user's installation was deleted; the bot it did not list stays.
func TestNextGetsTokensRevokedAfterThePurge(t *testing.T) {
	installed := time.Now().Add(-time.Hour).Truncate(time.Second)
	e := newNuEnv(t, nuQ("T1", "U1"), nuQ("T1", "U2"), nuQ("T1", ""))
	e.seed("T1", "U1", "a", installed)
	e.seed("T1", "U2", "b", installed)
	body := nuBody("T1", "Ev0REVOKE1", `{"type":"tokens_revoked","tokens":{"oauth":["U1"],"bot":[]}}`, installed.Add(time.Minute))

	require.Equal(t, http.StatusOK, e.post(body, 0))
	require.Equal(t, 1, e.next.count())
	ev := e.next.events[0]
	require.Equal(t, "tokens_revoked", ev.Type)
	require.Equal(t, installstore.Query{TeamID: "T1"}, ev.Tenant)
	tr, ok := ev.API.InnerEvent.Data.(*slackevents.TokensRevokedEvent)
	require.True(t, ok, "typed inner event, got %T", ev.API.InnerEvent.Data)
	require.Equal(t, []string{"U1"}, tr.Tokens.Oauth)
	require.False(t, ev.Kept.Any(), "%+v", ev.Kept)
	require.Equal(t, map[installstore.Query]bool{nuQ("T1", "U1"): false, nuQ("T1", "U2"): true, nuQ("T1", ""): true},
		e.next.stored[0], "U1's installation is gone when Next runs; U2's and the bot stay")
	inst, err := e.store.FetchInstallation(context.Background(), nuQ("T1", ""))
	require.NoError(t, err)
	require.NotNil(t, inst.Bot, "a user revocation leaves the bot")
}

// TestNextToldWhatALateEventKept: an event older than the stored install
// deletes nothing newer, and Next is told what was kept, so that the app
// keeps its data of a workspace that installed again.
func TestNextToldWhatALateEventKept(t *testing.T) {
	t.Run("Reinstalled", func(t *testing.T) {
		installed := time.Now().Add(-time.Hour).Truncate(time.Second)
		e := newNuEnv(t)
		e.seed("T1", "U1", "a", installed)
		// The uninstall happened at installed-1m; the re-install is stored.
		require.Equal(t, http.StatusOK, e.post(nuBody("T1", "Ev0LATE1", `{"type":"app_uninstalled"}`, installed.Add(-time.Minute)), 0))
		require.Equal(t, 1, e.next.count(), "a late event reaches Next too")
		require.Equal(t, oauth.Kept{Tenant: true}, e.next.events[0].Kept)
		require.True(t, e.next.events[0].Kept.Any())
		_, err := e.store.FetchInstallation(context.Background(), nuQ("T1", "U1"))
		require.NoError(t, err, "the newer install is kept")
	})
	t.Run("RevocationPerUserAndBot", func(t *testing.T) {
		installed := time.Now().Add(-time.Hour).Truncate(time.Second)
		e := newNuEnv(t)
		e.seed("T1", "U1", "a", installed)
		// U2 installed after the revocation, and the bot with it.
		e.seed("T1", "U2", "b", installed.Add(2*time.Minute))
		inner := `{"type":"tokens_revoked","tokens":{"oauth":["U2","U1"],"bot":["UBT1"]}}`
		require.Equal(t, http.StatusOK, e.post(nuBody("T1", "Ev0LATE2", inner, installed.Add(time.Minute)), 0))
		require.Equal(t, 1, e.next.count())
		require.Equal(t, oauth.Kept{Bot: true, Users: []string{"U2"}}, e.next.events[0].Kept)
		_, err := e.store.FetchInstallation(context.Background(), nuQ("T1", "U1"))
		require.ErrorIs(t, err, installstore.ErrNotFound, "U1's older installation was purged")
		inst, err := e.store.FetchInstallation(context.Background(), nuQ("T1", "U2"))
		require.NoError(t, err)
		require.NotNil(t, inst.Bot, "the newer bot is kept")
	})
}

// TestNextNotCalledWhenThePurgeFails: a store outage deletes nothing, calls
// no Next and answers 500; Slack's retry after the outage purges and then
// reaches Next, once.
func TestNextNotCalledWhenThePurgeFails(t *testing.T) {
	installed := time.Now().Add(-time.Hour).Truncate(time.Second)
	for name, inner := range map[string]string{
		"AppUninstalled": `{"type":"app_uninstalled"}`,
		"TokensRevoked":  `{"type":"tokens_revoked","tokens":{"oauth":["U1"],"bot":["UBT1"]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newNuEnv(t, nuQ("T1", "U1"))
			e.seed("T1", "U1", "a", installed)
			body := nuBody("T1", "Ev0FAIL1", inner, installed.Add(time.Minute))

			e.store.fail.Store(true)
			require.Equal(t, http.StatusInternalServerError, e.post(body, 0))
			require.Zero(t, e.next.count(), "Next is not called when the purge failed")
			require.Contains(t, e.logged(), "Slack will retry")
			e.store.fail.Store(false)
			_, err := e.store.FetchInstallation(context.Background(), nuQ("T1", "U1"))
			require.NoError(t, err, "nothing was deleted")

			require.Equal(t, http.StatusOK, e.post(body, 1))
			require.Equal(t, 1, e.next.count(), "the retry purges, then reaches Next")
			require.Equal(t, 1, e.next.events[0].RetryNum)
			require.False(t, e.next.stored[0][nuQ("T1", "U1")], "purged before Next ran")
			require.Equal(t, http.StatusOK, e.post(body, 2))
			require.Equal(t, 1, e.next.count(), "once delivered, a retry is a duplicate")
		})
	}
}

// TestNextFailingGetsTheUninstallAgain: when Next fails on an uninstall,
// Slack's retry reaches it again (the purge, already done, finds nothing
// left to delete).
func TestNextFailingGetsTheUninstallAgain(t *testing.T) {
	installed := time.Now().Add(-time.Hour).Truncate(time.Second)
	e := newNuEnv(t, nuQ("T1", "U1"))
	e.seed("T1", "U1", "a", installed)
	body := nuBody("T1", "Ev0NEXTFAIL", `{"type":"app_uninstalled"}`, installed.Add(time.Minute))

	e.next.status.Store(http.StatusInternalServerError)
	require.Equal(t, http.StatusInternalServerError, e.post(body, 0), "Next's answer is Slack's answer")
	require.Equal(t, 1, e.next.count())
	_, err := e.store.FetchInstallation(context.Background(), nuQ("T1", "U1"))
	require.ErrorIs(t, err, installstore.ErrNotFound, "the purge stands")

	e.next.status.Store(0)
	require.Equal(t, http.StatusOK, e.post(body, 1))
	require.Equal(t, 2, e.next.count(), "the retry of a failed delivery reaches Next again")
	require.Equal(t, oauth.Kept{}, e.next.events[1].Kept)
	require.Equal(t, http.StatusOK, e.post(body, 2))
	require.Equal(t, 2, e.next.count())
}
