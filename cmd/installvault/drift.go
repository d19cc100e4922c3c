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

	"github.com/installvault/installvault/metrics"
)

func scopeDriftCommand() *command {
	return &command{
		name:    "scope-drift",
		args:    "-bot-scopes a,b [-user-scopes c] [-json] [-store URL]",
		summary: "list installations whose granted scopes differ from the requested ones (metrics.ScopeDrift)",
		help: `Compares each installation's granted scopes with the scopes the app requests
now: such installations need a re-install to get new scopes (MISSING), or still
hold scopes the app dropped (EXTRA). Reads scopes only, never a token; no key is
needed. Corrupt records are named on stderr and counted (exit 1).`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			bot := fs.String("bot-scopes", "", "comma-separated bot `scopes` the app requests")
			user := fs.String("user-scopes", "", "comma-separated user `scopes` the app requests")
			asJSON := fs.Bool("json", false, "print one JSON object per drifting installation")
			return func(ctx context.Context) error {
				want := metrics.Scopes{Bot: splitList(*bot), User: splitList(*user)}
				if len(want.Bot) == 0 && len(want.User) == 0 {
					return usagef("give the requested scopes with -bot-scopes and/or -user-scopes")
				}
				raw, err := tc.rawStore(ctx)
				if err != nil {
					return err
				}
				drifts, listErr := metrics.ScopeDrift(ctx, raw, want)
				if _, complete := countSkipped(listErr); !complete {
					return fmt.Errorf("scope drift of %s: %w", tc.desc(), listErr)
				}
				slices.SortFunc(drifts, func(a, b metrics.Drift) int {
					return cmp.Or(cmp.Compare(a.Query.Tenant().Key(), b.Query.Tenant().Key()), cmp.Compare(a.Query.UserID, b.Query.UserID))
				})
				if *asJSON {
					enc := json.NewEncoder(e.stdout)
					for _, d := range drifts {
						if err := enc.Encode(driftRow{
							Tenant: d.Query.Tenant().Key(), User: d.Query.UserID,
							MissingBot: d.MissingBot, ExtraBot: d.ExtraBot, MissingUser: d.MissingUser, ExtraUser: d.ExtraUser,
						}); err != nil {
							return err
						}
					}
					return skippedRecords(e, "scope drift of "+tc.desc(), listErr)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TENANT\tUSER\tMISSING_BOT\tEXTRA_BOT\tMISSING_USER\tEXTRA_USER")
				for _, d := range drifts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Query.Tenant(), dash(d.Query.UserID),
						dash(strings.Join(d.MissingBot, ",")), dash(strings.Join(d.ExtraBot, ",")),
						dash(strings.Join(d.MissingUser, ",")), dash(strings.Join(d.ExtraUser, ",")))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				verb := "drift"
				if len(drifts) == 1 {
					verb = "drifts"
				}
				fmt.Fprintf(e.stdout, "%s %s\n", count(len(drifts), "installation"), verb)
				return skippedRecords(e, "scope drift of "+tc.desc(), listErr)
			}
		},
	}
}

// driftRow is one line of scope-drift -json. Tenant is the tenant's key
// ([installstore.Tenant.Key]), as in list -json.
type driftRow struct {
	Tenant      string   `json:"tenant"`
	User        string   `json:"user,omitempty"`
	MissingBot  []string `json:"missing_bot,omitempty"`
	ExtraBot    []string `json:"extra_bot,omitempty"`
	MissingUser []string `json:"missing_user,omitempty"`
	ExtraUser   []string `json:"extra_user,omitempty"`
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
