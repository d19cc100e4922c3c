package redisstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/installvault/installvault/installstore"
)

// wireRecord is an installation without its bot and user, as stored in a
// tenant hash: field lrec (the latest installation) and fields r:<uid>
// (other users' installations); the user is a wireUser in luser or
// p:<uid>. Secrets are stored as they come (sealed by package crypto
// unless WithPlaintextSecrets).
type wireRecord struct {
	App      string    `json:"app,omitempty"`
	Ent      string    `json:"ent,omitempty"`
	EntName  string    `json:"entName,omitempty"`
	EntURL   string    `json:"entURL,omitempty"`
	Team     string    `json:"team,omitempty"`
	TeamName string    `json:"teamName,omitempty"`
	Org      bool      `json:"org,omitempty"`
	TokType  string    `json:"tokType,omitempty"`
	At       string    `json:"at,omitempty"`
	Hook     *wireHook `json:"hook,omitempty"`
}

type wireHook struct {
	URL       string `json:"url,omitempty"`
	Channel   string `json:"ch,omitempty"`
	ChannelID string `json:"chID,omitempty"`
	ConfigURL string `json:"cfg,omitempty"`
}

type wireUser struct {
	ID      string   `json:"id,omitempty"`
	Token   string   `json:"tok,omitempty"`
	Refresh string   `json:"rtok,omitempty"`
	Exp     string   `json:"exp,omitempty"`
	Scopes  []string `json:"scopes,omitempty"`
}

type wireBot struct {
	ID      string   `json:"id,omitempty"`
	UserID  string   `json:"uid,omitempty"`
	Token   string   `json:"tok,omitempty"`
	Refresh string   `json:"rtok,omitempty"`
	Exp     string   `json:"exp,omitempty"`
	At      string   `json:"at,omitempty"`
	Scopes  []string `json:"scopes,omitempty"`
}

func encTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func decTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("field %s is not an RFC 3339 time", field)
	}
	return t, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("redisstore: encoding a record: %v", err)) // only strings, bools and slices: cannot fail
	}
	return string(b)
}

// encodeRecord returns inst without bot and user, as stored in fields lrec
// and r:<uid>.
func encodeRecord(inst *installstore.Installation) string {
	w := wireRecord{
		App: inst.AppID, Ent: inst.EnterpriseID, EntName: inst.EnterpriseName, EntURL: inst.EnterpriseURL,
		Team: inst.TeamID, TeamName: inst.TeamName, Org: inst.IsEnterpriseInstall, TokType: inst.TokenType,
		At: encTime(inst.InstalledAt),
	}
	if h := inst.IncomingWebhook; h != nil {
		w.Hook = &wireHook{URL: h.URL.Reveal(), Channel: h.Channel, ChannelID: h.ChannelID, ConfigURL: h.ConfigurationURL}
	}
	return mustJSON(w)
}

func toWireUser(u installstore.User) wireUser {
	return wireUser{ID: u.ID, Token: u.Token.Reveal(), Refresh: u.RefreshToken.Reveal(), Exp: encTime(u.ExpiresAt), Scopes: u.Scopes}
}

func encodeUser(u installstore.User) string { return mustJSON(toWireUser(u)) }

func encodeBot(b *installstore.Bot) string {
	return mustJSON(wireBot{
		ID: b.ID, UserID: b.UserID, Token: b.Token.Reveal(), Refresh: b.RefreshToken.Reveal(),
		Exp: encTime(b.ExpiresAt), At: encTime(b.InstalledAt), Scopes: b.Scopes,
	})
}

// corruptf returns an error wrapping ErrCorrupt that names what is wrong,
// never a value.
func corruptf(op string, q installstore.Query, format string, args ...any) error {
	who := "tenant " + q.Tenant().String()
	if q.UserID != "" {
		who += " user " + q.UserID
	}
	return fmt.Errorf("redisstore: %s %s: %w: %s", op, who, installstore.ErrCorrupt, fmt.Sprintf(format, args...))
}

// decodeRecord decodes an installation of tenant t from its record (lrec
// or r:<user>) and its user (luser or p:<user>; "" for a latest
// installation without one), and checks that it belongs to t and, for a
// user's installation (user != ""), to user.
func decodeRecord(t installstore.Tenant, user, rec, usr string) (*installstore.Installation, error) {
	var w wireRecord
	if err := json.Unmarshal([]byte(rec), &w); err != nil {
		return nil, fmt.Errorf("the record does not decode")
	}
	inst := &installstore.Installation{
		AppID: w.App, EnterpriseID: w.Ent, EnterpriseName: w.EntName, EnterpriseURL: w.EntURL,
		TeamID: w.Team, TeamName: w.TeamName, IsEnterpriseInstall: w.Org, TokenType: w.TokType,
	}
	var err error
	if inst.InstalledAt, err = decTime(w.At, "at"); err != nil {
		return nil, err
	}
	if h := w.Hook; h != nil {
		inst.IncomingWebhook = &installstore.IncomingWebhook{URL: installstore.NewSecret(h.URL), Channel: h.Channel, ChannelID: h.ChannelID, ConfigurationURL: h.ConfigURL}
	}
	switch {
	case usr != "":
		var wu wireUser
		if err := json.Unmarshal([]byte(usr), &wu); err != nil {
			return nil, fmt.Errorf("the installing user does not decode")
		}
		inst.User = installstore.User{ID: wu.ID, Token: installstore.NewSecret(wu.Token), RefreshToken: installstore.NewSecret(wu.Refresh), Scopes: wu.Scopes}
		if inst.User.ExpiresAt, err = decTime(wu.Exp, "user.exp"); err != nil {
			return nil, err
		}
	case user != "":
		return nil, fmt.Errorf("the user's installation has no user")
	}
	if inst.Tenant() != t {
		return nil, fmt.Errorf("the record names another tenant")
	}
	if user != "" && inst.User.ID != user {
		return nil, fmt.Errorf("the record names another user")
	}
	return inst, nil
}

func decodeBot(s string) (*installstore.Bot, error) {
	var w wireBot
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return nil, fmt.Errorf("the bot does not decode")
	}
	b := &installstore.Bot{ID: w.ID, UserID: w.UserID, Token: installstore.NewSecret(w.Token), RefreshToken: installstore.NewSecret(w.Refresh), Scopes: w.Scopes}
	var err error
	if b.ExpiresAt, err = decTime(w.Exp, "bot.exp"); err != nil {
		return nil, err
	}
	if b.InstalledAt, err = decTime(w.At, "bot.at"); err != nil {
		return nil, err
	}
	return b, nil
}

// dueMillis is the due index's score for a refresh time: Unix
// milliseconds, 0 for none.
func dueMillis(at time.Time) int64 {
	if at.IsZero() {
		return 0
	}
	return at.UnixMilli()
}

// userDue is the refresh time of a user's tokens alone; botDue of a bot's.
func userDue(u installstore.User) int64 {
	return dueMillis((&installstore.Installation{User: u}).RefreshAt())
}

func botDue(b *installstore.Bot) int64 {
	return dueMillis((&installstore.Installation{Bot: b}).RefreshAt())
}
