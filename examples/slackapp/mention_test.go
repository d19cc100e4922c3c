package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

func TestParseMention(t *testing.T) {
	m, err := parseMention([]byte(`{"type":"event_callback","team_id":"T1","enterprise_id":"E1",
		"authorizations":[{"enterprise_id":"E1","team_id":null,"is_enterprise_install":true}],
		"event":{"type":"app_mention","user":"U1","text":"<@U2> hi","ts":"1.2","thread_ts":"1.0","channel":"C1"}}`))
	require.NoError(t, err)
	require.Equal(t, installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true}, m.Tenant, "authorizations[0] wins")
	require.Equal(t, "C1", m.Event.Channel)
	require.Equal(t, "1.0", m.Event.ThreadTimeStamp)

	m, err = parseMention([]byte(`{"type":"event_callback","team_id":"T1","event":{"type":"app_mention","ts":"1.2","channel":"C1"}}`))
	require.NoError(t, err)
	require.Equal(t, installstore.Query{TeamID: "T1"}, m.Tenant, "the envelope's team without authorizations")
}

func TestParseMentionRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		body    string
		notMine bool
	}{
		"not json":         {body: `{`},
		"url_verification": {body: `{"type":"url_verification","challenge":"x"}`, notMine: true},
		"other event":      {body: `{"type":"event_callback","team_id":"T1","event":{"type":"message"}}`, notMine: true},
		"no event":         {body: `{"type":"event_callback","team_id":"T1"}`, notMine: true},
		"event not object": {body: `{"type":"event_callback","team_id":"T1","event":"x"}`},
		"no tenant":        {body: `{"type":"event_callback","event":{"type":"app_mention","ts":"1","channel":"C1"}}`},
		"bad tenant id":    {body: `{"type":"event_callback","team_id":"T 1","event":{"type":"app_mention","ts":"1","channel":"C1"}}`},
		"no channel":       {body: `{"type":"event_callback","team_id":"T1","event":{"type":"app_mention","ts":"1"}}`},
		"wrong field type": {body: `{"type":"event_callback","team_id":"T1","event":{"type":"app_mention","ts":1,"channel":"C1"}}`},
	} {
		_, err := parseMention([]byte(tc.body))
		require.Error(t, err, name)
		require.Equal(t, tc.notMine, err == errNotMention, name)
	}
}

func FuzzParseMention(f *testing.F) {
	f.Add([]byte(`{"type":"event_callback","team_id":"T1","event":{"type":"app_mention","ts":"1.2","channel":"C1"}}`))
	f.Add([]byte(`{"type":"event_callback","authorizations":[{"enterprise_id":"E1","is_enterprise_install":true}],"event":{"type":"app_mention","ts":"1","channel":"C","blocks":[{"type":"section"}]}}`))
	f.Add([]byte(`{"type":"event_callback","event":{"type":"app_mention"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseMention(body)
		if err != nil {
			return
		}
		// Whatever parses names a valid tenant and a place to reply.
		require.NoError(t, m.Tenant.Validate())
		require.NotEmpty(t, m.Event.Channel)
		require.NotEmpty(t, m.Event.TimeStamp)
	})
}
