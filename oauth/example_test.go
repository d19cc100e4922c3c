package oauth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack/slackevents"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/oauth"
)

// A Slack app serves its install page, OAuth redirect and Events API
// endpoint from one handler. Here a browser opens the install page and is
// sent to Slack with the app's scopes and a state that its cookie repeats.
func Example() {
	h, err := oauth.New(oauth.Config{
		ClientID:      "1111.2222",
		ClientSecret:  installstore.NewSecret("client-secret-example"),
		SigningSecret: installstore.NewSecret("signing-secret-example"),
		StateSecret:   installstore.NewSecret("state-secret-example-0123456789abcdef"),
		Scopes:        []string{"chat:write", "commands"},
		RedirectURL:   "https://app.example.com/slack/oauth_redirect",
		Store:         memory.New(), // installations, used states, event markers
		DirectInstall: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	// In an app: http.ListenAndServe(addr, h), or mount h.ServeInstall etc.

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://app.example.com/slack/install", nil))
	to, _ := url.Parse(rec.Header().Get("Location"))
	cookie := rec.Result().Cookies()[0]

	fmt.Println(rec.Code, to.Host+to.Path)
	fmt.Println("scope:", to.Query().Get("scope"))
	fmt.Println("cookie:", cookie.Name, cookie.Secure, cookie.HttpOnly, cookie.SameSite == http.SameSiteLaxMode)
	fmt.Println("cookie holds the state:", cookie.Value == to.Query().Get("state"))
	// Output:
	// 302 slack.com/oauth/v2/authorize
	// scope: chat:write,commands
	// cookie: slack-app-oauth-state true true true
	// cookie holds the state: true
}

// The app's own event code gets the verified tenant and slack-go's typed
// event from the request's context: nothing to parse, nothing to trust from
// the message. Each event_id reaches it once (Slack's retry below is
// acknowledged without reaching it); answering 5xx gets a retry delivered
// again.
func ExampleEventFrom() {
	mentions := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, ok := oauth.EventFrom(r.Context())
		if !ok {
			http.Error(w, "not a verified event", http.StatusBadRequest)
			return
		}
		if m, ok := ev.API.InnerEvent.Data.(*slackevents.AppMentionEvent); ok {
			// Reply with the tokens of ev.Tenant, e.g. through
			// rotation.Refresher.Do(r.Context(), ev.Tenant, ...).
			fmt.Printf("%s %s in channel %s of team %s\n", ev.ID, ev.Type, m.Channel, ev.Tenant.TeamID)
		}
	})
	const signingSecret = "signing-secret-example"
	h, err := oauth.New(oauth.Config{
		ClientID:      "1111.2222",
		ClientSecret:  installstore.NewSecret("client-secret-example"),
		SigningSecret: installstore.NewSecret(signingSecret),
		StateSecret:   installstore.NewSecret("state-secret-example-0123456789abcdef"),
		Scopes:        []string{"app_mentions:read", "chat:write"},
		RedirectURL:   "https://app.example.com/slack/oauth_redirect",
		Store:         memory.New(),
		Next:          mentions,
	})
	if err != nil {
		log.Fatal(err)
	}

	// What Slack sends, signed with the app's signing secret.
	body := `{"type":"event_callback","team_id":"T0ACME","api_app_id":"A0APP","event_id":"Ev0001","event_time":1764590000,
		"event":{"type":"app_mention","user":"U1","text":"<@U0BOT> hi","ts":"1.2","channel":"C0GENERAL"},
		"authorizations":[{"team_id":"T0ACME","user_id":"U0BOT","is_bot":true}]}`
	for retry := range 2 {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(signingSecret))
		mac.Write([]byte("v0:" + ts + ":" + body))
		req := httptest.NewRequest(http.MethodPost, "https://app.example.com/slack/events", strings.NewReader(body))
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
		if retry > 0 {
			req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println("answered", rec.Code)
	}
	// Output:
	// Ev0001 app_mention in channel C0GENERAL of team T0ACME
	// answered 200
	// answered 200
}
