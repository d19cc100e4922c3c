package oauth

import (
	"context"
	"time"

	"github.com/slack-go/slack/slackevents"

	"github.com/installvault/installvault/installstore"
)

// Event is a verified Events API delivery, as Config.Next gets it in its
// request's context: the app's code reads the tenant and the typed event
// from here instead of parsing the body again.
type Event struct {
	// Tenant is the installation the event was delivered for, from the
	// signed envelope (authorizations[0], else the envelope's
	// enterprise_id, team_id and is_enterprise_install), exactly as this
	// package purges: fetch its tokens with it. Always valid for an
	// event_callback; zero for an app_rate_limited without a team.
	Tenant installstore.Query
	// ID is the envelope's event_id ("" when it has none).
	ID string
	// Time is the envelope's event_time (Slack's clock); zero when absent.
	Time time.Time
	// Type is the inner event's type for an event_callback
	// ("app_mention"), else the envelope's type ("app_rate_limited").
	Type string
	// API is the body as slack-go types it. For an event_callback,
	// API.Data is the *slackevents.EventsAPICallbackEvent and
	// API.InnerEvent.Data the typed inner event (*slackevents.AppMentionEvent,
	// *slackevents.MessageEvent, ...), or nil when slack-go knows no type
	// for it or it does not decode into that type. Its Token fields (Slack's
	// deprecated verification token, a credential) are empty.
	API slackevents.EventsAPIEvent
	// RetryNum is Slack's X-Slack-Retry-Num (0 for a first delivery) and
	// RetryReason its X-Slack-Retry-Reason. With de-duplication on, a retry
	// reaches Next only when the earlier deliveries failed.
	RetryNum    int
	RetryReason string
}

type eventKey struct{}

// EventFrom returns the verified event of a request passed to Config.Next.
// ok is false for any other request.
func EventFrom(ctx context.Context) (ev *Event, ok bool) {
	ev, ok = ctx.Value(eventKey{}).(*Event)
	return ev, ok
}

// withEvent returns ctx carrying ev, as [EventFrom] reads it. Only the
// handler puts an event there, after verifying its signature.
func withEvent(ctx context.Context, ev *Event) context.Context {
	return context.WithValue(ctx, eventKey{}, ev)
}
