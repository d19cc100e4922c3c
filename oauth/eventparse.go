package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/installvault/installvault/installstore"
)

// envelope is the outer Events API body: slack-go's callback envelope plus
// the url_verification challenge and the envelope-level
// is_enterprise_install.
type envelope struct {
	slackevents.EventsAPICallbackEvent
	Challenge           string `json:"challenge"`
	IsEnterpriseInstall bool   `json:"is_enterprise_install"`
}

// Inner event types this package acts on.
const (
	eventAppUninstalled = string(slackevents.AppUninstalled)
	eventTokensRevoked  = string(slackevents.TokensRevoked)
)

// maxEventIDLen bounds an event_id used for de-duplication.
const maxEventIDLen = 128

// event is a parsed Events API body.
type event struct {
	// outer is the envelope type: url_verification, event_callback, ...
	outer string
	// challenge is url_verification's challenge.
	challenge string
	// inner is the inner event's type, for event_callback.
	inner string
	// tenant is the installation the event is for, from the envelope; set
	// (and valid) for every event_callback.
	tenant installstore.Query
	// id and appID are the envelope's event_id and api_app_id.
	id, appID string
	// at is the envelope's event_time; required for app_uninstalled and
	// tokens_revoked.
	at time.Time
	// users are the user IDs whose tokens were revoked.
	users []string
	// bot reports that bot tokens were revoked.
	bot bool
	// api is the body as slack-go types it, for the app.
	api slackevents.EventsAPIEvent
}

var errEventMalformed = errors.New("malformed event")

// parseEvent parses an Events API body. It never panics; every
// event_callback it accepts names a valid tenant, and the events it acts on
// are well formed.
func parseEvent(body []byte) (*event, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", errEventMalformed, err)
	}
	ev := &event{outer: env.Type, id: env.EventID, appID: env.APIAppID}
	// The envelope's token is Slack's deprecated verification token, a
	// credential: it is never handed on.
	env.Token = ""
	ev.api = slackevents.EventsAPIEvent{TeamID: env.TeamID, Type: env.Type, APIAppID: env.APIAppID,
		EnterpriseID: env.EnterpriseID, IsExtSharedChannel: env.IsExtSharedChannel}
	if env.EventTime > 0 {
		ev.at = time.Unix(int64(env.EventTime), 0)
	}
	if len(ev.id) > maxEventIDLen {
		return nil, fmt.Errorf("%w: event_id of %d bytes", errEventMalformed, len(ev.id))
	}
	switch env.Type {
	case "":
		return nil, fmt.Errorf("%w: no type", errEventMalformed)
	case slackevents.URLVerification:
		if env.Challenge == "" {
			return nil, fmt.Errorf("%w: url_verification without challenge", errEventMalformed)
		}
		ev.challenge = env.Challenge
		ev.api.Data = &slackevents.EventsAPIURLVerificationEvent{Challenge: env.Challenge, Type: env.Type}
		return ev, nil
	case slackevents.CallbackEvent:
	case slackevents.AppRateLimited:
		var rl slackevents.EventsAPIAppRateLimited
		if err := json.Unmarshal(body, &rl); err != nil {
			return nil, fmt.Errorf("%w: app_rate_limited: %w", errEventMalformed, err)
		}
		rl.Token = ""
		ev.api.Data = &rl
		if q := (installstore.Query{TeamID: env.TeamID}); q.Validate() == nil {
			ev.tenant = q
		}
		return ev, nil
	default:
		return ev, nil
	}
	if env.InnerEvent == nil {
		return nil, fmt.Errorf("%w: event_callback without event", errEventMalformed)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(*env.InnerEvent, &head); err != nil {
		return nil, fmt.Errorf("%w: inner event: %w", errEventMalformed, err)
	}
	ev.inner = head.Type
	ev.tenant = envelopeTenant(&env)
	if err := ev.tenant.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errEventMalformed, head.Type, err)
	}
	cb := env.EventsAPICallbackEvent
	ev.api.Data = &cb
	ev.api.InnerEvent = slackevents.EventsAPIInnerEvent{Type: head.Type, Data: typedInner(head.Type, *env.InnerEvent)}
	switch head.Type {
	case eventAppUninstalled:
		if _, ok := ev.api.InnerEvent.Data.(*slackevents.AppUninstalledEvent); !ok {
			return nil, fmt.Errorf("%w: app_uninstalled does not parse", errEventMalformed)
		}
	case eventTokensRevoked:
		in, ok := ev.api.InnerEvent.Data.(*slackevents.TokensRevokedEvent)
		if !ok {
			return nil, fmt.Errorf("%w: tokens_revoked does not parse", errEventMalformed)
		}
		ev.users = slices.Compact(slices.Sorted(slices.Values(in.Tokens.Oauth)))
		ev.bot = len(in.Tokens.Bot) > 0
		for _, u := range ev.users {
			uq := ev.tenant
			uq.UserID = u
			if err := uq.Validate(); u == "" || err != nil {
				return nil, fmt.Errorf("%w: tokens_revoked lists an invalid user ID", errEventMalformed)
			}
		}
	default:
		return ev, nil
	}
	// Without event_time every stored install would look newer and the purge
	// would be silently skipped: refuse it instead.
	if ev.at.IsZero() {
		return nil, fmt.Errorf("%w: %s without event_time", errEventMalformed, head.Type)
	}
	return ev, nil
}

// typedInner decodes an inner event into slack-go's type for typ, as
// slackevents.ParseEvent does (the Events API mapping, then the RTM one);
// nil when slack-go knows no such type or the event does not decode into
// it.
func typedInner(typ string, raw json.RawMessage) any {
	proto, ok := slackevents.EventsAPIInnerEventMapping[slackevents.EventsAPIType(typ)]
	if !ok {
		if proto, ok = slack.EventMapping[typ]; !ok {
			return nil
		}
	}
	v := reflect.New(reflect.TypeOf(proto)).Interface()
	if err := json.Unmarshal(raw, v); err != nil {
		return nil
	}
	return v
}

// envelopeTenant is the tenant the signed envelope names, as Bolt reads it:
// authorizations[0] when present (right for shared channels too), else the
// envelope's own fields. An org-wide install's tenant is its enterprise.
func envelopeTenant(env *envelope) installstore.Query {
	q := installstore.Query{EnterpriseID: env.EnterpriseID, TeamID: env.TeamID, IsEnterpriseInstall: env.IsEnterpriseInstall}
	if len(env.Authorizations) > 0 {
		a := env.Authorizations[0]
		q = installstore.Query{EnterpriseID: a.EnterpriseID, TeamID: a.TeamID, IsEnterpriseInstall: a.IsEnterpriseInstall}
	}
	if q.IsEnterpriseInstall {
		q.TeamID = ""
	}
	return q
}
