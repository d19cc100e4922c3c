package backup

import (
	"time"

	"github.com/installvault/installvault/installstore"
)

// Kinds of line (the "kind" field; a version 1 line has none and is a
// record).
const (
	kindRecord  = "record"
	kindHistory = "history"
)

type record struct {
	V            int                `json:"v"`
	Kind         string             `json:"kind,omitempty"`
	Query        installstore.Query `json:"query"`
	Installation wireInstallation   `json:"installation"`
}

type wireInstallation struct {
	AppID               string       `json:"app_id,omitempty"`
	EnterpriseID        string       `json:"enterprise_id,omitempty"`
	EnterpriseName      string       `json:"enterprise_name,omitempty"`
	EnterpriseURL       string       `json:"enterprise_url,omitempty"`
	TeamID              string       `json:"team_id,omitempty"`
	TeamName            string       `json:"team_name,omitempty"`
	IsEnterpriseInstall bool         `json:"is_enterprise_install,omitempty"`
	Bot                 *wireBot     `json:"bot,omitempty"`
	User                wireUser     `json:"user"`
	IncomingWebhook     *wireWebhook `json:"incoming_webhook,omitempty"`
	TokenType           string       `json:"token_type,omitempty"`
	InstalledAt         time.Time    `json:"installed_at"`
}

type wireBot struct {
	ID           string    `json:"id,omitempty"`
	UserID       string    `json:"user_id,omitempty"`
	Token        string    `json:"token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	ExpiresAt    time.Time `json:"expires_at"`
	Scopes       []string  `json:"scopes,omitempty"`
	InstalledAt  time.Time `json:"installed_at,omitzero"`
}

type wireUser struct {
	ID           string    `json:"id,omitempty"`
	Token        string    `json:"token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	ExpiresAt    time.Time `json:"expires_at"`
	Scopes       []string  `json:"scopes,omitempty"`
}

type wireWebhook struct {
	URL              string `json:"url,omitempty"`
	Channel          string `json:"channel,omitempty"`
	ChannelID        string `json:"channel_id,omitempty"`
	ConfigurationURL string `json:"configuration_url,omitempty"`
}

func toWire(i *installstore.Installation) wireInstallation {
	w := wireInstallation{
		AppID: i.AppID, EnterpriseID: i.EnterpriseID, EnterpriseName: i.EnterpriseName, EnterpriseURL: i.EnterpriseURL,
		TeamID: i.TeamID, TeamName: i.TeamName, IsEnterpriseInstall: i.IsEnterpriseInstall,
		User: wireUser{ID: i.User.ID, Token: i.User.Token.Reveal(), RefreshToken: i.User.RefreshToken.Reveal(),
			ExpiresAt: i.User.ExpiresAt, Scopes: i.User.Scopes},
		TokenType: i.TokenType, InstalledAt: i.InstalledAt,
	}
	if b := i.Bot; b != nil {
		w.Bot = &wireBot{ID: b.ID, UserID: b.UserID, Token: b.Token.Reveal(), RefreshToken: b.RefreshToken.Reveal(),
			ExpiresAt: b.ExpiresAt, Scopes: b.Scopes, InstalledAt: b.InstalledAt}
	}
	if h := i.IncomingWebhook; h != nil {
		w.IncomingWebhook = &wireWebhook{URL: h.URL.Reveal(), Channel: h.Channel, ChannelID: h.ChannelID, ConfigurationURL: h.ConfigurationURL}
	}
	return w
}

func fromWire(w wireInstallation) *installstore.Installation {
	i := &installstore.Installation{
		AppID: w.AppID, EnterpriseID: w.EnterpriseID, EnterpriseName: w.EnterpriseName, EnterpriseURL: w.EnterpriseURL,
		TeamID: w.TeamID, TeamName: w.TeamName, IsEnterpriseInstall: w.IsEnterpriseInstall,
		User: installstore.User{ID: w.User.ID, Token: installstore.NewSecret(w.User.Token), RefreshToken: installstore.NewSecret(w.User.RefreshToken),
			ExpiresAt: w.User.ExpiresAt, Scopes: w.User.Scopes},
		TokenType: w.TokenType, InstalledAt: w.InstalledAt,
	}
	if b := w.Bot; b != nil {
		i.Bot = &installstore.Bot{ID: b.ID, UserID: b.UserID, Token: installstore.NewSecret(b.Token), RefreshToken: installstore.NewSecret(b.RefreshToken),
			ExpiresAt: b.ExpiresAt, Scopes: b.Scopes, InstalledAt: b.InstalledAt}
	}
	if h := w.IncomingWebhook; h != nil {
		i.IncomingWebhook = &installstore.IncomingWebhook{URL: installstore.NewSecret(h.URL), Channel: h.Channel, ChannelID: h.ChannelID, ConfigurationURL: h.ConfigurationURL}
	}
	return i
}
