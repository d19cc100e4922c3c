package main

import (
	"testing"

	"github.com/slack-go/slack/slackevents"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/oauth"
)

func TestMentionFrom(t *testing.T) {
	org := installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true}
	m, err := mentionFrom(&oauth.Event{Tenant: org, Type: "app_mention", API: slackevents.EventsAPIEvent{
		InnerEvent: slackevents.EventsAPIInnerEvent{Type: "app_mention",
			Data: &slackevents.AppMentionEvent{Channel: "C1", TimeStamp: "1.2", ThreadTimeStamp: "1.0"}}}})
	require.NoError(t, err)
	require.Equal(t, org, m.Tenant, "the tenant is the one the oauth handler verified")
	require.Equal(t, "C1", m.Event.Channel)
	require.Equal(t, "1.0", m.Event.ThreadTimeStamp)
}

func TestMentionFromRejects(t *testing.T) {
	mention := func(d any) *oauth.Event {
		return &oauth.Event{Tenant: installstore.Query{TeamID: "T1"}, Type: "app_mention",
			API: slackevents.EventsAPIEvent{InnerEvent: slackevents.EventsAPIInnerEvent{Type: "app_mention", Data: d}}}
	}
	for name, tc := range map[string]struct {
		ev      *oauth.Event
		notMine bool
	}{
		"other event":   {ev: &oauth.Event{Type: "message", API: slackevents.EventsAPIEvent{InnerEvent: slackevents.EventsAPIInnerEvent{Data: &slackevents.MessageEvent{}}}}, notMine: true},
		"rate limited":  {ev: &oauth.Event{Type: "app_rate_limited"}, notMine: true},
		"did not parse": {ev: mention(nil), notMine: true},
		"no channel":    {ev: mention(&slackevents.AppMentionEvent{TimeStamp: "1"})},
		"no ts":         {ev: mention(&slackevents.AppMentionEvent{Channel: "C1"})},
	} {
		_, err := mentionFrom(tc.ev)
		require.Error(t, err, name)
		require.Equal(t, tc.notMine, err == errNotMention, name)
	}
}
