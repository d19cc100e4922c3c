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
	// Kept is set for app_uninstalled and tokens_revoked, which reach Next
	// after the handler purged what they name: the parts it kept because
	// they were installed after the event (see [Kept]). Zero for every
	// other event, and when everything the event names is gone.
	Kept Kept
}

// Kept is what an app_uninstalled or tokens_revoked event named that the
// handler did not delete, because the stored installation is newer than
// the event (its event_time is not after the install time): a re-install
// after the uninstall, a retry arriving late, or a revocation of tokens an
// earlier install had. A late event never deletes a newer install, and
// the app should not drop its data for what Kept lists either: that
// workspace (or user) installed the app again.
//
// Everything else the event named is gone from the store when Next runs:
// already purged, never stored, or purged now (a record that can never be
// opened is purged whatever the event's time).
type Kept struct {
	// Tenant: app_uninstalled named a tenant installed again after the event.
	Tenant bool
	// Bot: tokens_revoked listed bot tokens, and the stored bot was
	// installed after the event.
	Bot bool
	// Users are the users tokens_revoked listed whose installations were
	// made after the event: sorted, without duplicates.
	Users []string
}

// Any reports whether anything was kept.
func (k Kept) Any() bool { return k.Tenant || k.Bot || len(k.Users) > 0 }

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
