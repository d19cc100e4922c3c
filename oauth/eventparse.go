package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

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

// event is a parsed Events API body, as far as this package needs it.
type event struct {
	// outer is the envelope type: url_verification, event_callback, ...
	outer string
	// challenge is url_verification's challenge.
	challenge string
	// inner is the inner event's type, for event_callback.
	inner string
	// The rest is set for app_uninstalled and tokens_revoked only.
	// tenant is the installation the event is about, from the envelope.
	tenant installstore.Query
	// at is the envelope's event_time.
	at time.Time
	// users are the user IDs whose tokens were revoked.
	users []string
	// bot reports that bot tokens were revoked.
	bot bool
}

var errEventMalformed = errors.New("malformed event")

// parseEvent parses an Events API body. It never panics; any body this
// package would act on must be well formed, and must name a valid tenant.
func parseEvent(body []byte) (*event, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", errEventMalformed, err)
	}
	ev := &event{outer: env.Type}
	switch env.Type {
	case "":
		return nil, fmt.Errorf("%w: no type", errEventMalformed)
	case slackevents.URLVerification:
		if env.Challenge == "" {
			return nil, fmt.Errorf("%w: url_verification without challenge", errEventMalformed)
		}
		ev.challenge = env.Challenge
		return ev, nil
	case slackevents.CallbackEvent:
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
	switch head.Type {
	case eventAppUninstalled:
		var in slackevents.AppUninstalledEvent
		if err := json.Unmarshal(*env.InnerEvent, &in); err != nil {
			return nil, fmt.Errorf("%w: app_uninstalled: %w", errEventMalformed, err)
		}
	case eventTokensRevoked:
		var in slackevents.TokensRevokedEvent
		if err := json.Unmarshal(*env.InnerEvent, &in); err != nil {
			return nil, fmt.Errorf("%w: tokens_revoked: %w", errEventMalformed, err)
		}
		ev.users = slices.Compact(slices.Sorted(slices.Values(in.Tokens.Oauth)))
		ev.bot = len(in.Tokens.Bot) > 0
		for _, u := range ev.users {
			if u == "" {
				return nil, fmt.Errorf("%w: tokens_revoked lists an empty user ID", errEventMalformed)
			}
		}
	default:
		return ev, nil
	}
	ev.tenant = envelopeTenant(&env)
	if err := ev.tenant.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errEventMalformed, head.Type, err)
	}
	for _, u := range ev.users {
		uq := ev.tenant
		uq.UserID = u
		if err := uq.Validate(); err != nil {
			return nil, fmt.Errorf("%w: tokens_revoked: %w", errEventMalformed, err)
		}
	}
	// Without event_time every stored install would look newer and the purge
	// would be silently skipped: refuse it instead.
	if env.EventTime <= 0 {
		return nil, fmt.Errorf("%w: %s without event_time", errEventMalformed, head.Type)
	}
	ev.at = time.Unix(int64(env.EventTime), 0)
	return ev, nil
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
