package installstore

import (
	"fmt"
	"time"
)

// Installation is one installation of a Slack app: what oauth.v2.access
// returned when a user installed the app in a workspace or, for Enterprise
// Grid org-wide installs, in an organization.
//
// Every credential is a [Secret]. A store returns copies: mutating a fetched
// Installation never changes the store.
type Installation struct {
	// AppID is the Slack app's ID (A...).
	AppID string
	// EnterpriseID is the Enterprise Grid organization (E...), empty outside Grid.
	EnterpriseID string
	// EnterpriseName is the organization's name.
	EnterpriseName string
	// EnterpriseURL is the organization's URL.
	EnterpriseURL string
	// TeamID is the workspace (T...). It may be empty for an org-wide install.
	TeamID string
	// TeamName is the workspace's name.
	TeamName string
	// IsEnterpriseInstall marks an org-wide Enterprise Grid install: the
	// tenant is then the enterprise alone, and it serves every workspace of
	// the organization that has no installation of its own.
	IsEnterpriseInstall bool
	// Bot is the bot token and identity; nil when the app has no bot scopes
	// or the bot token was revoked.
	Bot *Bot
	// User is the installing user, with a user token when user scopes were granted.
	User User
	// IncomingWebhook is set when the incoming-webhook scope was granted.
	IncomingWebhook *IncomingWebhook
	// TokenType is what Slack reported ("bot" for v2 installs).
	TokenType string
	// InstalledAt is when this installation was made. A store sets it to the
	// current time when it is zero.
	InstalledAt time.Time
	// Version is set by the store on every write to the tenant. Conditional
	// writes ([Updater]) compare it. It grows with every write and is never
	// reused for the same tenant key, even after a delete and re-install.
	Version int64
}

// Bot is an installation's bot user and token.
type Bot struct {
	// ID is the bot ID (B...).
	ID string
	// UserID is the bot's user ID (U...).
	UserID string
	// Token is the bot token (xoxb-...).
	Token Secret
	// RefreshToken is set when token rotation is enabled (xoxe-...).
	RefreshToken Secret
	// ExpiresAt is when Token expires; zero means it does not expire.
	ExpiresAt time.Time
	// Scopes are the granted bot scopes.
	Scopes []string
	// InstalledAt is when this bot was issued: the install that brought it.
	// A store sets it to the installation's InstalledAt when zero. A
	// user-scopes-only install (nil Bot) leaves it alone, so the late-event
	// check of a bot revocation compares with the bot's own install.
	InstalledAt time.Time
}

// User is the user who installed the app, with a user token when user
// scopes were requested and granted.
type User struct {
	// ID is the user's ID (U... or W...).
	ID string
	// Token is the user token (xoxp-...), empty when no user scopes were granted.
	Token Secret
	// RefreshToken is set when token rotation is enabled.
	RefreshToken Secret
	// ExpiresAt is when Token expires; zero means it does not expire.
	ExpiresAt time.Time
	// Scopes are the granted user scopes.
	Scopes []string
}

// IncomingWebhook is the webhook granted with the incoming-webhook scope.
// Its URL is a credential: anyone holding it can post to the channel.
type IncomingWebhook struct {
	// URL is the webhook URL.
	URL Secret
	// Channel is the channel's name.
	Channel string
	// ChannelID is the channel's ID.
	ChannelID string
	// ConfigurationURL is where the webhook is managed.
	ConfigurationURL string
}

// Query selects an installation. The tenant comes from the verified request
// (the team_id / enterprise_id of a signed event), never from user input.
type Query struct {
	// EnterpriseID is the Enterprise Grid organization, if any.
	EnterpriseID string
	// TeamID is the workspace. Required unless IsEnterpriseInstall.
	TeamID string
	// UserID selects that user's installation; empty selects the latest.
	UserID string
	// IsEnterpriseInstall selects the organization's org-wide install.
	IsEnterpriseInstall bool
}

// Tenant identifies whose tokens a record holds: a workspace, a workspace
// of an Enterprise Grid organization, or an organization (org-wide install,
// TeamID empty). Tenants never share records.
type Tenant struct {
	EnterpriseID string
	TeamID       string
}

// Key returns "ENTERPRISE:TEAM" with empty parts left empty. IDs cannot
// contain ':', so distinct tenants have distinct keys; backends use it as a
// key. It is stable: stored data depends on it.
func (t Tenant) Key() string { return t.EnterpriseID + ":" + t.TeamID }

// String returns the tenant as people read it: "T1" for a workspace,
// "E1/T1" for a workspace of an Enterprise Grid organization, "E1 (org-wide)"
// for an organization's org-wide install. Use [Tenant.Key] for keys.
func (t Tenant) String() string {
	switch {
	case t.EnterpriseID == "":
		return t.TeamID
	case t.TeamID == "":
		return t.EnterpriseID + " (org-wide)"
	default:
		return t.EnterpriseID + "/" + t.TeamID
	}
}

// IsEnterprise reports whether the tenant is an organization (org-wide install).
func (t Tenant) IsEnterprise() bool { return t.TeamID == "" }

// Tenant returns the tenant the query addresses.
func (q Query) Tenant() Tenant {
	if q.IsEnterpriseInstall {
		return Tenant{EnterpriseID: q.EnterpriseID}
	}
	return Tenant{EnterpriseID: q.EnterpriseID, TeamID: q.TeamID}
}

// Validate returns an error wrapping [ErrInvalid] when the query cannot
// address a tenant.
func (q Query) Validate() error {
	if q.IsEnterpriseInstall && q.EnterpriseID == "" {
		return invalidf("query: IsEnterpriseInstall without EnterpriseID")
	}
	if !q.IsEnterpriseInstall && q.TeamID == "" {
		if q.EnterpriseID != "" {
			return invalidf("query for enterprise %s: no TeamID (set IsEnterpriseInstall for an org-wide install)", q.EnterpriseID)
		}
		return invalidf("query: no TeamID and no EnterpriseID")
	}
	return validateIDs("query", q.EnterpriseID, q.TeamID, q.UserID)
}

// Tenant returns the tenant the installation belongs to.
func (i *Installation) Tenant() Tenant { return i.Query().Tenant() }

// Query returns the query that fetches exactly this installation record:
// its tenant and installing user.
func (i *Installation) Query() Query {
	return Query{
		EnterpriseID:        i.EnterpriseID,
		TeamID:              i.TeamID,
		UserID:              i.User.ID,
		IsEnterpriseInstall: i.IsEnterpriseInstall,
	}
}

// Validate returns an error wrapping [ErrInvalid] when the installation
// cannot be stored: nil, no tenant, an org-wide install without
// EnterpriseID, or malformed IDs. An empty User.ID is allowed (the record is
// then the tenant's latest installation only).
func (i *Installation) Validate() error {
	if i == nil {
		return invalidf("installation is nil")
	}
	if i.IsEnterpriseInstall && i.EnterpriseID == "" {
		return invalidf("installation (team %q): IsEnterpriseInstall without EnterpriseID", i.TeamID)
	}
	if !i.IsEnterpriseInstall && i.TeamID == "" {
		if i.EnterpriseID != "" {
			return invalidf("installation for enterprise %s: no TeamID and not an enterprise install", i.EnterpriseID)
		}
		return invalidf("installation has no TeamID and no EnterpriseID")
	}
	ids := []string{i.EnterpriseID, i.TeamID, i.User.ID, i.AppID}
	if i.Bot != nil {
		ids = append(ids, i.Bot.ID, i.Bot.UserID)
	}
	return validateIDs("installation", ids...)
}

// maxIDLen bounds every Slack ID a store accepts.
const maxIDLen = 64

// validateIDs accepts IDs made of letters, digits, '_', '.' and '-'. Slack's
// IDs are upper-case alphanumerics; refusing anything else keeps IDs safe to
// use in keys, encryption contexts and logs.
func validateIDs(what string, ids ...string) error {
	for _, id := range ids {
		if len(id) > maxIDLen {
			return invalidf("%s: ID of %d bytes is longer than %d", what, len(id), maxIDLen)
		}
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
				return invalidf("%s: ID %q has a character other than letters, digits, '_', '.', '-'", what, id)
			}
		}
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("installstore: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Clone returns a deep copy of the installation (nil for nil). The copy,
// its Bot, its IncomingWebhook and both scope lists share one allocation
// (for up to 64 scopes in all): Clone is on every read's path. The scope
// slices are capacity-capped, so appending to one never writes into the
// other.
func (i *Installation) Clone() *Installation {
	if i == nil {
		return nil
	}
	n := len(i.User.Scopes)
	if i.Bot != nil {
		n += len(i.Bot.Scopes)
	}
	switch {
	case n == 0:
		return cloneInstallation(i, n, func(a *[0]string) []string { return a[:] })
	case n <= 2:
		return cloneInstallation(i, n, func(a *[2]string) []string { return a[:] })
	case n <= 3:
		return cloneInstallation(i, n, func(a *[3]string) []string { return a[:] })
	case n <= 4:
		return cloneInstallation(i, n, func(a *[4]string) []string { return a[:] })
	case n <= 6:
		return cloneInstallation(i, n, func(a *[6]string) []string { return a[:] })
	case n <= 8:
		return cloneInstallation(i, n, func(a *[8]string) []string { return a[:] })
	case n <= 12:
		return cloneInstallation(i, n, func(a *[12]string) []string { return a[:] })
	case n <= 16:
		return cloneInstallation(i, n, func(a *[16]string) []string { return a[:] })
	case n <= 24:
		return cloneInstallation(i, n, func(a *[24]string) []string { return a[:] })
	case n <= 32:
		return cloneInstallation(i, n, func(a *[32]string) []string { return a[:] })
	case n <= 48:
		return cloneInstallation(i, n, func(a *[48]string) []string { return a[:] })
	case n <= 64:
		return cloneInstallation(i, n, func(a *[64]string) []string { return a[:] })
	default: // the scopes get an allocation of their own
		return cloneInstallation(i, n, func(a *[0]string) []string { return a[:] })
	}
}

// cloneInstallation is Clone with room for n scopes in an array A, which
// slots slices (a shorter one gets an allocation of its own). The box holds
// a Bot and an IncomingWebhook only when i has them.
func cloneInstallation[A any](i *Installation, n int, slots func(*A) []string) *Installation {
	var c *Installation
	var scopes []string
	switch {
	case i.Bot != nil && i.IncomingWebhook == nil:
		box := new(struct {
			inst   Installation
			bot    Bot
			scopes A
		})
		box.inst, box.bot = *i, *i.Bot
		c, scopes = &box.inst, slots(&box.scopes)
		c.Bot = &box.bot
	case i.Bot != nil:
		box := new(struct {
			inst   Installation
			bot    Bot
			hook   IncomingWebhook
			scopes A
		})
		box.inst, box.bot, box.hook = *i, *i.Bot, *i.IncomingWebhook
		c, scopes = &box.inst, slots(&box.scopes)
		c.Bot, c.IncomingWebhook = &box.bot, &box.hook
	case i.IncomingWebhook == nil:
		box := new(struct {
			inst   Installation
			scopes A
		})
		box.inst = *i
		c, scopes = &box.inst, slots(&box.scopes)
	default:
		box := new(struct {
			inst   Installation
			hook   IncomingWebhook
			scopes A
		})
		box.inst, box.hook = *i, *i.IncomingWebhook
		c, scopes = &box.inst, slots(&box.scopes)
		c.IncomingWebhook = &box.hook
	}
	if len(scopes) < n {
		scopes = make([]string, n)
	}
	if c.Bot != nil {
		c.Bot.Scopes, scopes = copyScopes(scopes, i.Bot.Scopes)
	}
	c.User.Scopes, _ = copyScopes(scopes, i.User.Scopes)
	return c
}

// Clone returns a deep copy of the bot (nil for nil), in one allocation
// with its scopes (up to 64).
func (b *Bot) Clone() *Bot {
	if b == nil {
		return nil
	}
	switch n := len(b.Scopes); {
	case n == 0:
		return cloneBot(b, func(a *[0]string) []string { return a[:] })
	case n <= 2:
		return cloneBot(b, func(a *[2]string) []string { return a[:] })
	case n <= 4:
		return cloneBot(b, func(a *[4]string) []string { return a[:] })
	case n <= 8:
		return cloneBot(b, func(a *[8]string) []string { return a[:] })
	case n <= 16:
		return cloneBot(b, func(a *[16]string) []string { return a[:] })
	case n <= 32:
		return cloneBot(b, func(a *[32]string) []string { return a[:] })
	case n <= 64:
		return cloneBot(b, func(a *[64]string) []string { return a[:] })
	default:
		return cloneBot(b, func(a *[0]string) []string { return a[:] })
	}
}

// cloneBot is Bot.Clone with room for the scopes in an array A.
func cloneBot[A any](b *Bot, slots func(*A) []string) *Bot {
	box := new(struct {
		bot    Bot
		scopes A
	})
	box.bot = *b
	scopes := slots(&box.scopes)
	if len(scopes) < len(b.Scopes) {
		scopes = make([]string, len(b.Scopes))
	}
	box.bot.Scopes, _ = copyScopes(scopes, b.Scopes)
	return &box.bot
}

// copyScopes copies src to the front of buf, and returns the copy
// (capacity-capped; nil for nil, as slices.Clone) and the rest of buf.
func copyScopes(buf, src []string) (dst, rest []string) {
	if src == nil {
		return nil, buf
	}
	n := copy(buf, src)
	return buf[:n:n], buf[n:]
}

// Secrets calls fn with a pointer to each non-nil secret field of the
// installation and the field's stable name ("bot.token",
// "bot.refresh_token", "user.token", "user.refresh_token",
// "incoming_webhook.url"). Layers that transform every secret (encryption,
// audit) use it so that a field added later cannot be forgotten. Iteration
// stops at the first error.
func (i *Installation) Secrets(fn func(field string, s *Secret) error) error {
	type field struct {
		name string
		s    *Secret
	}
	fields := make([]field, 0, 5)
	if i.Bot != nil {
		fields = append(fields, field{FieldBotToken, &i.Bot.Token}, field{FieldBotRefreshToken, &i.Bot.RefreshToken})
	}
	fields = append(fields, field{FieldUserToken, &i.User.Token}, field{FieldUserRefreshToken, &i.User.RefreshToken})
	if i.IncomingWebhook != nil {
		fields = append(fields, field{FieldIncomingWebhookURL, &i.IncomingWebhook.URL})
	}
	for _, f := range fields {
		if f.s.IsZero() {
			continue
		}
		if err := fn(f.name, f.s); err != nil {
			return err
		}
	}
	return nil
}

// RefreshAt returns when the earliest rotating token of the installation
// expires: the smallest non-zero ExpiresAt of Bot and User among those with a
// RefreshToken. It is zero when no token rotates. Backends index it
// ([DueLister]); it is unsealed metadata.
func (i *Installation) RefreshAt() time.Time {
	var at time.Time
	consider := func(token, refresh Secret, exp time.Time) {
		if token.IsZero() || refresh.IsZero() || exp.IsZero() {
			return
		}
		if at.IsZero() || exp.Before(at) {
			at = exp
		}
	}
	if i.Bot != nil {
		consider(i.Bot.Token, i.Bot.RefreshToken, i.Bot.ExpiresAt)
	}
	consider(i.User.Token, i.User.RefreshToken, i.User.ExpiresAt)
	return at
}

// Names of the secret fields, as passed by [Installation.Secrets].
const (
	FieldBotToken           = "bot.token"
	FieldBotRefreshToken    = "bot.refresh_token"
	FieldUserToken          = "user.token"
	FieldUserRefreshToken   = "user.refresh_token"
	FieldIncomingWebhookURL = "incoming_webhook.url"
)
