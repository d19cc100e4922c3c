package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

func listCommand() *command {
	return &command{
		name:    "list",
		args:    "[-json] [-store URL]",
		summary: "list tenants, installers, scopes, expiry, versions and key IDs — never a secret",
		help: `Lists every record of the store: each tenant's latest installation (USER "-")
and each user's installation. KEYS names the provider and master key that seal
the record's secrets, read from the sealed values without opening them (no key
access needed): after a rotation every record should name the new key.
UNSEALED marks a secret stored in clear and MALFORMED one that does not parse;
neither is ever printed. With -json, one JSON object per line.

A record the store holds but that does not decode (corrupt) is not listed: it
is named (tenant and user) on stderr after the others, and list exits 1 with
their count.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			addScanFlag(fs, tc)
			asJSON := fs.Bool("json", false, "print one JSON object per record (JSON lines)")
			return func(ctx context.Context) error {
				raw, err := tc.rawStore(ctx)
				if err != nil {
					return err
				}
				var rows []listRow
				listErr := raw.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
					rows = append(rows, newListRow(q, inst))
					return nil
				})
				if _, complete := countSkipped(listErr); !complete { // the listing stopped: print nothing partial
					return fmt.Errorf("list %s: %w", tc.desc(), listErr)
				}
				slices.SortFunc(rows, func(a, b listRow) int {
					return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.User, b.User))
				})
				if *asJSON {
					enc := json.NewEncoder(e.stdout)
					for _, r := range rows {
						if err := enc.Encode(r); err != nil {
							return err
						}
					}
				} else if err := printListTable(e, rows); err != nil {
					return err
				}
				return skippedRecords(e, "list "+tc.desc(), listErr)
			}
		},
	}
}

// listRow is what list shows of one record: identities, scopes, dates and
// key IDs only. It has no field that could hold a secret.
//
// Tenant is the tenant's key ([installstore.Tenant.Key]: ":T1", "E1:T2",
// "E1:" for an org-wide install), the form of the -kms-tenant-keys file:
// JSON is read by programs. The table prints the tenant as people read it
// ([installstore.Tenant.String]: "T1", "E1/T2", "E1 (org-wide)").
type listRow struct {
	tenant         installstore.Tenant // not exported: not in the JSON
	Tenant         string              `json:"tenant"`
	EnterpriseID   string              `json:"enterprise_id,omitempty"`
	TeamID         string              `json:"team_id,omitempty"`
	OrgInstall     bool                `json:"org_install,omitempty"`
	User           string              `json:"user,omitempty"`
	AppID          string              `json:"app_id,omitempty"`
	TeamName       string              `json:"team_name,omitempty"`
	EnterpriseName string              `json:"enterprise_name,omitempty"`
	Version        int64               `json:"version"`
	InstalledAt    time.Time           `json:"installed_at"`
	BotID          string              `json:"bot_id,omitempty"`
	BotScopes      []string            `json:"bot_scopes,omitempty"`
	BotExpiresAt   *time.Time          `json:"bot_expires_at,omitempty"`
	InstallerID    string              `json:"installer,omitempty"` // the user who installed last (latest records)
	UserScopes     []string            `json:"user_scopes,omitempty"`
	UserExpiresAt  *time.Time          `json:"user_expires_at,omitempty"`
	Webhook        bool                `json:"incoming_webhook,omitempty"`
	Fields         []string            `json:"secret_fields,omitempty"`
	Keys           []string            `json:"keys,omitempty"` // "provider:keyID", "UNSEALED", "MALFORMED"
}

func newListRow(q installstore.Query, inst *installstore.Installation) listRow {
	r := listRow{
		tenant:         q.Tenant(),
		Tenant:         q.Tenant().Key(),
		EnterpriseID:   inst.EnterpriseID,
		TeamID:         inst.TeamID,
		OrgInstall:     inst.IsEnterpriseInstall,
		User:           q.UserID,
		AppID:          inst.AppID,
		TeamName:       inst.TeamName,
		EnterpriseName: inst.EnterpriseName,
		Version:        inst.Version,
		InstalledAt:    inst.InstalledAt.UTC(),
		InstallerID:    inst.User.ID,
		UserScopes:     inst.User.Scopes,
		UserExpiresAt:  timePtr(inst.User.ExpiresAt),
		Webhook:        inst.IncomingWebhook != nil,
		Keys:           sealedKeys(inst),
	}
	if inst.Bot != nil {
		r.BotID, r.BotScopes, r.BotExpiresAt = inst.Bot.ID, inst.Bot.Scopes, timePtr(inst.Bot.ExpiresAt)
	}
	_ = inst.Secrets(func(field string, s *installstore.Secret) error {
		if !s.IsZero() {
			r.Fields = append(r.Fields, field)
		}
		return nil
	})
	return r
}

// sealedKeys returns the distinct keys sealing inst's secrets, sorted.
func sealedKeys(inst *installstore.Installation) []string {
	var keys []string
	_ = inst.Secrets(func(_ string, s *installstore.Secret) error {
		var k string
		switch provider, keyID, err := crypto.SealedKey(*s); {
		case s.IsZero():
			return nil
		case !s.IsSealed():
			k = "UNSEALED"
		case err != nil:
			k = "MALFORMED"
		default:
			k = provider + ":" + keyID
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		return nil
	})
	slices.Sort(keys)
	return keys
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func printListTable(e *env, rows []listRow) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tUSER\tVERSION\tINSTALLED\tBOT_SCOPES\tBOT_EXPIRES\tINSTALLER\tUSER_SCOPES\tUSER_EXPIRES\tKEYS")
	tenants := make(map[string]bool)
	for _, r := range rows {
		tenants[r.Tenant] = true
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.tenant, dash(r.User), r.Version, r.InstalledAt.Format(time.RFC3339),
			dash(strings.Join(r.BotScopes, ",")), fmtTime(r.BotExpiresAt),
			dash(r.InstallerID), dash(strings.Join(r.UserScopes, ",")), fmtTime(r.UserExpiresAt),
			dash(strings.Join(r.Keys, " ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(e.stdout, "%s, %s\n", count(len(rows), "record"), count(len(tenants), "tenant"))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
