package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/oauth"
)

// replyTimeout bounds the reply, within Slack's 3-second window for
// acknowledging an event. An app with slower work acknowledges first and
// works from a queue.
const replyTimeout = 2500 * time.Millisecond

// mention is a verified app_mention event and the tenant it came from.
type mention struct {
	// Tenant comes from the signed envelope, never from the message.
	Tenant installstore.Query
	Event  *slackevents.AppMentionEvent
}

// errNotMention: the event is some other event; it is acknowledged and
// ignored.
var errNotMention = errors.New("not an app_mention")

// mentionFrom picks an app_mention out of the event the oauth handler
// verified and parsed: the tenant is the one the handler derived from the
// signed envelope (the same one it purges on uninstall), the event is
// slack-go's type. Nothing is parsed here.
func mentionFrom(ev *oauth.Event) (*mention, error) {
	m, ok := ev.API.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok || ev.Type != string(slackevents.AppMention) {
		return nil, errNotMention
	}
	if m.Channel == "" || m.TimeStamp == "" {
		return nil, errors.New("app_mention without channel or ts")
	}
	return &mention{Tenant: ev.Tenant, Event: m}, nil
}

// tokenClient runs a Slack call with a tenant's own bot client
// (rotation.Refresher.Do).
type tokenClient interface {
	Do(ctx context.Context, q installstore.Query, fn func(ctx context.Context, api *slack.Client) error) error
}

// mentionHandler is the oauth handler's Next: it receives verified events
// (each event_id once: the handler de-duplicates Slack's retries across
// replicas), answers app_mention, and hears of uninstalls after the oauth
// handler deleted the workspace's tokens.
type mentionHandler struct {
	tokens tokenClient
	log    *slog.Logger
}

func (h *mentionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, ok := oauth.EventFrom(r.Context())
	if !ok {
		// Only the oauth handler calls this, with a verified event.
		http.Error(w, "not a verified event", http.StatusBadRequest)
		return
	}
	if ev.Type == string(slackevents.AppUninstalled) {
		h.uninstalled(ev)
		w.WriteHeader(http.StatusOK)
		return
	}
	m, err := mentionFrom(ev)
	switch {
	case errors.Is(err, errNotMention):
		w.WriteHeader(http.StatusOK)
		return
	case err != nil:
		h.log.Warn("slackapp: event ignored", "tenant", ev.Tenant.Tenant().String(), "event_id", ev.ID, "error", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	if m.Event.BotID != "" {
		w.WriteHeader(http.StatusOK) // a bot's mention (ours, say): no reply loops
		return
	}
	ctx, cancel := context.WithTimeout(installstore.WithCaller(r.Context(), "events:app_mention"), replyTimeout)
	defer cancel()
	if err := h.reply(ctx, m); err != nil {
		h.log.Error("slackapp: reply to app_mention failed", "tenant", m.Tenant.Tenant().String(), "event_id", ev.ID, "error", err)
		if errors.Is(err, installstore.ErrUnavailable) {
			// The store or KMS did not answer: nothing was posted. Slack
			// retries, and the oauth handler delivers the retry again.
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		// Acknowledged: a retry would not fix a missing installation or a
		// refresh Slack refused.
	}
	w.WriteHeader(http.StatusOK)
}

// uninstalled is where an app drops its own data of a workspace that
// uninstalled it; this one keeps none beyond the tokens, which the oauth
// handler has already deleted when this runs. An uninstall older than the
// workspace's current install (it installed the app again) keeps it all.
func (h *mentionHandler) uninstalled(ev *oauth.Event) {
	tenant := ev.Tenant.Tenant().String()
	if ev.Kept.Tenant {
		h.log.Info("slackapp: an uninstall older than the workspace's current install; keeping its data", "tenant", tenant)
		return
	}
	h.log.Info("slackapp: workspace uninstalled the app; its tokens are deleted, dropping its data", "tenant", tenant)
}

// reply posts in the mention's thread with the tenant's own bot token.
func (h *mentionHandler) reply(ctx context.Context, m *mention) error {
	thread := m.Event.ThreadTimeStamp
	if thread == "" {
		thread = m.Event.TimeStamp
	}
	text := fmt.Sprintf("Hi <@%s>! This reply was posted with workspace %s's own bot token, sealed at rest and refreshed once when it rotates.",
		m.Event.User, m.Tenant.TeamID)
	err := h.tokens.Do(ctx, m.Tenant, func(ctx context.Context, api *slack.Client) error {
		_, _, err := api.PostMessageContext(ctx, m.Event.Channel, slack.MsgOptionText(text, false), slack.MsgOptionTS(thread))
		return err
	})
	if err != nil {
		return fmt.Errorf("reply to app_mention for tenant %s: %w", m.Tenant.Tenant(), err)
	}
	h.log.Info("slackapp: replied to app_mention", "tenant", m.Tenant.Tenant().String(), "channel", m.Event.Channel)
	return nil
}
