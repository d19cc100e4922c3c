package oauth_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/oauth"
)

// A Slack app serves its install page, OAuth redirect and Events API
// endpoint from one handler. Here a browser opens the install page and is
// sent to Slack with the app's scopes and a state that its cookie repeats.
func Example() {
	h, err := oauth.New(oauth.Config{
		ClientID:      "1111.2222",
		ClientSecret:  "client-secret-example",
		SigningSecret: "signing-secret-example",
		StateSecret:   "state-secret-example-0123456789abcdef",
		Scopes:        []string{"chat:write", "commands"},
		RedirectURL:   "https://app.example.com/slack/oauth_redirect",
		Store:         memory.New(), // also keeps the state nonces
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
