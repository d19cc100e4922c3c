package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/oauth"
)

// sensitive configures the admin guard on chat:write.
func sensitive(c *oauth.Config) {
	c.Scopes = append(c.Scopes, "users:read")
	c.SensitiveScopes = []string{"chat:write"}
}

// installWS runs installCases[0] (workspace T0WS, installer U0INSTALLER,
// bot token xoxb-test-T0WS-bot), granted users:read too, to the callback's
// answer.
func installWS(e *env) (*http.Response, string) {
	return installWSGranting(e, "chat:write,commands,incoming-webhook,users:read")
}

func installWSGranting(e *env, scopes string) (*http.Response, string) {
	tc := installCases[0]
	access := strings.Replace(tc.access, `"scope":"chat:write,commands,incoming-webhook"`, `"scope":"`+scopes+`"`, 1)
	e.grant(tc.code, access, tc.authTest, tc.secrets...)
	state, cookie := e.startInstall()
	return e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
}

// TestSensitiveScopesNeedAnAdmin (issue 15, point 6): the built-in
// confused-deputy guard.
func TestSensitiveScopesNeedAnAdmin(t *testing.T) {
	t.Run("Admin", func(t *testing.T) {
		e := newEnv(t, sensitive)
		e.slack.AddUser(fakeslack.User{ID: "U0INSTALLER", IsAdmin: true})
		resp, body := installWS(e)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.EqualValues(t, 1, e.slack.Calls("users.info"))
		require.EqualValues(t, 1, e.store.stores.Load())
	})
	t.Run("NotAnAdminIsUndoneAtSlack", func(t *testing.T) {
		e := newEnv(t, sensitive)
		e.slack.AddUser(fakeslack.User{ID: "U0INSTALLER", IsAdmin: false})
		resp, body := installWS(e)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, body, string(oauth.ReasonInstallerRejected))
		require.Contains(t, body, "ask one of them")
		require.Zero(t, e.store.Len())
		uninstalled, _ := e.undone()
		require.Equal(t, []string{"xoxb-test-T0WS-bot"}, uninstalled, "the app must not stay installed at Slack")
		require.Contains(t, e.logs.String(), "not an admin")
		e.requireNoSecrets()
	})
	t.Run("SlackCannotAnswerFailsClosed", func(t *testing.T) {
		e := newEnv(t, sensitive) // users.info answers user_not_found
		resp, body := installWS(e)
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		require.Contains(t, body, string(oauth.ReasonAdminCheckFailed))
		require.Zero(t, e.store.Len())
		uninstalled, _ := e.undone()
		require.Len(t, uninstalled, 1)
		require.Contains(t, e.logs.String(), "users:read")
		e.requireNoSecrets()
	})
	t.Run("UsersReadNotGrantedFailsClosed", func(t *testing.T) {
		e := newEnv(t, sensitive)
		e.slack.AddUser(fakeslack.User{ID: "U0INSTALLER", IsAdmin: true})
		resp, body := installWSGranting(e, "chat:write,commands")
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		require.Contains(t, body, string(oauth.ReasonAdminCheckFailed))
		require.Zero(t, e.slack.Calls("users.info"))
		require.Zero(t, e.store.Len())
		require.Contains(t, e.logs.String(), "no token granted users:read")
	})
	t.Run("OtherScopesNeedNoCheck", func(t *testing.T) {
		e := newEnv(t, func(c *oauth.Config) {
			c.Scopes = append(c.Scopes, "users:read")
			c.SensitiveScopes = []string{"admin"}
		})
		resp, body := installWS(e)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.Zero(t, e.slack.Calls("users.info"))
	})
	t.Run("ReinstallByANonAdminKeepsTheExistingInstall", func(t *testing.T) {
		e := newEnv(t, sensitive)
		existing := e.seed(storetest.Fixture("", "T0WS", "U0ADMIN", "a"), t0.Add(-time.Hour))
		e.slack.AddUser(fakeslack.User{ID: "U0INSTALLER", IsAdmin: false})
		resp, _ := installWS(e)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		uninstalled, revoked := e.undone()
		require.Empty(t, uninstalled, "apps.uninstall would remove the admin's installation")
		require.Empty(t, revoked, "the bot is the existing installation's")
		storetest.Equal(t, existing, fetch(t, e.store, q("", "T0WS", "U0ADMIN")))
	})
}

// TestRejectedInstallsAreUndone: AuthorizeInstaller's rejection, a store
// that cannot save and an auth.test failure leave no live token at Slack.
func TestRejectedInstallsAreUndone(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*oauth.Config)
		status int
		reason oauth.Reason
		grant  func(e *env)
	}{
		{"AuthorizeInstaller", func(c *oauth.Config) {
			c.AuthorizeInstaller = func(context.Context, *installstore.Installation, *oauth.InstallOptions) error {
				return errors.New("not on the allow list")
			}
		}, http.StatusForbidden, oauth.ReasonInstallerRejected, nil},
		{"StoreUnavailable", func(c *oauth.Config) {
			c.Store = failingStore{c.Store.(*countingStore), fmt.Errorf("dynamo: %w", installstore.ErrUnavailable)}
		}, http.StatusServiceUnavailable, oauth.ReasonStoreFailed, nil},
		{"StoreFailed", func(c *oauth.Config) {
			c.Store = failingStore{c.Store.(*countingStore), errors.New("disk on fire")}
		}, http.StatusInternalServerError, oauth.ReasonStoreFailed, nil},
		{"AuthTestFailed", nil, http.StatusBadGateway, oauth.ReasonExchangeFailed, func(e *env) {
			tc := installCases[0]
			e.grant(tc.code, tc.access, nil, tc.secrets...)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mut []func(*oauth.Config)
			if c.mutate != nil {
				mut = append(mut, c.mutate)
			}
			e := newEnv(t, mut...)
			tc := installCases[0]
			if c.grant != nil {
				c.grant(e)
			} else {
				e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
			}
			state, cookie := e.startInstall()
			resp, body := e.callback(url.Values{"code": {tc.code}, "state": {state}}, cookie)
			require.Equal(t, c.status, resp.StatusCode, body)
			require.Contains(t, body, string(c.reason))
			require.Zero(t, e.store.Len())
			uninstalled, _ := e.undone()
			require.Equal(t, []string{"xoxb-test-T0WS-bot"}, uninstalled)
			require.Contains(t, e.logs.String(), "uninstalled at Slack")
			e.requireNoSecrets()
		})
	}
}

// TestInstallOptionsAndHooks (issue 15, point 4): options chosen before
// the install page travel in the signed state to the callback's hooks.
func TestInstallOptionsAndHooks(t *testing.T) {
	var authorized, after *oauth.InstallOptions
	var redirectedTo string
	var e *env
	e = newEnv(t, func(c *oauth.Config) {
		c.BeforeInstall = func(_ http.ResponseWriter, r *http.Request, o *oauth.InstallOptions) bool {
			o.Scopes = []string{"chat:write"}
			o.UserScopes = []string{}
			o.Team = r.URL.Query().Get("team")
			o.Metadata = `{"customer":"c-42"}`
			return true
		}
		c.BeforeRedirect = func(_ http.ResponseWriter, _ *http.Request, to string, _ *oauth.InstallOptions) bool {
			redirectedTo = to
			return true
		}
		c.AuthorizeInstaller = func(_ context.Context, _ *installstore.Installation, o *oauth.InstallOptions) error {
			authorized = o
			return nil
		}
		c.AfterInstall = func(ctx context.Context, inst *installstore.Installation, o *oauth.InstallOptions) {
			after = o
			_, err := e.store.FetchInstallation(ctx, inst.Query())
			require.NoError(t, err, "AfterInstall runs once the installation is stored")
		}
	})
	tc := installCases[0]
	e.grant(tc.code, tc.access, tc.authTest, tc.secrets...)
	resp, body := e.do(e.browser(), newReq(t, http.MethodGet, e.app.URL+oauth.DefaultInstallPath+"?team=T0WS", nil))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	auth := e.slack.LastAuthorize()
	require.Equal(t, "chat:write", auth.Get("scope"))
	require.False(t, auth.Has("user_scope"))
	require.Equal(t, "T0WS", auth.Get("team"))
	require.Contains(t, redirectedTo, "team=T0WS")
	want := &oauth.InstallOptions{Scopes: []string{"chat:write"}, UserScopes: []string{}, Team: "T0WS", Metadata: `{"customer":"c-42"}`}
	require.Equal(t, want, authorized)
	require.Equal(t, want, after)
}

func TestInstallHooksMayAnswer(t *testing.T) {
	t.Run("BeforeInstall", func(t *testing.T) {
		e := newEnv(t, func(c *oauth.Config) {
			c.BeforeInstall = func(w http.ResponseWriter, r *http.Request, _ *oauth.InstallOptions) bool {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return false
			}
		})
		resp, _ := e.do(e.noRedirect(), newReq(t, http.MethodGet, e.app.URL+oauth.DefaultInstallPath, nil))
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Empty(t, resp.Cookies())
	})
	t.Run("BeforeRedirect", func(t *testing.T) {
		e := newEnv(t, func(c *oauth.Config) {
			c.BeforeRedirect = func(w http.ResponseWriter, _ *http.Request, _ string, _ *oauth.InstallOptions) bool {
				w.WriteHeader(http.StatusTeapot)
				return false
			}
		})
		resp, _ := e.do(e.noRedirect(), newReq(t, http.MethodGet, e.app.URL+oauth.DefaultInstallPath, nil))
		require.Equal(t, http.StatusTeapot, resp.StatusCode)
	})
	t.Run("BadOptions", func(t *testing.T) {
		for name, set := range map[string]func(*oauth.InstallOptions){
			"Metadata": func(o *oauth.InstallOptions) { o.Metadata = strings.Repeat("m", oauth.MaxMetadataBytes+1) },
			"Team":     func(o *oauth.InstallOptions) { o.Team = "T 1" },
			"Scope":    func(o *oauth.InstallOptions) { o.Scopes = []string{"a,b"} },
			"NoScopes": func(o *oauth.InstallOptions) { o.Scopes, o.UserScopes = []string{}, []string{} },
		} {
			e := newEnv(t, func(c *oauth.Config) {
				c.BeforeInstall = func(_ http.ResponseWriter, _ *http.Request, o *oauth.InstallOptions) bool {
					set(o)
					return true
				}
			})
			resp, body := e.do(e.noRedirect(), newReq(t, http.MethodGet, e.app.URL+oauth.DefaultInstallPath, nil))
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode, name)
			require.Contains(t, body, string(oauth.ReasonInstallOptions), name)
			require.Contains(t, e.logs.String(), "BeforeInstall chose options", name)
		}
	})
}
