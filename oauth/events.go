package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

// ServeEvents is the Events API endpoint. It reads at most [MaxEventBytes]
// (413 beyond), verifies the request signature with slack-go's verifier
// (5-minute timestamp window, constant-time compare; 401 when it fails),
// parses the body (400 when malformed), answers url_verification, and purges
// on app_uninstalled and tokens_revoked. Other verified requests go to
// Config.Next, or get 200.
//
// app_uninstalled deletes everything of the envelope's tenant.
// tokens_revoked deletes each listed user's installation and, when bot
// tokens are listed, the tenant's bot via [installstore.BotDeleter]. With a
// store that is no BotDeleter the bot record is kept (deleting the whole
// tenant would destroy user tokens Slack did not revoke, and a retry cannot
// succeed either): the event is acknowledged and an error is logged; the
// revoked bot token is dead at Slack.
//
// Late events never delete a newer install: a purge is skipped (and
// acknowledged) when the stored installation, or the user's, has an
// InstalledAt not before the event's event_time (whole seconds; ties keep
// the installation). Store errors give 500, so Slack retries; every purge is
// idempotent. The check and the delete are two store calls: a re-install
// stored in the instant between them is not protected (closing that window
// needs a conditional delete in the store contract). A record that no
// longer opens (crypto.ErrDecrypt: its key revoked, say) is purged without
// the check: it can serve nobody. Any other read error gives 500.
func (h *Handler) ServeEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.eventRejected(r, http.StatusRequestEntityTooLarge, "body_too_large", nil)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		h.eventRejected(r, http.StatusBadRequest, "body_unreadable", err)
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	if reason, err := h.verify(r.Header, body); err != nil {
		h.eventRejected(r, http.StatusUnauthorized, reason, err)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	ev, err := parseEvent(body)
	if err != nil {
		h.eventRejected(r, http.StatusBadRequest, "malformed_body", err)
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	switch {
	case ev.challenge != "":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = io.WriteString(w, ev.challenge)
	case ev.inner == eventAppUninstalled:
		h.finish(w, r, ev, h.uninstall(r.Context(), ev))
	case ev.inner == eventTokensRevoked:
		h.finish(w, r, ev, h.revoke(r.Context(), ev))
	case h.cfg.Next != nil:
		next := r.Clone(r.Context())
		next.Body = io.NopCloser(bytes.NewReader(body))
		next.ContentLength = int64(len(body))
		next.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		h.cfg.Next.ServeHTTP(w, next)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// verify checks Slack's request signature; reason names the failure.
func (h *Handler) verify(header http.Header, body []byte) (reason string, err error) {
	sv, err := slack.NewSecretsVerifier(header, h.cfg.SigningSecret.Reveal())
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	switch {
	case err == nil:
		return "", nil
	case errors.Is(err, slack.ErrMissingHeaders):
		return "signature_missing", err
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return "timestamp_stale", err
	case errors.Is(err, slack.ErrInvalidSignature):
		return "signature_invalid", err
	default:
		return "signature_malformed", err
	}
}

func (h *Handler) eventRejected(r *http.Request, status int, reason string, err error) {
	attrs := []slog.Attr{slog.String("reason", reason), slog.Int("status", status), slog.String("remote", r.RemoteAddr)}
	if err != nil {
		attrs = append(attrs, slog.String("error", h.scrub(err)))
	}
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "oauth: events: request rejected", attrs...)
}

// finish acknowledges a handled event, or answers 500 so Slack retries.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, ev *event, err error) {
	if err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "oauth: events: purge failed; Slack will retry",
			slog.String("event", ev.inner), slog.String("tenant", ev.tenant.Tenant().String()), slog.String("error", h.scrub(err)))
		http.Error(w, "purge failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// uninstall deletes everything of the event's tenant, unless a newer install.
func (h *Handler) uninstall(ctx context.Context, ev *event) error {
	newer, err := h.installedSince(ctx, ev.tenant, ev.at)
	if err != nil || newer {
		return err
	}
	if err := h.cfg.Store.DeleteInstallation(ctx, ev.tenant); err != nil {
		return fmt.Errorf("oauth: app_uninstalled: delete tenant %s: %w", ev.tenant.Tenant(), err)
	}
	h.cfg.Logger.InfoContext(ctx, "oauth: events: app_uninstalled: tenant purged", slog.String("tenant", ev.tenant.Tenant().String()))
	return nil
}

// revoke deletes the listed users' installations and, if listed, the bot.
func (h *Handler) revoke(ctx context.Context, ev *event) error {
	for _, uid := range ev.users {
		q := ev.tenant
		q.UserID = uid
		newer, err := h.installedSince(ctx, q, ev.at)
		if err != nil {
			return err
		}
		if newer {
			continue
		}
		if err := h.cfg.Store.DeleteInstallation(ctx, q); err != nil {
			return fmt.Errorf("oauth: tokens_revoked: delete tenant %s user %s: %w", q.Tenant(), uid, err)
		}
		h.cfg.Logger.InfoContext(ctx, "oauth: events: tokens_revoked: user installation purged",
			slog.String("tenant", q.Tenant().String()), slog.String("user", uid))
	}
	if !ev.bot {
		return nil
	}
	newer, err := h.installedSince(ctx, ev.tenant, ev.at)
	if err != nil || newer {
		return err
	}
	bd, ok := h.cfg.Store.(installstore.BotDeleter)
	if !ok {
		h.cfg.Logger.ErrorContext(ctx, "oauth: events: tokens_revoked lists the bot, but the store cannot delete a bot alone (no installstore.BotDeleter); the revoked bot token stays stored",
			slog.String("tenant", ev.tenant.Tenant().String()), slog.String("store", fmt.Sprintf("%T", h.cfg.Store)))
		return nil
	}
	if err := bd.DeleteBot(ctx, ev.tenant); err != nil {
		return fmt.Errorf("oauth: tokens_revoked: delete bot of tenant %s: %w", ev.tenant.Tenant(), err)
	}
	h.cfg.Logger.InfoContext(ctx, "oauth: events: tokens_revoked: bot purged", slog.String("tenant", ev.tenant.Tenant().String()))
	return nil
}

// installedSince reports whether the record q selects exists in q's own
// tenant (not through the org-wide fallback) and was installed at or after
// the event time at, i.e. the event may predate it and must not delete it.
func (h *Handler) installedSince(ctx context.Context, q installstore.Query, at time.Time) (bool, error) {
	inst, err := h.cfg.Store.FetchInstallation(ctx, q)
	switch {
	case errors.Is(err, installstore.ErrNotFound):
		return false, nil
	case errors.Is(err, crypto.ErrDecrypt):
		// The record no longer opens (its key revoked, say): it can serve
		// nobody, and the purge must not wait on reading it.
		h.cfg.Logger.WarnContext(ctx, "oauth: events: the stored installation cannot be opened; purging it without the late-event check",
			slog.String("tenant", q.Tenant().String()), slog.String("user", q.UserID), slog.String("error", err.Error()))
		return false, nil
	case err != nil:
		return false, fmt.Errorf("oauth: events: fetch tenant %s: %w", q.Tenant(), err)
	case inst.Tenant() != q.Tenant() || (q.UserID != "" && inst.User.ID != q.UserID):
		return false, nil
	}
	if !inst.InstalledAt.Before(at) {
		h.cfg.Logger.InfoContext(ctx, "oauth: events: ignoring an event older than the stored installation",
			slog.String("tenant", q.Tenant().String()), slog.String("user", q.UserID),
			slog.Time("event_time", at), slog.Time("installed_at", inst.InstalledAt))
		return true, nil
	}
	return false, nil
}
