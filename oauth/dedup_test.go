package oauth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/oauth"
)

// mentionBody is a signed-ready app_mention envelope with event_id id.
func mentionBody(app, team, id string) string {
	return fmt.Sprintf(`{"token":"verification-token-test-9d2","team_id":%q,"api_app_id":%q,"type":"event_callback","event_id":%q,"event_time":%d,
		"event":{"type":"app_mention","user":"U1","text":"<@UB1> hi","ts":"1.2","channel":"C1","event_ts":"1.2"},
		"authorizations":[{"team_id":%q,"user_id":"UB1","is_bot":true,"is_enterprise_install":false}]}`,
		team, app, id, t0.Unix(), team)
}

// recorder is a Config.Next that records each event and its body, and
// answers status (200 when 0). With probes, it also records, for each
// event, which of the probed queries store still held while Next ran.
type recorder struct {
	status atomic.Int32
	store  installstore.Store
	probes []installstore.Query

	mu     sync.Mutex
	events []*oauth.Event
	bodies []string
	stored []map[installstore.Query]bool // stored[i]: for events[i]
}

func (n *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, ok := oauth.EventFrom(r.Context())
	if !ok {
		panic("Next without an event")
	}
	body, _ := io.ReadAll(r.Body)
	seen := map[installstore.Query]bool{}
	for _, q := range n.probes {
		_, err := n.store.FetchInstallation(r.Context(), q)
		seen[q] = err == nil
	}
	n.mu.Lock()
	n.events = append(n.events, ev)
	n.bodies = append(n.bodies, string(body))
	n.stored = append(n.stored, seen)
	n.mu.Unlock()
	if s := n.status.Load(); s != 0 {
		w.WriteHeader(int(s))
	}
}

func (n *recorder) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.events)
}

func TestEventsReachNextTyped(t *testing.T) {
	next := &recorder{}
	e := newEnv(t, func(c *oauth.Config) { c.Next = next })
	req := signed(t, mentionBody("A0APP", "T1", "Ev1"), testSigningSecret, time.Now())
	req.Header.Set("X-Slack-Retry-Num", "2")
	req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	require.Equal(t, http.StatusOK, e.send(req).Code)
	require.Equal(t, 1, next.count())
	ev := next.events[0]
	require.Equal(t, installstore.Query{TeamID: "T1"}, ev.Tenant)
	require.Equal(t, "Ev1", ev.ID)
	require.Equal(t, "app_mention", ev.Type)
	require.True(t, ev.Time.Equal(t0))
	require.Equal(t, 2, ev.RetryNum)
	require.Equal(t, "http_timeout", ev.RetryReason)
	m, ok := ev.API.InnerEvent.Data.(*slackevents.AppMentionEvent)
	require.True(t, ok, "%T", ev.API.InnerEvent.Data)
	require.Equal(t, "C1", m.Channel)
	require.Equal(t, "A0APP", ev.API.APIAppID)
	require.Empty(t, ev.API.Token, "the verification token is not handed on")
	require.Empty(t, ev.API.Data.(*slackevents.EventsAPICallbackEvent).Token)

	_, ok = oauth.EventFrom(context.Background())
	require.False(t, ok)
}

// TestEventDeduplication (issue 15, point 7): each event_id reaches Next
// once, duplicates are acknowledged at once, and a delivery Next failed is
// delivered again.
func TestEventDeduplication(t *testing.T) {
	t.Run("RetriesReachNextOnce", func(t *testing.T) {
		next := &recorder{}
		e := newEnv(t, func(c *oauth.Config) { c.Next = next })
		body := mentionBody("A0APP", "T1", "Ev1")
		for i := range 21 {
			req := signed(t, body, testSigningSecret, time.Now())
			if i > 0 {
				req.Header.Set("X-Slack-Retry-Num", fmt.Sprint(i))
			}
			require.Equal(t, http.StatusOK, e.send(req).Code)
		}
		require.Equal(t, 1, next.count())
		// Another event, and the same event ID of another app, are new.
		require.Equal(t, http.StatusOK, e.post(mentionBody("A0APP", "T1", "Ev2")).Code)
		require.Equal(t, http.StatusOK, e.post(mentionBody("A0OTHER", "T1", "Ev1")).Code)
		require.Equal(t, 3, next.count())
	})
	t.Run("FailedDeliveryIsDeliveredAgain", func(t *testing.T) {
		next := &recorder{}
		e := newEnv(t, func(c *oauth.Config) { c.Next = next })
		body := mentionBody("A0APP", "T1", "Ev1")
		next.status.Store(http.StatusInternalServerError)
		require.Equal(t, http.StatusInternalServerError, e.post(body).Code)
		next.status.Store(0)
		require.Equal(t, http.StatusOK, e.post(body).Code)
		require.Equal(t, http.StatusOK, e.post(body).Code)
		require.Equal(t, 2, next.count(), "the failed delivery, its successful retry, and no more")
	})
	t.Run("PanicIsAFailure", func(t *testing.T) {
		var calls atomic.Int32
		e := newEnv(t, func(c *oauth.Config) {
			c.Next = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if calls.Add(1) == 1 {
					panic("app bug")
				}
			})
		})
		body := mentionBody("A0APP", "T1", "Ev1")
		require.Panics(t, func() { e.h.ServeHTTP(httptest.NewRecorder(), signed(t, body, testSigningSecret, time.Now())) })
		require.Equal(t, http.StatusOK, e.post(body).Code)
		require.EqualValues(t, 2, calls.Load())
	})
	t.Run("InProgressDuplicateAsksForRetry", func(t *testing.T) {
		release, entered := make(chan struct{}), make(chan struct{})
		var calls atomic.Int32
		e := newEnv(t, func(c *oauth.Config) {
			c.Next = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				calls.Add(1)
				close(entered)
				<-release
			})
		})
		body := mentionBody("A0APP", "T1", "Ev1")
		first := make(chan int)
		go func() {
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, signed(t, body, testSigningSecret, time.Now()))
			first <- rec.Code
		}()
		<-entered
		require.Equal(t, http.StatusServiceUnavailable, e.post(body).Code, "still processing: Slack should ask again")
		close(release)
		require.Equal(t, http.StatusOK, <-first)
		require.Equal(t, http.StatusOK, e.post(body).Code)
		require.EqualValues(t, 1, calls.Load())
	})
	t.Run("AcrossReplicas", func(t *testing.T) {
		next := &recorder{}
		e := newEnv(t, func(c *oauth.Config) { c.Next = next })
		cfg := validConfig()
		cfg.Store, cfg.Next = e.store, next
		cfg.Logger = slog.New(slog.DiscardHandler)
		replica, err := oauth.New(cfg)
		require.NoError(t, err)
		body := mentionBody("A0APP", "T1", "Ev1")
		var wg sync.WaitGroup
		codes := make([]int, 8)
		for i := range codes {
			wg.Go(func() {
				h := e.h
				if i%2 == 1 {
					h = replica
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, signed(t, body, testSigningSecret, time.Now()))
				codes[i] = rec.Code
			})
		}
		wg.Wait()
		require.Equal(t, 1, next.count(), "codes %v", codes)
		for _, c := range codes {
			require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, c)
		}
	})
	t.Run("StoreUnavailable", func(t *testing.T) {
		next := &recorder{}
		var down atomic.Bool
		down.Store(true)
		e := newEnv(t, func(c *oauth.Config) {
			c.Next = next
			c.Store = flakyNonces{installstore.Passthrough{Inner: c.Store}, &down}
		})
		body := mentionBody("A0APP", "T1", "Ev1")
		require.Equal(t, http.StatusServiceUnavailable, e.post(body).Code)
		require.Zero(t, next.count())
		down.Store(false)
		require.Equal(t, http.StatusOK, e.post(body).Code)
		require.Equal(t, 1, next.count())
	})
	t.Run("OptOut", func(t *testing.T) {
		next := &recorder{}
		e := newEnv(t, func(c *oauth.Config) {
			c.Next = next
			c.DeliverDuplicateEvents = true
		})
		for range 3 {
			require.Equal(t, http.StatusOK, e.post(mentionBody("A0APP", "T1", "Ev1")).Code)
		}
		require.Equal(t, 3, next.count())
		require.Zero(t, e.store.puts.Load())
	})
	t.Run("NoEventID", func(t *testing.T) {
		next := &recorder{}
		e := newEnv(t, func(c *oauth.Config) { c.Next = next })
		body := strings.Replace(mentionBody("A0APP", "T1", "x"), `"event_id":"x",`, "", 1)
		for range 2 {
			require.Equal(t, http.StatusOK, e.post(body).Code)
		}
		require.Equal(t, 2, next.count())
	})
}
