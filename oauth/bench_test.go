package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/oauth"
)

const benchBody = `{"token":"unused","team_id":"T1","api_app_id":"A0APP","type":"event_callback","event_id":"Ev1","event_time":1700000000,
	"event":{"type":"app_mention","user":"U1","text":"hello there","ts":"1.2","channel":"C1","event_ts":"1.2"},
	"authorizations":[{"team_id":"T1","user_id":"UB1","is_bot":true,"is_enterprise_install":false}]}`

// BenchmarkVerifyOnly is the baseline: slack-go's signature check alone.
func BenchmarkVerifyOnly(b *testing.B) {
	req := signed(&testing.T{}, benchBody, testSigningSecret, time.Now())
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		sv, err := slack.NewSecretsVerifier(req.Header, testSigningSecret)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = sv.Write(body)
		if err := sv.Ensure(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeEventsUnrelated is the whole endpoint for an event it only
// acknowledges: read, verify, parse, answer.
func BenchmarkServeEventsUnrelated(b *testing.B) {
	cfg := validConfig()
	cfg.Store = memory.New()
	h, err := oauth.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	proto := signed(&testing.T{}, benchBody, testSigningSecret, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, oauth.DefaultEventsPath, strings.NewReader(benchBody))
		req.Header = proto.Header
		rec := httptest.NewRecorder()
		h.ServeEvents(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
