package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/installvault/installvault/installstore"
)

// undoTimeout bounds undoing an install at Slack.
const undoTimeout = 20 * time.Second

// errNotAdmin: the installer is not an admin or owner.
var errNotAdmin = errors.New("the installing user is not an admin or owner")

// sensitiveGranted returns the first granted scope of inst that is in
// Config.SensitiveScopes, or "".
func (h *Handler) sensitiveGranted(inst *installstore.Installation) string {
	var granted []string
	if inst.Bot != nil {
		granted = append(granted, inst.Bot.Scopes...)
	}
	granted = append(granted, inst.User.Scopes...)
	for _, s := range granted {
		if slices.Contains(h.cfg.SensitiveScopes, s) {
			return s
		}
	}
	return ""
}

// checkAdmin looks the installer up with users.info, with a new token
// granted users:read (the bot's, else the user's), and accepts a workspace
// or organization admin or owner. Any failure to tell is an error: the
// guard fails closed. An answer saying "not an admin" wraps errNotAdmin.
func (h *Handler) checkAdmin(ctx context.Context, inst *installstore.Installation) error {
	var token string
	switch {
	case inst.Bot != nil && !inst.Bot.Token.IsZero() && slices.Contains(inst.Bot.Scopes, "users:read"):
		token = inst.Bot.Token.Reveal()
	case !inst.User.Token.IsZero() && slices.Contains(inst.User.Scopes, "users:read"):
		token = inst.User.Token.Reveal()
	}
	if token == "" || inst.User.ID == "" {
		return fmt.Errorf("oauth: admin check for tenant %s: no token granted users:read, or no installing user, to look the installer up with", inst.Tenant())
	}
	u, err := h.api(token).GetUserInfoContext(ctx, inst.User.ID)
	if err != nil {
		return &scrubbedError{msg: fmt.Sprintf("oauth: admin check for tenant %s user %s: users.info: %s (the app needs the users:read scope)",
			inst.Tenant(), inst.User.ID, h.scrub(err, token)), err: err}
	}
	if u.ID != inst.User.ID {
		return fmt.Errorf("oauth: admin check for tenant %s user %s: users.info answered for another user", inst.Tenant(), inst.User.ID)
	}
	if u.IsAdmin || u.IsOwner || u.IsPrimaryOwner || u.Enterprise.IsAdmin || u.Enterprise.IsOwner || u.Enterprise.IsPrimaryOwner {
		return nil
	}
	return fmt.Errorf("oauth: tenant %s user %s: %w", inst.Tenant(), inst.User.ID, errNotAdmin)
}

// undo takes back, at Slack, an install that was rejected or could not be
// stored, so that no live token is left that nobody holds and the app does
// not stay installed by someone who may not install it.
//
// It must not harm an installation the app already has in the tenant (a
// re-install returns the same bot, often the same token, and revoking it
// would also make Slack send a tokens_revoked that purges the stored bot):
//
//   - the tenant has no stored installation (not even through the Grid
//     fallbacks): apps.uninstall, with the client ID and secret and the new
//     token, removes the app from the workspace; should that fail,
//     auth.revoke revokes each new token;
//   - the tenant is installed: only a new user token of a user with no
//     stored installation is revoked; the bot (shared with the existing
//     installation) is left, and that is logged;
//   - the store cannot tell: nothing is revoked, and an error is logged
//     naming the tenant.
//
// It returns what it did, for the log. It has its own time bound: it runs
// after store calls that may have used theirs up.
func (h *Handler) undo(ctx context.Context, inst *installstore.Installation) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	tenant := slog.String("tenant", inst.Tenant().String())
	latest := inst.Query()
	latest.UserID = ""
	_, err := h.cfg.Store.FetchInstallation(ctx, latest)
	switch {
	case errors.Is(err, installstore.ErrNotFound):
		token := inst.User.Token.Reveal()
		if inst.Bot != nil && !inst.Bot.Token.IsZero() {
			token = inst.Bot.Token.Reveal()
		}
		if token == "" {
			return "nothing to undo (no token issued)"
		}
		uerr := h.api(token).UninstallAppContext(ctx, h.cfg.ClientID, h.cfg.ClientSecret.Reveal())
		if uerr == nil {
			return "uninstalled at Slack (apps.uninstall)"
		}
		h.cfg.Logger.WarnContext(ctx, "oauth: undo install: apps.uninstall failed; revoking the new tokens instead", tenant,
			slog.String("error", h.scrub(uerr, token)))
		return h.revokeIssued(ctx, inst, true)
	case err != nil:
		h.cfg.Logger.ErrorContext(ctx, "oauth: undo install: cannot tell whether the tenant was already installed, so nothing was revoked; "+
			"the tokens Slack just issued stay live at Slack, unheld: uninstall the app from that workspace if it should not be there",
			tenant, slog.String("user", inst.User.ID), slog.String("error", h.scrub(err)))
		return "nothing revoked (store unavailable)"
	}
	// Already installed: keep the shared bot; revoke a new user token only.
	_, uerr := h.cfg.Store.FetchInstallation(ctx, inst.Query())
	if inst.User.ID != "" && errors.Is(uerr, installstore.ErrNotFound) && !inst.User.Token.IsZero() {
		h.cfg.Logger.WarnContext(ctx, "oauth: undo install: the tenant is already installed; its bot was left as it is", tenant)
		return h.revokeIssued(ctx, inst, false)
	}
	h.cfg.Logger.WarnContext(ctx, "oauth: undo install: the tenant is already installed; nothing was revoked, to keep the existing installation's tokens "+
		"(scopes the rejected install added to the bot stay granted at Slack until the app is re-installed)", tenant)
	return "nothing revoked (tenant already installed)"
}

// revokeIssued calls auth.revoke for the new user token and, when bot, the
// new bot token.
func (h *Handler) revokeIssued(ctx context.Context, inst *installstore.Installation, bot bool) string {
	var tokens []string
	if !inst.User.Token.IsZero() {
		tokens = append(tokens, inst.User.Token.Reveal())
	}
	if bot && inst.Bot != nil && !inst.Bot.Token.IsZero() {
		tokens = append(tokens, inst.Bot.Token.Reveal())
	}
	revoked := 0
	for _, tok := range tokens {
		if _, err := h.api(tok).SendAuthRevokeContext(ctx, ""); err != nil {
			h.cfg.Logger.ErrorContext(ctx, "oauth: undo install: auth.revoke failed; a token Slack issued stays live, unheld",
				slog.String("tenant", inst.Tenant().String()), slog.String("error", h.scrub(err, tok)))
			continue
		}
		revoked++
	}
	return fmt.Sprintf("revoked %d of %d new tokens (auth.revoke)", revoked, len(tokens))
}
