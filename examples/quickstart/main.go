// Command quickstart walks through installvault with no Slack account, no
// AWS account and no server: with the memory backend and a local keyring it
// installs two workspaces and an Enterprise Grid organization, shows what a
// sealed record looks like at rest, fetches, refreshes a rotating token for
// 1 000 concurrent requests against an in-process stand-in for Slack's
// oauth.v2.access, shows the two ways installvault fails closed (a refresh
// that fails after expiry, a revoked key), rotates the master key, and
// uninstalls. Every count it prints says what it counts.
//
// It never prints a token: tokens are installstore.Secret values, which
// redact themselves.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/rotation"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// The vault: a backend (memory here; DynamoDB in production) wrapped by
	// the encryption layer, with a development keyring (AWS KMS in
	// production). The layers stack as README's diagram shows:
	// rotation.Refresher → crypto.Store → backend.
	backend := memory.New()
	key2026, key2027 := newKey(), newKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"key-2026": key2026}, "key-2026")
	if err != nil {
		return err
	}
	store, err := crypto.NewStore(backend, keys, crypto.WithDataKeyCache(5*time.Minute, 1000))
	if err != nil {
		return err
	}

	say("1. Two workspaces and an Enterprise Grid organization install the app")
	for _, inst := range []*installstore.Installation{
		installation("", "T0ACME", "U0ALICE", false),
		installation("", "T0GLOBEX", "U0BOB", false),
		installation("E0INITECH", "", "U0CAROL", true),
	} {
		if err := store.StoreInstallation(ctx, inst); err != nil {
			return err
		}
		say("   stored %-20s version %d, bot token %v", inst.Tenant(), inst.Version, inst.Bot.Token)
	}
	say("   (a tenant prints as TEAM, ENTERPRISE/TEAM, or ENTERPRISE (org-wide); each keeps 2 records: its latest installation and its installer's)")

	say("2. At rest, the backend holds sealed values only")
	raw, err := backend.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME"})
	if err != nil {
		return err
	}
	sealed := raw.Bot.Token.Reveal() // revealing the *sealed* form is safe to show
	if !raw.Bot.Token.IsSealed() || strings.Contains(sealed, "xoxb-") {
		return errors.New("backend holds a plaintext token")
	}
	say("   bot.token in the backend: %s… (%d bytes, AES-256-GCM, bound to tenant, user and field)", sealed[:40], len(sealed))

	say("3. Events arrive: each lookup is scoped by the verified team_id")
	acme, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME"})
	if err != nil {
		return err
	}
	say("   %s: bot %s, scopes %v, token %v", acme.TeamName, acme.Bot.UserID, acme.Bot.Scopes, acme.Bot.Token)
	viaOrg, err := store.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E0INITECH", TeamID: "T0SALES"})
	if err != nil {
		return err
	}
	say("   workspace T0SALES of E0INITECH is served by the org-wide install: %s", viaOrg.Tenant())

	say("4. Token rotation: 1 000 concurrent requests as T0ACME's token nears expiry")
	slack, err := startSlack()
	if err != nil {
		return err
	}
	defer slack.Close()
	refresher, err := rotation.New(store,
		rotation.WithClientCredentials("0000.1111", installstore.NewSecret("quickstart-client-secret")),
		rotation.WithSlackAPIURL(slack.APIURL()),
	)
	if err != nil {
		return err
	}
	start := time.Now()
	tokens, failures := storm(ctx, refresher, installstore.Query{TeamID: "T0ACME"}, 1000)
	if failures > 0 {
		return fmt.Errorf("%d requests failed", failures)
	}
	// The token expires inside the safety margin, so every caller waited
	// for the one refresh; Wait is what a shutting-down app calls, so that a
	// rotated token is stored before it exits.
	if err := refresher.Wait(ctx); err != nil {
		return err
	}
	say("   refresh calls to Slack: %d, distinct tokens handed out: %d, in %v", slack.Calls("oauth.v2.access"), tokens, time.Since(start).Round(time.Millisecond))
	say("   (one refresh: the callers of this process share it, and a lease in the store keeps other replicas")
	say("   from making their own; every caller got the same new token. One refresh per request would be 1 000.)")

	say("5. Fail closed: Slack is down when GLOBEX's token has already expired")
	if err := expire(ctx, store, installstore.Query{TeamID: "T0GLOBEX"}); err != nil {
		return err
	}
	slack.Fail("oauth.v2.access", &fakeslack.Fault{Status: http.StatusServiceUnavailable}) // as in an outage
	_, err = refresher.Authorize(ctx, installstore.Query{TeamID: "T0GLOBEX"})
	slack.Fail("oauth.v2.access", nil)
	if !errors.Is(err, rotation.ErrRefreshFailed) {
		return fmt.Errorf("an expired token with a failed refresh: want rotation.ErrRefreshFailed, got %v", err)
	}
	say("   Authorize T0GLOBEX: rotation.ErrRefreshFailed, and no token: the expired one is never handed out")
	say("   (this request fails; a later one, after a short backoff, tries the refresh again)")

	say("6. Key rotation: a new primary key, rewrap online, retire the old key")
	keys2, err := crypto.NewLocalKeyring(map[string][]byte{"key-2026": key2026, "key-2027": key2027}, "key-2027")
	if err != nil {
		return err
	}
	rotating, err := crypto.NewStore(backend, keys2)
	if err != nil {
		return err
	}
	stats, err := crypto.Rewrap(ctx, rotating)
	if err != nil {
		return err
	}
	say("   rewrap: %d records seen, %d rewrapped, %d already current, %d failed", stats.Seen, stats.Rewrapped, stats.Current, stats.Failed)
	say("   (seen: 3 tenants x 2 records. A tenant's latest record and its installer's record are re-sealed")
	say("   by one conditional update, so the second of the two counts as already current: opened, and")
	say("   already under key-2027. 0 failed, and no error, is the one condition for retiring key-2026.)")
	newOnly, err := crypto.NewLocalKeyring(map[string][]byte{"key-2027": key2027}, "key-2027")
	if err != nil {
		return err
	}
	retired, err := crypto.NewStore(backend, newOnly)
	if err != nil {
		return err
	}
	readable := 0
	if err := retired.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error {
		readable++
		return nil
	}); err != nil {
		return fmt.Errorf("after retiring the old key: %w", err)
	}
	say("   with key-2026 gone: %d of %d records readable", readable, stats.Seen)

	say("7. Fail closed: key-2027 is revoked (in KMS: DisableKey; here: a keyring without it)")
	revoked, err := crypto.NewLocalKeyring(map[string][]byte{"key-2026": key2026}, "key-2026")
	if err != nil {
		return err
	}
	locked, err := crypto.NewStore(backend, revoked)
	if err != nil {
		return err
	}
	_, err = locked.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME"})
	if !errors.Is(err, crypto.ErrDecrypt) {
		return fmt.Errorf("a revoked key: want crypto.ErrDecrypt, got %v", err)
	}
	say("   fetch T0ACME: crypto.ErrDecrypt, and no token: nothing is served from a plaintext cache")
	say("   (with KMS, a disabled key stops working within the data-key cache's maxAge)")

	say("8. T0GLOBEX uninstalls (app_uninstalled): everything of that tenant goes")
	if err := store.DeleteInstallation(ctx, installstore.Query{TeamID: "T0GLOBEX"}); err != nil {
		return err
	}
	_, err = retired.FetchInstallation(ctx, installstore.Query{TeamID: "T0GLOBEX"})
	if !errors.Is(err, installstore.ErrNotFound) {
		return fmt.Errorf("uninstalled tenant still found: %v", err)
	}
	say("   fetch T0GLOBEX: not found; T0ACME and E0INITECH are still installed. Done.")
	return nil
}

// expire makes the stored bot token of q expired, as if its 12 hours had
// passed with no refresh.
func expire(ctx context.Context, store installstore.FullStore, q installstore.Query) error {
	inst, err := store.FetchInstallation(ctx, q)
	if err != nil {
		return err
	}
	inst.Bot.ExpiresAt = time.Now().Add(-time.Minute)
	return store.UpdateInstallation(ctx, inst)
}
