package oauth

import (
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

func TestParseEvent(t *testing.T) {
	ev, err := parseEvent([]byte(`{"type":"event_callback","team_id":"T9","enterprise_id":"E1","event_time":1700000000,
		"event":{"type":"tokens_revoked","tokens":{"oauth":["U2","U1","U2"],"bot":["B1"]}},
		"authorizations":[{"enterprise_id":"E1","team_id":null,"is_enterprise_install":true}]}`))
	require.NoError(t, err)
	require.Equal(t, eventTokensRevoked, ev.inner)
	require.Equal(t, installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true}, ev.tenant)
	require.Equal(t, []string{"U1", "U2"}, ev.users)
	require.True(t, ev.bot)
	require.Equal(t, time.Unix(1700000000, 0), ev.at)

	ev, err = parseEvent([]byte(`{"type":"event_callback","team_id":"T1","event":{"type":"app_uninstalled"},"event_time":5}`))
	require.NoError(t, err)
	require.Equal(t, installstore.Query{TeamID: "T1"}, ev.tenant)

	// Every event_callback names its tenant, and comes typed by slack-go.
	ev, err = parseEvent([]byte(`{"type":"event_callback","team_id":"T1","api_app_id":"A1","event_id":"Ev1","event_time":7,
		"event":{"type":"app_mention","user":"U1","text":"hi","ts":"1.2","channel":"C1"}}`))
	require.NoError(t, err)
	require.Equal(t, "app_mention", ev.inner)
	require.Equal(t, installstore.Query{TeamID: "T1"}, ev.tenant)
	require.Equal(t, "Ev1", ev.id)
	require.Equal(t, "A1", ev.appID)
	m, ok := ev.api.InnerEvent.Data.(*slackevents.AppMentionEvent)
	require.True(t, ok, "%T", ev.api.InnerEvent.Data)
	require.Equal(t, "C1", m.Channel)
	cb, ok := ev.api.Data.(*slackevents.EventsAPICallbackEvent)
	require.True(t, ok)
	require.Equal(t, "Ev1", cb.EventID)

	// Types slack-go does not know, or that do not decode, come untyped.
	for _, inner := range []string{`{"type":"brand_new_event"}`, `{"type":"app_mention","ts":1}`} {
		ev, err = parseEvent([]byte(`{"type":"event_callback","team_id":"T1","event":` + inner + `}`))
		require.NoError(t, err, inner)
		require.Nil(t, ev.api.InnerEvent.Data, inner)
	}

	ev, err = parseEvent([]byte(`{"type":"app_rate_limited","team_id":"T1","minute_rate_limited":1}`))
	require.NoError(t, err)
	require.Equal(t, "app_rate_limited", ev.outer)
	require.Equal(t, installstore.Query{TeamID: "T1"}, ev.tenant)

	for _, bad := range []string{
		``, `null`, `[]`, `{}`, `{"type":1}`,
		`{"type":"url_verification"}`,
		`{"type":"event_callback"}`,
		`{"type":"event_callback","event":null}`,
		`{"type":"event_callback","event":"x"}`,
		`{"type":"event_callback","team_id":"T1","event":{"type":"tokens_revoked","tokens":{"oauth":"U1"}}}`,
		`{"type":"event_callback","team_id":"T1","event":{"type":"tokens_revoked","tokens":{"oauth":[""]}}}`,
		`{"type":"event_callback","enterprise_id":"E1","event":{"type":"app_uninstalled"}}`,
		`{"type":"event_callback","team_id":"T/1","event":{"type":"app_uninstalled"}}`,
		`{"type":"event_callback","team_id":"T1","event":{"type":"app_uninstalled"},"event_time":"now"}`,
		`{"type":"event_callback","team_id":"T1","event":{"type":"app_uninstalled"}}`,
		`{"type":"event_callback","team_id":"T1","event":{"type":"tokens_revoked","tokens":{"oauth":["U1"]}},"event_time":-5}`,
		`{"type":"event_callback","team_id":"T1","event":{"type":"app_uninstalled"}} trailing`,
		`{"type":"event_callback","event":{"type":"reaction_added"}}`,
		`{"type":"event_callback","team_id":"T1","event_id":"` + strings.Repeat("x", 200) + `","event":{"type":"message"}}`,
	} {
		_, err := parseEvent([]byte(bad))
		require.ErrorIs(t, err, errEventMalformed, "%s", bad)
	}
}

func TestSplitScopes(t *testing.T) {
	require.Nil(t, splitScopes(""))
	require.Nil(t, splitScopes(" , ,"))
	require.Equal(t, []string{"chat:write", "commands"}, splitScopes("chat:write, commands,"))
}

// FuzzParseEvent: the parser never panics, and whatever it would act on
// names a valid tenant and valid user IDs.
func FuzzParseEvent(f *testing.F) {
	for _, seed := range []string{
		`{"type":"url_verification","challenge":"c"}`,
		`{"type":"event_callback","team_id":"T1","event":{"type":"app_uninstalled"},"event_time":5}`,
		`{"type":"event_callback","enterprise_id":"E1","event":{"type":"tokens_revoked","tokens":{"oauth":["U1"],"bot":["B"]}},
			"authorizations":[{"enterprise_id":"E1","is_enterprise_install":true}],"event_time":7}`,
		`{"type":"event_callback","event":{"type":"message"}}`,
		`{"type":"event_callback","event":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := parseEvent(body)
		if err != nil {
			return
		}
		if ev.outer != "event_callback" {
			return
		}
		if err := ev.tenant.Validate(); err != nil {
			t.Fatalf("accepted a %s with an invalid tenant: %v", ev.inner, err)
		}
		for _, u := range ev.users {
			q := ev.tenant
			q.UserID = u
			if u == "" || q.Validate() != nil {
				t.Fatalf("accepted an invalid user ID %q", u)
			}
		}
	})
}
