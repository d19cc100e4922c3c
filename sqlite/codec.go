package sqlite

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/installvault/installvault/installstore"
)

// The JSON documents of the rec, user and bot columns. Short names, empty
// values omitted; tok, rtok and url are the secrets, stored as given
// (sealed by package crypto unless WithPlaintextSecrets). Times are RFC 3339
// in UTC with nanoseconds.
type (
	recDoc struct {
		App      string   `json:"app,omitempty"`
		Ent      string   `json:"ent,omitempty"`
		EntName  string   `json:"entName,omitempty"`
		EntURL   string   `json:"entURL,omitempty"`
		Team     string   `json:"team,omitempty"`
		TeamName string   `json:"teamName,omitempty"`
		Org      bool     `json:"org,omitempty"`
		TokType  string   `json:"tokType,omitempty"`
		At       string   `json:"at,omitempty"`
		Hook     *hookDoc `json:"hook,omitempty"`
	}
	hookDoc struct {
		URL  string `json:"url,omitempty"`
		Ch   string `json:"ch,omitempty"`
		ChID string `json:"chID,omitempty"`
		Cfg  string `json:"cfg,omitempty"`
	}
	userDoc struct {
		ID     string   `json:"id,omitempty"`
		Tok    string   `json:"tok,omitempty"`
		Rtok   string   `json:"rtok,omitempty"`
		Exp    string   `json:"exp,omitempty"`
		Scopes []string `json:"scopes,omitempty"`
	}
	botDoc struct {
		ID     string   `json:"id,omitempty"`
		UID    string   `json:"uid,omitempty"`
		Tok    string   `json:"tok,omitempty"`
		Rtok   string   `json:"rtok,omitempty"`
		Exp    string   `json:"exp,omitempty"`
		At     string   `json:"at,omitempty"`
		Scopes []string `json:"scopes,omitempty"`
	}
)

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string, bad *string, name string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && *bad == "" {
		*bad = name
	}
	return t
}

// encoded is an installation as the columns of its rows hold it.
type encoded struct {
	rec       string
	user      any // string, or nil (NULL) when the record has no user
	userToken bool
	userDue   any // int64 Unix ns, or nil when no user token rotates
	bot       any // string, or nil
	botDue    any
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlite: encoding %T: %v", v, err)) // plain strings and slices always encode
	}
	return string(b)
}

// dueOf returns the refresh time of inst as a column value.
func dueOf(inst *installstore.Installation) any {
	if at := inst.RefreshAt(); !at.IsZero() {
		return at.UnixNano()
	}
	return nil
}

// encode returns the columns of inst. Its bot is encoded only when non-nil.
func encode(inst *installstore.Installation) encoded {
	r := recDoc{
		App: inst.AppID, Ent: inst.EnterpriseID, EntName: inst.EnterpriseName, EntURL: inst.EnterpriseURL,
		Team: inst.TeamID, TeamName: inst.TeamName, Org: inst.IsEnterpriseInstall, TokType: inst.TokenType,
		At: fmtTime(inst.InstalledAt),
	}
	if w := inst.IncomingWebhook; w != nil {
		r.Hook = &hookDoc{URL: w.URL.Reveal(), Ch: w.Channel, ChID: w.ChannelID, Cfg: w.ConfigurationURL}
	}
	e := encoded{rec: mustJSON(r)}
	u := inst.User
	if u.ID != "" || !u.Token.IsZero() || !u.RefreshToken.IsZero() || !u.ExpiresAt.IsZero() || len(u.Scopes) > 0 {
		e.user = mustJSON(userDoc{ID: u.ID, Tok: u.Token.Reveal(), Rtok: u.RefreshToken.Reveal(), Exp: fmtTime(u.ExpiresAt), Scopes: u.Scopes})
		e.userToken = !u.Token.IsZero()
		e.userDue = dueOf(&installstore.Installation{User: u})
	}
	if b := inst.Bot; b != nil {
		e.bot = mustJSON(botDoc{ID: b.ID, UID: b.UserID, Tok: b.Token.Reveal(), Rtok: b.RefreshToken.Reveal(),
			Exp: fmtTime(b.ExpiresAt), At: fmtTime(b.InstalledAt), Scopes: b.Scopes})
		e.botDue = dueOf(&installstore.Installation{Bot: b})
	}
	return e
}

// decode rebuilds the installation of record q (its key columns) from its
// rec and user documents (user nil when NULL), the user ID its row names,
// its tenant's bot document (nil when none) and version. A document that
// does not parse, or that names another tenant or user than the key, gives
// an error wrapping [installstore.ErrCorrupt] naming the column, never its
// content.
func decode(op string, q installstore.Query, rec string, user *string, userID string, bot *string, version int64) (*installstore.Installation, error) {
	var r recDoc
	if err := json.Unmarshal([]byte(rec), &r); err != nil {
		return nil, corruptf(op, q, "column rec does not decode")
	}
	t := q.Tenant()
	if r.Ent != t.EnterpriseID || r.Team != t.TeamID || r.Org != t.IsEnterprise() {
		return nil, corruptf(op, q, "column rec names another tenant than its key")
	}
	var bad string
	inst := &installstore.Installation{
		AppID: r.App, EnterpriseID: r.Ent, EnterpriseName: r.EntName, EnterpriseURL: r.EntURL,
		TeamID: r.Team, TeamName: r.TeamName, IsEnterpriseInstall: r.Org, TokenType: r.TokType,
		InstalledAt: parseTime(r.At, &bad, "rec.at"), Version: version,
	}
	if h := r.Hook; h != nil {
		inst.IncomingWebhook = &installstore.IncomingWebhook{URL: installstore.NewSecret(h.URL), Channel: h.Ch, ChannelID: h.ChID, ConfigurationURL: h.Cfg}
	}
	if user != nil {
		var u userDoc
		if err := json.Unmarshal([]byte(*user), &u); err != nil {
			return nil, corruptf(op, q, "column user does not decode")
		}
		inst.User = installstore.User{ID: u.ID, Token: installstore.NewSecret(u.Tok), RefreshToken: installstore.NewSecret(u.Rtok),
			ExpiresAt: parseTime(u.Exp, &bad, "user.exp"), Scopes: u.Scopes}
	}
	if inst.User.ID != userID {
		return nil, corruptf(op, q, "column user names another user than its key")
	}
	if bot != nil {
		var b botDoc
		if err := json.Unmarshal([]byte(*bot), &b); err != nil {
			return nil, corruptf(op, q, "column bot of the tenant does not decode")
		}
		inst.Bot = &installstore.Bot{ID: b.ID, UserID: b.UID, Token: installstore.NewSecret(b.Tok), RefreshToken: installstore.NewSecret(b.Rtok),
			ExpiresAt: parseTime(b.Exp, &bad, "bot.exp"), InstalledAt: parseTime(b.At, &bad, "bot.at"), Scopes: b.Scopes}
	}
	if bad != "" {
		return nil, corruptf(op, q, "%s is not an RFC 3339 time", bad)
	}
	if err := inst.Validate(); err != nil {
		return nil, corruptf(op, q, "the record holds malformed IDs")
	}
	return inst, nil
}
