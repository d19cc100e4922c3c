package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	Event  slackevents.AppMentionEvent
}

// errNotMention: the event is some other event; it is acknowledged and
// ignored.
var errNotMention = errors.New("not an app_mention event_callback")

// envelope is the part of an Events API envelope a mention needs.
type envelope struct {
	Type           string `json:"type"`
	TeamID         string `json:"team_id"`
	EnterpriseID   string `json:"enterprise_id"`
	Authorizations []struct {
		EnterpriseID        string `json:"enterprise_id"`
		TeamID              string `json:"team_id"`
		IsEnterpriseInstall bool   `json:"is_enterprise_install"`
	} `json:"authorizations"`
	Event json.RawMessage `json:"event"`
}

// parseMention decodes an Events API body already verified by the oauth
// handler. The tenant is authorizations[0] when present (as Bolt and the
// oauth package do), else the envelope's team and enterprise.
func parseMention(body []byte) (*mention, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("malformed event envelope: %w", err)
	}
	if env.Type != "event_callback" || len(env.Event) == 0 {
		return nil, errNotMention
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(env.Event, &head); err != nil {
		return nil, fmt.Errorf("malformed event: %w", err)
	}
	if head.Type != string(slackevents.AppMention) {
		return nil, errNotMention
	}
	m := &mention{Tenant: installstore.Query{EnterpriseID: env.EnterpriseID, TeamID: env.TeamID}}
	if len(env.Authorizations) > 0 {
		a := env.Authorizations[0]
		m.Tenant = installstore.Query{EnterpriseID: a.EnterpriseID, TeamID: a.TeamID, IsEnterpriseInstall: a.IsEnterpriseInstall}
	}
	if err := m.Tenant.Validate(); err != nil {
		return nil, fmt.Errorf("app_mention without a valid tenant: %w", err)
	}
	if err := json.Unmarshal(env.Event, &m.Event); err != nil {
		return nil, fmt.Errorf("malformed app_mention: %w", err)
	}
	if m.Event.Channel == "" || m.Event.TimeStamp == "" {
		return nil, errors.New("app_mention without channel or ts")
	}
	return m, nil
}

// tokenClient runs a Slack call with a tenant's own bot client
// (rotation.Refresher.Do).
type tokenClient interface {
	Do(ctx context.Context, q installstore.Query, fn func(ctx context.Context, api *slack.Client) error) error
}

// mentionHandler is the oauth handler's Next: it receives verified events
// the oauth package does not handle, and answers app_mention.
type mentionHandler struct {
	tokens tokenClient
	log    *slog.Logger
}

func (h *mentionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, oauth.MaxEventBytes))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	m, err := parseMention(body)
	switch {
	case errors.Is(err, errNotMention):
		w.WriteHeader(http.StatusOK)
		return
	case err != nil:
		h.log.Warn("slackapp: event rejected", "error", err)
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	// Slack retries an event it thinks was not acknowledged; the first
	// delivery already answered (or failed for good), so a retry must not
	// post twice.
	if r.Header.Get("X-Slack-Retry-Num") != "" || m.Event.BotID != "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx, cancel := context.WithTimeout(installstore.WithCaller(r.Context(), "events:app_mention"), replyTimeout)
	defer cancel()
	if err := h.reply(ctx, m); err != nil {
		// Acknowledged anyway: a Slack retry would not fix a missing
		// installation or a refresh Slack refused.
		h.log.Error("slackapp: reply to app_mention failed", "tenant", m.Tenant.Tenant().String(), "error", err)
	}
	w.WriteHeader(http.StatusOK)
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
