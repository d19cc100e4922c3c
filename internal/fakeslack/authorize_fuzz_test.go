package fakeslack

import (
	"net/url"
	"testing"
)

func FuzzParseAuthorize(f *testing.F) {
	s := &Server{cfg: Config{ClientID: "1.2", RedirectURL: "http://127.0.0.1:9/cb"}}
	f.Add("client_id=1.2&scope=chat%3Awrite&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=x")
	f.Add("client_id=1.2&user_scope=a,,b")
	f.Add("%zz&client_id=1.2")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, problem := s.parseAuthorize(v)
		if problem != "" {
			if req != nil {
				t.Fatal("a refused request came with a value")
			}
			return
		}
		// Whatever is accepted is this app's, goes back to its configured
		// redirect URL only, and asks for some scope.
		if req.ClientID != "1.2" || req.RedirectURI != "http://127.0.0.1:9/cb" || len(req.Scope)+len(req.UserScope) == 0 {
			t.Fatalf("accepted %+v", req)
		}
		for _, sc := range append(req.Scope, req.UserScope...) {
			if sc == "" {
				t.Fatal("empty scope accepted")
			}
		}
	})
}
