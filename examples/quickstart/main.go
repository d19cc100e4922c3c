// Command quickstart walks through installvault with no Slack account, no
// AWS account and no server: it installs two workspaces, fetches, reinstalls
// and uninstalls, printing what happens. It never prints a token: the
// tokens are installstore.Secret values, which redact themselves.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	store := memory.New()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	say("1. Two workspaces install the app")
	for _, team := range []string{"T0ACME", "T0GLOBEX"} {
		inst := installation(team, "U0ADMIN", "first")
		if err := store.StoreInstallation(ctx, inst); err != nil {
			return err
		}
		say("   stored %s (version %d), bot token %v", team, inst.Version, inst.Bot.Token)
	}

	say("2. An event from T0ACME arrives: fetch by the verified team_id")
	acme, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME"})
	if err != nil {
		return err
	}
	say("   %s: bot %s, scopes %v, token %v (a Secret prints redacted)", acme.TeamName, acme.Bot.UserID, acme.Bot.Scopes, acme.Bot.Token)

	say("3. T0ACME reinstalls with new scopes: the record is replaced, the version grows")
	again := installation("T0ACME", "U0ADMIN", "second")
	again.Bot.Scopes = append(again.Bot.Scopes, "reactions:write")
	if err := store.StoreInstallation(ctx, again); err != nil {
		return err
	}
	acme2, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME"})
	if err != nil {
		return err
	}
	say("   version %d -> %d, scopes %v", acme.Version, acme2.Version, acme2.Bot.Scopes)

	say("4. T0GLOBEX uninstalls (app_uninstalled): everything of that tenant goes")
	if err := store.DeleteInstallation(ctx, installstore.Query{TeamID: "T0GLOBEX"}); err != nil {
		return err
	}
	_, err = store.FetchInstallation(ctx, installstore.Query{TeamID: "T0GLOBEX"})
	say("   fetch T0GLOBEX: %v (errors.Is ErrNotFound: %t)", err, errors.Is(err, installstore.ErrNotFound))
	if !errors.Is(err, installstore.ErrNotFound) {
		return fmt.Errorf("uninstalled tenant still found: %v", err)
	}
	if _, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME"}); err != nil {
		return fmt.Errorf("T0ACME lost: %w", err)
	}
	say("   T0ACME is still installed. Done.")
	return nil
}

// installation builds what an OAuth callback would store. The tokens are
// obviously fake.
func installation(team, user, tag string) *installstore.Installation {
	return &installstore.Installation{
		AppID:    "A0QUICKSTART",
		TeamID:   team,
		TeamName: "Workspace " + team,
		Bot: &installstore.Bot{
			ID:     "B" + team,
			UserID: "UB" + team,
			Token:  installstore.Secret("xoxb-test-" + team + "-" + tag),
			Scopes: []string{"chat:write", "commands"},
		},
		User:        installstore.User{ID: user},
		TokenType:   "bot",
		InstalledAt: time.Now(),
	}
}
