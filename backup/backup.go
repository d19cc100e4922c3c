// Package backup exports installations as JSON lines and imports them back,
// losslessly and idempotently.
//
// Export reads the backend below the encryption layer, so records leave
// still sealed: a backup file holds no plaintext token, and restoring it
// needs the same keys. Export refuses a record holding a plaintext secret
// unless [AllowPlaintext] is given.
//
// Each line is one record: the [installstore.Query] that fetches it and the
// installation, with secrets as their (sealed) strings. Versions are not
// restored: the target store assigns its own.
package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/installvault/installvault/installstore"
)

// FormatVersion is the version written in every record.
const FormatVersion = 1

// maxLine bounds one record's size on import.
const maxLine = 1 << 20

type record struct {
	V            int                `json:"v"`
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
			ExpiresAt: b.ExpiresAt, Scopes: b.Scopes}
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
		User: installstore.User{ID: w.User.ID, Token: installstore.Secret(w.User.Token), RefreshToken: installstore.Secret(w.User.RefreshToken),
			ExpiresAt: w.User.ExpiresAt, Scopes: w.User.Scopes},
		TokenType: w.TokenType, InstalledAt: w.InstalledAt,
	}
	if b := w.Bot; b != nil {
		i.Bot = &installstore.Bot{ID: b.ID, UserID: b.UserID, Token: installstore.Secret(b.Token), RefreshToken: installstore.Secret(b.RefreshToken),
			ExpiresAt: b.ExpiresAt, Scopes: b.Scopes}
	}
	if h := w.IncomingWebhook; h != nil {
		i.IncomingWebhook = &installstore.IncomingWebhook{URL: installstore.Secret(h.URL), Channel: h.Channel, ChannelID: h.ChannelID, ConfigurationURL: h.ConfigurationURL}
	}
	return i
}

type config struct {
	plaintext bool
	progress  func(n int)
}

// Option configures Export and Import.
type Option func(*config)

// AllowPlaintext lets Export write records whose secrets are not sealed
// (a backend used without the encryption layer). The file then holds live
// tokens: protect it accordingly.
func AllowPlaintext() Option { return func(c *config) { c.plaintext = true } }

// WithProgress calls fn after every record with the count so far: records
// written by Export, records stored by Import.
func WithProgress(fn func(n int)) Option { return func(c *config) { c.progress = fn } }

// ErrPlaintext is returned by Export for a record holding an unsealed secret.
var ErrPlaintext = errors.New("backup: plaintext secret")

// Export writes every record src lists to w, one JSON line each, and
// returns how many it wrote.
func Export(ctx context.Context, src installstore.Lister, w io.Writer, opts ...Option) (int, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	err := src.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		if !c.plaintext {
			if err := inst.Secrets(func(field string, s *installstore.Secret) error {
				if !s.IsSealed() {
					return fmt.Errorf("%w: tenant %s user %q field %s (export the store below the encryption layer, or pass AllowPlaintext)", ErrPlaintext, inst.Tenant(), q.UserID, field)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if err := enc.Encode(record{V: FormatVersion, Query: q, Installation: toWire(inst)}); err != nil {
			return err
		}
		n++
		if c.progress != nil {
			c.progress(n)
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("backup: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("backup: export: %w", err)
	}
	return n, nil
}

// Import stores every record read from r into dst and returns how many it
// read. User installations are stored as they come; each tenant's latest
// installation is stored after all of them, so the restored tenant serves
// the same latest installation as the exported one. Importing the same
// file twice leaves the same contents.
func Import(ctx context.Context, dst installstore.Store, r io.Reader, opts ...Option) (int, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	latest := map[installstore.Tenant]*installstore.Installation{}
	var order []installstore.Tenant
	n, line, stored := 0, 0, 0
	progress := func() {
		stored++
		if c.progress != nil {
			c.progress(stored)
		}
	}
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		inst, q, err := decode(sc.Bytes())
		if err != nil {
			return n, fmt.Errorf("backup: import line %d: %w", line, err)
		}
		n++
		if q.UserID == "" {
			if _, seen := latest[q.Tenant()]; !seen {
				order = append(order, q.Tenant())
			}
			latest[q.Tenant()] = inst
			continue
		}
		if err := dst.StoreInstallation(ctx, inst); err != nil {
			return n, fmt.Errorf("backup: import line %d (tenant %s user %s): %w", line, q.Tenant(), q.UserID, err)
		}
		progress()
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("backup: import line %d: %w", line+1, err)
	}
	for _, t := range order {
		if err := dst.StoreInstallation(ctx, latest[t]); err != nil {
			return n, fmt.Errorf("backup: import latest installation of tenant %s: %w", t, err)
		}
		progress()
	}
	return n, nil
}

// decode parses one line and checks that the record is consistent: a known
// format version, a valid query, and an installation of that query's tenant
// and user.
func decode(line []byte) (*installstore.Installation, installstore.Query, error) {
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, installstore.Query{}, fmt.Errorf("malformed record: %w", err)
	}
	if rec.V != FormatVersion {
		return nil, installstore.Query{}, fmt.Errorf("record format version %d, want %d", rec.V, FormatVersion)
	}
	if err := rec.Query.Validate(); err != nil {
		return nil, installstore.Query{}, err
	}
	inst := fromWire(rec.Installation)
	if err := inst.Validate(); err != nil {
		return nil, installstore.Query{}, err
	}
	if inst.Tenant() != rec.Query.Tenant() || (rec.Query.UserID != "" && inst.User.ID != rec.Query.UserID) {
		return nil, installstore.Query{}, fmt.Errorf("record for tenant %s user %q holds an installation of tenant %s user %q",
			rec.Query.Tenant(), rec.Query.UserID, inst.Tenant(), inst.User.ID)
	}
	return inst, rec.Query, nil
}
