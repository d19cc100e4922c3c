package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
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

// BenchmarkServeEventsToNext is the whole endpoint for an event handed to
// Next, each with a new event_id: read, verify, parse (typed), de-duplicate
// (lease, marker, release, on memory), deliver.
func BenchmarkServeEventsToNext(b *testing.B) {
	for _, dedup := range []bool{true, false} {
		name := "Deduplicated"
		if !dedup {
			name = "EveryDelivery"
		}
		b.Run(name, func(b *testing.B) {
			cfg := validConfig()
			cfg.Store = memory.New()
			cfg.DeliverDuplicateEvents = !dedup
			cfg.Next = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
			h, err := oauth.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				body := strings.Replace(benchBody, `"event_id":"Ev1"`, `"event_id":"Ev`+strconv.Itoa(i)+`"`, 1)
				req := signed(&testing.T{}, body, testSigningSecret, time.Now())
				rec := httptest.NewRecorder()
				h.ServeEvents(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
