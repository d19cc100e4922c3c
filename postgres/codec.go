package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
)

// The non-secret fields of a record, as the jsonb column "record" holds
// them (secrets have their own text columns). Empty values are omitted.
type recordJSON struct {
	App      string    `json:"app,omitempty"`
	Ent      string    `json:"ent,omitempty"`
	EntName  string    `json:"entName,omitempty"`
	EntURL   string    `json:"entURL,omitempty"`
	Team     string    `json:"team,omitempty"`
	TeamName string    `json:"teamName,omitempty"`
	Org      bool      `json:"org,omitempty"`
	TokType  string    `json:"tokType,omitempty"`
	At       string    `json:"at,omitempty"`
	User     *userJSON `json:"user,omitempty"`
	Hook     *hookJSON `json:"hook,omitempty"`
}

type userJSON struct {
	ID     string   `json:"id,omitempty"`
	Exp    string   `json:"exp,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

type hookJSON struct {
	Ch   string `json:"ch,omitempty"`
	ChID string `json:"chID,omitempty"`
	Cfg  string `json:"cfg,omitempty"`
}

// The non-secret fields of a bot, as the jsonb column "bot" holds them.
type botJSON struct {
	ID     string   `json:"id,omitempty"`
	UID    string   `json:"uid,omitempty"`
	Exp    string   `json:"exp,omitempty"`
	At     string   `json:"at,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// nullable returns nil (SQL NULL) for an empty string.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// dueOf returns a refresh time as the due columns hold it (Unix
// nanoseconds), or nil (NULL: not indexed) when nothing rotates.
func dueOf(at time.Time) any {
	if at.IsZero() {
		return nil
	}
	return at.UnixNano()
}

// recordCols are the column values of one record (a tenant's latest
// installation, or a user's): user_id, record, user_token,
// user_refresh_token, webhook_url, and the due time of the user's tokens.
type recordCols struct {
	userID                       string
	record                       string // JSON
	token, refreshToken, hookURL any
	due                          any
}

// hasNUL reports whether any of the strings holds a NUL byte, which
// PostgreSQL's text and jsonb cannot store.
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}

// textFields returns the non-secret free-text fields of an installation
// (IDs are validated by Installation.Validate).
func textFields(inst *installstore.Installation) []string {
	out := []string{inst.EnterpriseName, inst.EnterpriseURL, inst.TeamName, inst.TokenType}
	out = append(out, inst.User.Scopes...)
	if w := inst.IncomingWebhook; w != nil {
		out = append(out, w.Channel, w.ChannelID, w.ConfigurationURL)
	}
	if inst.Bot != nil {
		out = append(out, inst.Bot.Scopes...)
	}
	return out
}

// encodeInstallation encodes inst's record and bot columns; a failure is
// ErrInvalid, said of subj.
func encodeInstallation(subj string, inst *installstore.Installation) (recordCols, botCols, error) {
	rec, err := encodeRecord(inst)
	if err != nil {
		return recordCols{}, botCols{}, fail(subj, installstore.ErrInvalid, "encode: %v", err)
	}
	bot, err := encodeBot(inst.Bot)
	if err != nil {
		return recordCols{}, botCols{}, fail(subj, installstore.ErrInvalid, "encode bot: %v", err)
	}
	return rec, bot, nil
}

func encodeRecord(inst *installstore.Installation) (recordCols, error) {
	if hasNUL(textFields(inst)...) {
		return recordCols{}, errors.New("a text field holds a NUL byte")
	}
	r := recordJSON{
		App: inst.AppID, Ent: inst.EnterpriseID, EntName: inst.EnterpriseName, EntURL: inst.EnterpriseURL,
		Team: inst.TeamID, TeamName: inst.TeamName, Org: inst.IsEnterpriseInstall, TokType: inst.TokenType,
		At: fmtTime(inst.InstalledAt),
	}
	u := inst.User
	if u.ID != "" || !u.ExpiresAt.IsZero() || len(u.Scopes) > 0 {
		r.User = &userJSON{ID: u.ID, Exp: fmtTime(u.ExpiresAt), Scopes: u.Scopes}
	}
	var hookURL any
	if w := inst.IncomingWebhook; w != nil {
		r.Hook = &hookJSON{Ch: w.Channel, ChID: w.ChannelID, Cfg: w.ConfigurationURL}
		hookURL = nullable(w.URL.Reveal())
	}
	b, err := json.Marshal(r)
	if err != nil {
		return recordCols{}, err
	}
	userOnly := installstore.Installation{User: u}
	return recordCols{
		userID:       u.ID,
		record:       string(b),
		token:        nullable(u.Token.Reveal()),
		refreshToken: nullable(u.RefreshToken.Reveal()),
		hookURL:      hookURL,
		due:          dueOf(userOnly.RefreshAt()),
	}, nil
}

// botCols are the column values of a tenant's bot: bot, bot_token,
// bot_refresh_token, bot_due. present is false for a nil bot (keep the
// stored one on a store, a nil bot on an update).
type botCols struct {
	present             bool
	bot                 any // JSON, or nil (NULL)
	token, refreshToken any
	due                 any
}

func encodeBot(b *installstore.Bot) (botCols, error) {
	if b == nil {
		return botCols{}, nil
	}
	j, err := json.Marshal(botJSON{ID: b.ID, UID: b.UserID, Exp: fmtTime(b.ExpiresAt), At: fmtTime(b.InstalledAt), Scopes: b.Scopes})
	if err != nil {
		return botCols{}, err
	}
	botOnly := installstore.Installation{Bot: b}
	return botCols{
		present:      true,
		bot:          string(j),
		token:        nullable(b.Token.Reveal()),
		refreshToken: nullable(b.RefreshToken.Reveal()),
		due:          dueOf(botOnly.RefreshAt()),
	}, nil
}

// recordRow is a record as read: the record column and its secrets.
type recordRow struct {
	userID                       string // the row's user_id column (tenants: the latest installer)
	record                       []byte
	token, refreshToken, hookURL *string
}

// botRow is a tenant's bot as read; bot is nil when the tenant has none.
type botRow struct {
	bot                 []byte
	token, refreshToken *string
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// corrupt is the error of a record that does not decode. It names the
// column and what is wrong, never a value.
func corrupt(subj, format string, args ...any) error {
	return fail(subj, installstore.ErrCorrupt, format, args...)
}

func parseTime(subj, name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, corrupt(subj, "%s: not an RFC 3339 time", name)
	}
	return t, nil
}

// jsonProblem describes a decode error without the JSON's content.
func jsonProblem(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		if te.Field == "" {
			return fmt.Sprintf("not a JSON object (a JSON %s)", te.Value)
		}
		return fmt.Sprintf("field %s: want %s, got a JSON %s", te.Field, te.Type, te.Value)
	}
	return "not a JSON object of the expected shape"
}

// decodeRecord decodes a record of tenant t read from its row, checking
// that it names the tenant and user its key names.
func decodeRecord(subj string, t installstore.Tenant, row recordRow) (*installstore.Installation, error) {
	var r recordJSON
	if err := json.Unmarshal(row.record, &r); err != nil {
		return nil, corrupt(subj, "column record: %s", jsonProblem(err))
	}
	inst := &installstore.Installation{
		AppID: r.App, EnterpriseID: r.Ent, EnterpriseName: r.EntName, EnterpriseURL: r.EntURL,
		TeamID: r.Team, TeamName: r.TeamName, IsEnterpriseInstall: r.Org, TokenType: r.TokType,
	}
	var err error
	if inst.InstalledAt, err = parseTime(subj, "record.at", r.At); err != nil {
		return nil, err
	}
	if r.User != nil {
		inst.User = installstore.User{ID: r.User.ID, Scopes: r.User.Scopes}
		if inst.User.ExpiresAt, err = parseTime(subj, "record.user.exp", r.User.Exp); err != nil {
			return nil, err
		}
	}
	inst.User.Token = installstore.NewSecret(deref(row.token))
	inst.User.RefreshToken = installstore.NewSecret(deref(row.refreshToken))
	if r.Hook != nil || row.hookURL != nil {
		inst.IncomingWebhook = &installstore.IncomingWebhook{URL: installstore.NewSecret(deref(row.hookURL))}
		if r.Hook != nil {
			inst.IncomingWebhook.Channel, inst.IncomingWebhook.ChannelID, inst.IncomingWebhook.ConfigurationURL = r.Hook.Ch, r.Hook.ChID, r.Hook.Cfg
		}
	}
	if inst.Tenant() != t || inst.Validate() != nil {
		return nil, corrupt(subj, "column record: holds a record of another tenant")
	}
	if inst.User.ID != row.userID {
		return nil, corrupt(subj, "column record: holds a record of another user")
	}
	return inst, nil
}

func decodeBot(subj string, row botRow) (*installstore.Bot, error) {
	if row.bot == nil {
		if row.token != nil || row.refreshToken != nil {
			return nil, corrupt(subj, "column bot: missing beside bot tokens")
		}
		return nil, nil
	}
	var j botJSON
	if err := json.Unmarshal(row.bot, &j); err != nil {
		return nil, corrupt(subj, "column bot: %s", jsonProblem(err))
	}
	b := &installstore.Bot{
		ID: j.ID, UserID: j.UID, Scopes: j.Scopes,
		Token:        installstore.NewSecret(deref(row.token)),
		RefreshToken: installstore.NewSecret(deref(row.refreshToken)),
	}
	var err error
	if b.ExpiresAt, err = parseTime(subj, "bot.exp", j.Exp); err != nil {
		return nil, err
	}
	if b.InstalledAt, err = parseTime(subj, "bot.at", j.At); err != nil {
		return nil, err
	}
	return b, nil
}

// parseTenant is the inverse of [installstore.Tenant.Key] (a key without
// its client ID prefix: see Store.parseKey).
func parseTenant(key string) (installstore.Tenant, bool) {
	ent, team, ok := strings.Cut(key, ":")
	if !ok || (ent == "" && team == "") || strings.Contains(team, ":") {
		return installstore.Tenant{}, false
	}
	return installstore.Tenant{EnterpriseID: ent, TeamID: team}, true
}

// baseQuery returns the query of a tenant's latest record.
func baseQuery(t installstore.Tenant) installstore.Query {
	return installstore.Query{EnterpriseID: t.EnterpriseID, TeamID: t.TeamID, IsEnterpriseInstall: t.IsEnterprise()}
}
