package oauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/oauth"
)

// signed builds an Events API request signed with secret at ts, as Slack does.
func signed(t *testing.T, body, secret string, ts time.Time) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, oauth.DefaultEventsPath, strings.NewReader(body))
	stamp := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", stamp, body)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// send serves req and returns the recorded response; its body is recorded
// for the secret check.
func (e *env) send(req *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	_, _ = e.bodies.Write(append(rec.Body.Bytes(), '\n'))
	return rec
}

// post sends body signed with the app's signing secret, now.
func (e *env) post(body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.send(signed(e.t, body, testSigningSecret, time.Now()))
}

// callbackBody is an event_callback envelope around inner, at eventTime.
func callbackBody(ent, team string, isEnt bool, inner string, eventTime time.Time) string {
	return fmt.Sprintf(`{"token":"unused","team_id":%q,"enterprise_id":%q,"api_app_id":"A0APP",
		"event":%s,"type":"event_callback","event_id":"Ev0TEST","event_time":%d,
		"authorizations":[{"enterprise_id":%q,"team_id":%q,"user_id":"UB1","is_bot":true,"is_enterprise_install":%t}]}`,
		team, ent, inner, eventTime.Unix(), ent, team, isEnt)
}

const (
	uninstalled = `{"type":"app_uninstalled"}`
	revokeU1    = `{"type":"tokens_revoked","tokens":{"oauth":["U1"],"bot":[]}}`
	revokeBot   = `{"type":"tokens_revoked","tokens":{"oauth":[],"bot":["UBT1"]}}`
)

// seed stores fix with InstalledAt at.
func (e *env) seed(fix *installstore.Installation, at time.Time) *installstore.Installation {
	e.t.Helper()
	fix.InstalledAt = at
	if fix.Bot != nil {
		fix.Bot.InstalledAt = at
	}
	require.NoError(e.t, e.store.StoreInstallation(context.Background(), fix.Clone()))
	_ = fix.Secrets(func(_ string, s *installstore.Secret) error {
		e.addSecrets(s.Reveal())
		return nil
	})
	return fix
}

func (e *env) requireGone(q installstore.Query) {
	e.t.Helper()
	_, err := e.store.FetchInstallation(context.Background(), q)
	require.ErrorIs(e.t, err, installstore.ErrNotFound, "%+v is still stored", q)
}

func q(ent, team, user string) installstore.Query {
	return installstore.Query{EnterpriseID: ent, TeamID: team, UserID: user}
}

func TestEventsURLVerification(t *testing.T) {
	e := newEnv(t)
	rec := e.post(`{"token":"unused","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", rec.Body.String())
	require.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
}

func TestEventsAppUninstalledPurges(t *testing.T) {
	e := newEnv(t)
	e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
	e.seed(storetest.Fixture("", "T1", "U2", "b"), t0)
	other := e.seed(storetest.Fixture("", "T2", "U1", "c"), t0)
	body := callbackBody("", "T1", false, uninstalled, t0.Add(time.Minute))
	for range 2 { // a retried event does no harm
		rec := e.post(body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		e.requireGone(q("", "T1", ""))
		e.requireGone(q("", "T1", "U1"))
		e.requireGone(q("", "T1", "U2"))
	}
	storetest.Equal(t, other, fetch(t, e.store, q("", "T2", "U1")))
	require.Contains(t, e.logs.String(), "tenant purged")
	e.requireNoSecrets()
}

func TestEventsTokensRevokedUserLeavesBot(t *testing.T) {
	e := newEnv(t)
	e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
	u2 := e.seed(storetest.Fixture("", "T1", "U2", "b"), t0)
	rec := e.post(callbackBody("", "T1", false, revokeU1, t0.Add(time.Minute)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	e.requireGone(q("", "T1", "U1"))
	got := fetch(t, e.store, q("", "T1", "U2"))
	storetest.Equal(t, u2, got)
	require.NotNil(t, fetch(t, e.store, q("", "T1", "")).Bot, "the bot must stay")
	e.requireNoSecrets()
}

func TestEventsTokensRevokedBot(t *testing.T) {
	e := newEnv(t)
	u1 := e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
	rec := e.post(callbackBody("", "T1", false, revokeBot, t0.Add(time.Minute)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := fetch(t, e.store, q("", "T1", "U1"))
	require.Nil(t, got.Bot)
	require.Equal(t, u1.User.Token, got.User.Token, "the user's token must stay")
}

// TestEventsLateEventsIgnored: an event older than the stored installation
// (a retry after a quick re-install, tokens_revoked after app_uninstalled)
// is acknowledged and deletes nothing.
func TestEventsLateEventsIgnored(t *testing.T) {
	e := newEnv(t)
	first := e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)

	// Uninstall at t0+1m purges; the app is re-installed at t0+2m.
	uninstall := callbackBody("", "T1", false, uninstalled, t0.Add(time.Minute))
	require.Equal(t, http.StatusOK, e.post(uninstall).Code)
	e.requireGone(q("", "T1", ""))
	again := e.seed(storetest.Fixture("", "T1", "U1", "b"), t0.Add(2*time.Minute))
	require.NotEqual(t, first.Bot.Token, again.Bot.Token)

	// The uninstall is retried, and a tokens_revoked of the old install arrives late.
	require.Equal(t, http.StatusOK, e.post(uninstall).Code)
	require.Equal(t, http.StatusOK, e.post(callbackBody("", "T1", false, revokeU1, t0.Add(time.Minute))).Code)
	require.Equal(t, http.StatusOK, e.post(callbackBody("", "T1", false, revokeBot, t0.Add(time.Minute))).Code)
	// Same second as the install: ties keep it.
	require.Equal(t, http.StatusOK, e.post(callbackBody("", "T1", false, uninstalled, t0.Add(2*time.Minute))).Code)
	storetest.Equal(t, again, fetch(t, e.store, q("", "T1", "U1")))
	require.Contains(t, e.logs.String(), "ignoring an event older than the stored installation")
}

func TestEventsLateRevocationIsPerUser(t *testing.T) {
	e := newEnv(t)
	e.seed(storetest.Fixture("", "T1", "U2", "a"), t0)
	u1 := e.seed(storetest.Fixture("", "T1", "U1", "b"), t0.Add(10*time.Minute)) // U1 re-installed later
	inner := `{"type":"tokens_revoked","tokens":{"oauth":["U1","U2"]}}`
	rec := e.post(callbackBody("", "T1", false, inner, t0.Add(5*time.Minute)))
	require.Equal(t, http.StatusOK, rec.Code)
	e.requireGone(q("", "T1", "U2"))
	storetest.Equal(t, u1, fetch(t, e.store, q("", "T1", "U1")))
}

func TestEventsEnterpriseTenants(t *testing.T) {
	t.Run("OrgWide", func(t *testing.T) {
		e := newEnv(t)
		e.seed(storetest.OrgFixture("E1", "W1", "o"), t0)
		ws := e.seed(storetest.Fixture("E1", "T2", "U2", "w"), t0)
		// The event happened in workspace T9 of the org; the tenant is the org.
		rec := e.post(callbackBody("E1", "T9", true, uninstalled, t0.Add(time.Minute)))
		require.Equal(t, http.StatusOK, rec.Code)
		e.requireGone(installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true})
		storetest.Equal(t, ws, fetch(t, e.store, q("E1", "T2", "U2")))
	})
	t.Run("GridWorkspace", func(t *testing.T) {
		e := newEnv(t)
		org := e.seed(storetest.OrgFixture("E1", "W1", "o"), t0)
		e.seed(storetest.Fixture("E1", "T2", "U2", "w"), t0)
		rec := e.post(callbackBody("E1", "T2", false, uninstalled, t0.Add(time.Minute)))
		require.Equal(t, http.StatusOK, rec.Code)
		// T2 now falls back to the org install: it is no longer its own.
		require.True(t, fetch(t, e.store, q("E1", "T2", "")).IsEnterpriseInstall)
		storetest.Equal(t, org, fetch(t, e.store, installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true, UserID: "W1"}))
	})
	t.Run("EnvelopeWithoutAuthorizations", func(t *testing.T) {
		e := newEnv(t)
		e.seed(storetest.OrgFixture("E1", "W1", "o"), t0)
		body := fmt.Sprintf(`{"team_id":"T9","enterprise_id":"E1","is_enterprise_install":true,"type":"event_callback",
			"event":%s,"event_time":%d}`, uninstalled, t0.Add(time.Minute).Unix())
		require.Equal(t, http.StatusOK, e.post(body).Code)
		e.requireGone(installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true})
	})
}

// TestEventsRejected: nothing unverified or malformed deletes anything.
func TestEventsRejected(t *testing.T) {
	good := callbackBody("", "T1", false, uninstalled, t0.Add(time.Minute))
	tampered := strings.Replace(good, `"T1"`, `"T2"`, 2)
	cases := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
	}{
		{"Unsigned", func(*testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, oauth.DefaultEventsPath, strings.NewReader(good))
		}, http.StatusUnauthorized},
		{"WrongSecret", func(t *testing.T) *http.Request { return signed(t, good, "another-signing-secret", time.Now()) }, http.StatusUnauthorized},
		{"Stale", func(t *testing.T) *http.Request {
			return signed(t, good, testSigningSecret, time.Now().Add(-6*time.Minute))
		}, http.StatusUnauthorized},
		{"FromTheFuture", func(t *testing.T) *http.Request {
			return signed(t, good, testSigningSecret, time.Now().Add(6*time.Minute))
		}, http.StatusUnauthorized},
		{"TamperedBody", func(t *testing.T) *http.Request {
			req := signed(t, good, testSigningSecret, time.Now())
			req.Body = io.NopCloser(strings.NewReader(tampered))
			return req
		}, http.StatusUnauthorized},
		{"GarbledSignature", func(t *testing.T) *http.Request {
			req := signed(t, good, testSigningSecret, time.Now())
			req.Header.Set("X-Slack-Signature", "v0=zz")
			return req
		}, http.StatusUnauthorized},
		{"MalformedJSON", func(t *testing.T) *http.Request {
			return signed(t, `{"type":"event_callback","event":`, testSigningSecret, time.Now())
		}, http.StatusBadRequest},
		{"NoTenant", func(t *testing.T) *http.Request {
			return signed(t, `{"type":"event_callback","event":{"type":"app_uninstalled"},"event_time":1}`, testSigningSecret, time.Now())
		}, http.StatusBadRequest},
		{"NoEventTime", func(t *testing.T) *http.Request {
			return signed(t, `{"type":"event_callback","team_id":"T1","event":{"type":"app_uninstalled"}}`, testSigningSecret, time.Now())
		}, http.StatusBadRequest},
		{"BadUserID", func(t *testing.T) *http.Request {
			return signed(t, callbackBody("", "T1", false, `{"type":"tokens_revoked","tokens":{"oauth":["U1:x"]}}`, t0.Add(time.Minute)), testSigningSecret, time.Now())
		}, http.StatusBadRequest},
		{"TooLarge", func(t *testing.T) *http.Request {
			big := `{"type":"event_callback","pad":"` + strings.Repeat("x", oauth.MaxEventBytes) + `"}`
			return signed(t, big, testSigningSecret, time.Now())
		}, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			t1 := e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
			t2 := e.seed(storetest.Fixture("", "T2", "U1", "b"), t0)
			rec := e.send(c.req(t))
			require.Equal(t, c.status, rec.Code, rec.Body.String())
			storetest.Equal(t, t1, fetch(t, e.store, q("", "T1", "U1")))
			storetest.Equal(t, t2, fetch(t, e.store, q("", "T2", "U1")))
			require.Contains(t, e.logs.String(), "request rejected")
			e.requireNoSecrets()
		})
	}
}

func TestEventsUnrelated(t *testing.T) {
	body := callbackBody("", "T1", false, `{"type":"app_mention","user":"U1","text":"hi","ts":"1.2","channel":"C1","event_ts":"1.2"}`, t0)
	t.Run("Acknowledged", func(t *testing.T) {
		e := newEnv(t)
		fix := e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
		rec := e.post(body)
		require.Equal(t, http.StatusOK, rec.Code)
		storetest.Equal(t, fix, fetch(t, e.store, q("", "T1", "U1")))
	})
	t.Run("PassedToNext", func(t *testing.T) {
		var got string
		e := newEnv(t, func(c *oauth.Config) {
			c.Next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = string(b)
				w.WriteHeader(http.StatusAccepted)
			})
		})
		rec := e.post(body)
		require.Equal(t, http.StatusAccepted, rec.Code)
		require.Equal(t, body, got)
	})
	t.Run("UnsignedNeverReachesNext", func(t *testing.T) {
		called := false
		e := newEnv(t, func(c *oauth.Config) {
			c.Next = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
		})
		rec := e.send(httptest.NewRequest(http.MethodPost, oauth.DefaultEventsPath, strings.NewReader(body)))
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		require.False(t, called)
	})
}

// erroringStore fails fetches with err, as a backend outage would.
type erroringStore struct {
	*countingStore
	err error
}

func (s erroringStore) FetchInstallation(context.Context, installstore.Query) (*installstore.Installation, error) {
	return nil, s.err
}

// TestEventsStoreErrorAsksForRetry: a store that cannot answer deletes
// nothing; Slack is asked to retry.
func TestEventsStoreErrorAsksForRetry(t *testing.T) {
	for name, err := range map[string]error{
		"Unavailable":  fmt.Errorf("dynamo: fetch tenant :T1: %w", installstore.ErrUnavailable),
		"Unclassified": errors.New("backend on fire"),
		// Transient wins over anything else an error also wraps.
		"UnavailableAndDecrypt": fmt.Errorf("%w: %w", installstore.ErrUnavailable, crypto.ErrDecrypt),
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *oauth.Config) { c.Store = erroringStore{c.Store.(*countingStore), err} })
			fix := e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
			for _, inner := range []string{uninstalled, revokeU1, revokeBot} {
				rec := e.post(callbackBody("", "T1", false, inner, t0.Add(time.Minute)))
				require.Equal(t, http.StatusInternalServerError, rec.Code, inner)
			}
			storetest.Equal(t, fix, fetch(t, e.store, q("", "T1", "U1")))
			require.Contains(t, e.logs.String(), "Slack will retry")
		})
	}
}

// TestEventsPurgeRecordsThatNeverOpen: a record that can never be opened
// or decoded serves nobody and is purged, late-event check or not.
func TestEventsPurgeRecordsThatNeverOpen(t *testing.T) {
	for name, err := range map[string]error{
		"Decrypt": fmt.Errorf("crypto: open bot.token of tenant :T1: %w", crypto.ErrDecrypt),
		"Corrupt": fmt.Errorf("dynamo: fetch tenant :T1: %w", installstore.ErrCorrupt),
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *oauth.Config) { c.Store = erroringStore{c.Store.(*countingStore), err} })
			e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
			e.seed(storetest.Fixture("", "T2", "U1", "b"), t0)
			// Even a late event: what cannot be opened cannot be compared.
			rec := e.post(callbackBody("", "T1", false, uninstalled, t0.Add(-time.Hour)))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			e.requireGone(q("", "T1", ""))
			e.requireGone(q("", "T1", "U1"))
			require.Equal(t, 1, e.store.Len(), "only the corrupt tenant was purged")
			require.Contains(t, e.logs.String(), "can never be opened")
			e.requireNoSecrets()
		})
	}
}
