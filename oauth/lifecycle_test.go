package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/oauth"
)

// TestEventsKMSFaults runs the events handler on a replica without cached
// data keys, over crypto with real KMS (kmstest) over memory (issue
// 12, point 1): KMS throttling deletes nothing and asks Slack to retry,
// even for a late event; a disabled key makes the records unreadable for
// good, and they are purged.
func TestEventsKMSFaults(t *testing.T) {
	srv := kmstest.NewServer()
	t.Cleanup(srv.Close)
	key := srv.CreateKey("installvault test")
	keys, err := crypto.NewKMS(srv.Client(), key.ID)
	require.NoError(t, err)

	var warm *crypto.Store
	e := newEnv(t, func(c *oauth.Config) {
		inner := c.Store.(*countingStore)
		warm, err = crypto.NewStore(inner, keys, crypto.WithDataKeyCache(time.Hour, 1000))
		require.NoError(t, err)
		// No data-key cache: every read of this replica asks KMS.
		cold, err := crypto.NewStore(inner, keys)
		require.NoError(t, err)
		c.Store = cold
	})
	seed := func(team string, at time.Time) *installstore.Installation {
		fix := storetest.Fixture("", team, "U1", "k")
		fix.InstalledAt, fix.Bot.InstalledAt = at, at
		require.NoError(t, warm.StoreInstallation(context.Background(), fix.Clone()))
		return fix
	}
	// T1 was re-installed at t0+2m; T2 at t0.
	t1 := seed("T1", t0.Add(2*time.Minute))
	t2 := seed("T2", t0)

	srv.Throttle(1 << 20)
	late := callbackBody("", "T1", false, uninstalled, t0.Add(time.Minute))
	for _, body := range []string{
		late,
		callbackBody("", "T2", false, uninstalled, t0.Add(time.Minute)),
		callbackBody("", "T2", false, revokeU1, t0.Add(time.Minute)),
		callbackBody("", "T2", false, revokeBot, t0.Add(time.Minute)),
	} {
		rec := e.post(body)
		require.Equal(t, http.StatusInternalServerError, rec.Code, "a KMS blip must ask Slack to retry")
	}
	require.Positive(t, srv.Throttled())
	srv.Throttle(0)
	storetest.Equal(t, t1, fetch(t, warm, q("", "T1", "U1")), "the newer install survived the blip")
	storetest.Equal(t, t2, fetch(t, warm, q("", "T2", "U1")), "nothing was deleted during the blip")

	// Slack's retry, once KMS answers: the late event is ignored.
	require.Equal(t, http.StatusOK, e.post(late).Code)
	storetest.Equal(t, t1, fetch(t, warm, q("", "T1", "U1")))

	// The key is disabled: no record will ever open again. An uninstall
	// (even a late one) purges the tenant it names, and only that one.
	require.NoError(t, srv.DisableKey(key.ID))
	require.Equal(t, http.StatusOK, e.post(late).Code)
	e.requireGone(q("", "T1", ""))
	e.requireGone(q("", "T1", "U1"))
	require.Equal(t, 1, e.store.Len(), "T2 stays until its own uninstall")
	require.Equal(t, http.StatusOK, e.post(callbackBody("", "T2", false, revokeBot, t0)).Code)
	raw := fetch(t, e.store, q("", "T2", "U1"))
	require.Nil(t, raw.Bot, "an unreadable bot is revoked without the check")
	require.Contains(t, e.logs.String(), "can never be opened")
	e.requireNoSecrets()
}

// raceStore lets a write land between the handler's fetch and its
// conditional delete, once.
type raceStore struct {
	installstore.Passthrough
	before func()
}

func (s *raceStore) DeleteInstallationIf(ctx context.Context, q installstore.Query, v int64) error {
	s.race()
	return s.Inner.DeleteInstallationIf(ctx, q, v)
}

func (s *raceStore) DeleteBotIf(ctx context.Context, q installstore.Query, v int64) error {
	s.race()
	return s.Inner.DeleteBotIf(ctx, q, v)
}

func (s *raceStore) race() {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
}

// TestEventsCheckAndPurgeAreOneStep: an install landing between the
// late-event check and the purge is never deleted; a token refresh landing
// there does not save the old install from its uninstall.
func TestEventsCheckAndPurgeAreOneStep(t *testing.T) {
	for _, inner := range []string{uninstalled, revokeU1, revokeBot} {
		t.Run("NewInstallLands/"+inner, func(t *testing.T) {
			rs := &raceStore{}
			e := newEnv(t, func(c *oauth.Config) {
				rs.Inner = c.Store
				c.Store = rs
			})
			e.seed(storetest.Fixture("", "T1", "U1", "old"), t0)
			var again *installstore.Installation
			rs.before = func() { again = e.seed(storetest.Fixture("", "T1", "U1", "new"), t0.Add(2*time.Minute)) }
			rec := e.post(callbackBody("", "T1", false, inner, t0.Add(time.Minute)))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			storetest.Equal(t, again, fetch(t, e.store, q("", "T1", "U1")), "the install that landed was deleted")
		})
	}
	t.Run("RefreshLands", func(t *testing.T) {
		rs := &raceStore{}
		e := newEnv(t, func(c *oauth.Config) {
			rs.Inner = c.Store
			c.Store = rs
		})
		e.seed(storetest.Fixture("", "T1", "U1", "old"), t0)
		rs.before = func() {
			inst := fetch(t, e.store, q("", "T1", "U1"))
			inst.Bot.Token = installstore.NewSecret("xoxb-test-refreshed")
			require.NoError(t, e.store.UpdateInstallation(context.Background(), inst))
		}
		rec := e.post(callbackBody("", "T1", false, uninstalled, t0.Add(time.Minute)))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		e.requireGone(q("", "T1", ""))
	})
}

// TestEventsBotRevocationUsesTheBotsInstallTime (issue 15, point 2): after
// a user-scopes-only install, which leaves the bot as it was, a late bot
// revocation still deletes the bot it revoked.
func TestEventsBotRevocationUsesTheBotsInstallTime(t *testing.T) {
	e := newEnv(t)
	e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
	userOnly := storetest.Fixture("", "T1", "U2", "b")
	userOnly.Bot = nil
	e.seed(userOnly, t0.Add(10*time.Minute))
	require.NotNil(t, fetch(t, e.store, q("", "T1", "")).Bot)

	// Older than the bot: ignored.
	require.Equal(t, http.StatusOK, e.post(callbackBody("", "T1", false, revokeBot, t0.Add(-time.Minute))).Code)
	require.NotNil(t, fetch(t, e.store, q("", "T1", "")).Bot)
	// Between the bot's install and the user-only install: the bot goes.
	require.Equal(t, http.StatusOK, e.post(callbackBody("", "T1", false, revokeBot, t0.Add(5*time.Minute))).Code)
	require.Nil(t, fetch(t, e.store, q("", "T1", "U2")).Bot)
	require.NotEmpty(t, fetch(t, e.store, q("", "T1", "U2")).User.Token, "the user's token stays")
}

// TestEventsGridMigration (issue 15, point 1): an uninstall naming the
// enterprise and the team purges the workspace's record from before it
// joined the organization.
func TestEventsGridMigration(t *testing.T) {
	e := newEnv(t)
	e.seed(storetest.Fixture("", "T1", "U1", "a"), t0)
	other := e.seed(storetest.Fixture("", "T2", "U1", "b"), t0)
	require.Equal(t, http.StatusOK, e.post(callbackBody("E1", "T1", false, revokeU1, t0.Add(time.Minute))).Code)
	e.requireGone(q("", "T1", "U1"))
	e.seed(storetest.Fixture("", "T1", "U1", "c"), t0.Add(2*time.Minute))
	// A late uninstall naming E1/T1 keeps the newer standalone install...
	require.Equal(t, http.StatusOK, e.post(callbackBody("E1", "T1", false, uninstalled, t0.Add(time.Minute))).Code)
	require.NotNil(t, fetch(t, e.store, q("", "T1", "")))
	// ...and a later one purges it.
	require.Equal(t, http.StatusOK, e.post(callbackBody("E1", "T1", false, uninstalled, t0.Add(3*time.Minute))).Code)
	e.requireGone(q("", "T1", ""))
	e.requireGone(q("E1", "T1", ""))
	storetest.Equal(t, other, fetch(t, e.store, q("", "T2", "U1")))
}

// TestInstallOrderFromSlacksClock (issue 13, point 3): with the app's
// clock 5 s behind Slack's, Slack's retry of an uninstall it sent before a
// re-install never deletes that re-install: InstalledAt is Slack's Date.
func TestInstallOrderFromSlacksClock(t *testing.T) {
	tc := installCases[0]
	install := func(e *env) *installstore.Installation {
		e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
		state, cookie := e.startInstall()
		resp, body := e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		return fetch(t, e.store, tc.query)
	}
	// Slack sent the uninstall at its t0+3s, i.e. 2 s before it saw the
	// re-install (its t0+5s, the app's t0); Slack retries it after the
	// re-install.
	uninstall := callbackBody("", "T0WS", false, uninstalled, t0.Add(3*time.Second))

	t.Run("SlacksDate", func(t *testing.T) {
		e := newEnv(t)
		e.slack.SkewClock(5 * time.Second)
		inst := install(e)
		require.True(t, inst.InstalledAt.Equal(t0.Add(5*time.Second)), "InstalledAt %v is not Slack's time", inst.InstalledAt)
		require.True(t, inst.Bot.InstalledAt.Equal(inst.InstalledAt))
		require.True(t, inst.Bot.ExpiresAt.IsZero() || inst.Bot.ExpiresAt.After(t0))
		require.Equal(t, http.StatusOK, e.post(uninstall).Code)
		fetch(t, e.store, tc.query)
		// A real uninstall after the re-install still purges.
		require.Equal(t, http.StatusOK, e.post(callbackBody("", "T0WS", false, uninstalled, t0.Add(6*time.Second))).Code)
		e.requireGone(tc.query)
	})
	t.Run("NoDateButSkewAllowed", func(t *testing.T) {
		e := newEnv(t, func(c *oauth.Config) { c.EventClockSkew = 5 * time.Second })
		e.slack.SkewClock(5 * time.Second)
		e.slack.OmitDate(true)
		inst := install(e)
		require.True(t, inst.InstalledAt.Equal(t0), "without Date, the app's clock")
		require.Equal(t, http.StatusOK, e.post(uninstall).Code)
		fetch(t, e.store, tc.query)
		require.Contains(t, e.logs.String(), "has no Date header")
	})
	t.Run("NoDateNoSkewIsWhatTheIssueSaw", func(t *testing.T) {
		e := newEnv(t)
		e.slack.SkewClock(5 * time.Second)
		e.slack.OmitDate(true)
		install(e)
		require.Equal(t, http.StatusOK, e.post(uninstall).Code)
		e.requireGone(tc.query)
	})
	t.Run("AppClockFarOffIsLogged", func(t *testing.T) {
		e := newEnv(t)
		e.slack.SkewClock(3 * time.Minute)
		install(e)
		require.Contains(t, e.logs.String(), "clock differs from Slack's")
	})
}

// TestEventsUninstallPurgesRecordsThatNeverOpen: on the real encryption
// layer, records the backend holds but that can never be opened (a token
// stored unsealed, a sealed value moved from another tenant) are purged by
// their tenant's uninstall, whatever the event's time; other tenants stay.
func TestEventsUninstallPurgesRecordsThatNeverOpen(t *testing.T) {
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	require.NoError(t, err)
	var sealed *crypto.Store
	e := newEnv(t, func(c *oauth.Config) {
		sealed, err = crypto.NewStore(c.Store, keys)
		require.NoError(t, err)
		c.Store = sealed
	})
	bg := context.Background()
	// T1: stored below the encryption layer, unsealed.
	e.seed(storetest.Fixture("", "T1", "U1", "plain"), t0.Add(time.Hour))
	// T2: T3's sealed bot token moved into T2's record.
	require.NoError(t, sealed.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "a")))
	require.NoError(t, sealed.StoreInstallation(bg, storetest.Fixture("", "T3", "U1", "b")))
	t2, t3 := fetch(t, e.store, q("", "T2", "U1")), fetch(t, e.store, q("", "T3", "U1"))
	t2.Bot.Token = t3.Bot.Token
	require.NoError(t, e.store.UpdateInstallation(bg, t2))
	for _, team := range []string{"T1", "T2"} {
		_, err := sealed.FetchInstallation(bg, q("", team, "U1"))
		require.ErrorIs(t, err, crypto.ErrDecrypt, team)
	}

	for _, team := range []string{"T1", "T2"} {
		rec := e.post(callbackBody("", team, false, uninstalled, t0))
		require.Equal(t, http.StatusOK, rec.Code, team)
		e.requireGone(q("", team, ""))
		e.requireGone(q("", team, "U1"))
	}
	fetch(t, sealed, q("", "T3", "U1"))
	require.Equal(t, 1, e.store.Len())
}
