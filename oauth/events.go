package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

// maxPurgeAttempts bounds the check-and-delete loop when the tenant keeps
// changing under it (token refreshes).
const maxPurgeAttempts = 4

// ServeEvents is the Events API endpoint. It reads at most [MaxEventBytes]
// (413 beyond), verifies the request signature with slack-go's verifier
// (5-minute timestamp window, constant-time compare; 401 when it fails),
// parses the body (400 when malformed, or an event_callback naming no valid
// tenant), answers url_verification, and purges on app_uninstalled and
// tokens_revoked. Every other verified request, and app_uninstalled and
// tokens_revoked once their purge is done, goes to Config.Next with the
// parsed [Event] in its context, or gets 200 when Next is nil.
//
// # Purges
//
// app_uninstalled deletes everything of the envelope's tenant (and, for a
// workspace of an enterprise, its standalone record from before a Grid
// migration). tokens_revoked deletes each listed user's installation and,
// when bot tokens are listed, the tenant's bot. Every purge is idempotent.
//
// Late events never delete a newer install, and the check and the delete
// are one step: the record is fetched, its install time compared with the
// event's event_time (the bot's own Bot.InstalledAt for a bot revocation;
// the user's installation for a user token), and the delete is conditioned
// on the Version seen ([installstore.ConditionalDeleter]). An event not
// more than Config.EventClockSkew after the install is acknowledged and
// ignored (whole seconds; ties keep the installation). When the record
// changed in between ([installstore.ErrConflict]), the check runs again on
// what is now stored: an install that landed meanwhile is kept, a refreshed
// token of the old install is still purged.
//
// Faults: a record that can never be opened (crypto.ErrDecrypt: its key
// disabled or the value tampered; [installstore.ErrCorrupt]) can serve
// nobody and is purged without the check. Any other error, among them
// [installstore.ErrUnavailable] (KMS throttling, a backend outage), deletes
// nothing and answers 500, so Slack retries.
//
// # What the app sees of an uninstall
//
// Next gets app_uninstalled and tokens_revoked after the purge, so that the
// app can drop its own data of that workspace (or user): when it runs, the
// tokens the event names are already deleted from the store (Slack revoked
// them anyway), except what [Event.Kept] lists, which was installed after
// the event and is kept; the app should keep its data of those too. A
// purge that failed calls no Next: the delivery gets 500, and Slack's
// retry purges again (idempotent) and then reaches Next. Next answering
// other than 2xx gets its retry delivered again, like any event; the purge
// then finds nothing left to delete.
//
// # De-duplication
//
// Each event_id reaches Next once across replicas for [EventDedupWindow],
// unless Config.DeliverDuplicateEvents: a delivery first takes a lease on
// the event (the store's [installstore.Leaser]; one replica at a time),
// then puts a marker nonce for it ([installstore.NonceStore]). A duplicate
// of a delivered event is acknowledged at once with 200; a duplicate
// arriving while another replica still processes the event gets 503, so
// that Slack asks again later. When Next answers other than 2xx (or
// panics), the marker is consumed, so Slack's retry is delivered again. If
// the store cannot answer, the delivery gets 503 and Next is not called. A
// process that dies inside Next leaves the marker: that event is not
// delivered again (at most once).
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
	case ev.inner == eventAppUninstalled || ev.inner == eventTokensRevoked:
		h.lifecycle(w, r, ev, body)
	case h.cfg.Next != nil:
		h.deliver(w, r, ev, body, Kept{})
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

// lifecycle purges for an app_uninstalled or tokens_revoked event, then
// hands it to Next (de-duplicated like any event), or acknowledges it. A
// failed purge answers 500, so Slack retries, and Next is not called.
func (h *Handler) lifecycle(w http.ResponseWriter, r *http.Request, ev *event, body []byte) {
	var kept Kept
	var err error
	if ev.inner == eventAppUninstalled {
		kept.Tenant, err = h.purge(r.Context(), ev, ev.tenant, purgeTenant)
	} else {
		kept, err = h.revoke(r.Context(), ev)
	}
	switch {
	case err != nil:
		h.cfg.Logger.ErrorContext(r.Context(), "oauth: events: purge failed, nothing deleted; Slack will retry",
			slog.String("event", ev.inner), slog.String("tenant", ev.tenant.Tenant().String()), slog.String("error", h.scrub(err)))
		http.Error(w, "purge failed", http.StatusInternalServerError)
	case h.cfg.Next != nil:
		h.deliver(w, r, ev, body, kept)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// revoke deletes the listed users' installations and, if listed, the bot;
// kept is what it left because it was installed after the event.
func (h *Handler) revoke(ctx context.Context, ev *event) (kept Kept, err error) {
	for _, uid := range ev.users {
		q := ev.tenant
		q.UserID = uid
		newer, err := h.purge(ctx, ev, q, purgeUser)
		if err != nil {
			return Kept{}, err
		}
		if newer {
			kept.Users = append(kept.Users, uid)
		}
	}
	if ev.bot {
		if kept.Bot, err = h.purge(ctx, ev, ev.tenant, purgeBot); err != nil {
			return Kept{}, err
		}
	}
	return kept, nil
}

// purgeKind is what a purge deletes.
type purgeKind int

const (
	purgeTenant purgeKind = iota // app_uninstalled: everything of the tenant
	purgeUser                    // tokens_revoked: q.UserID's installation
	purgeBot                     // tokens_revoked: the tenant's bot
)

func (k purgeKind) String() string {
	return [...]string{"tenant purged", "user installation purged", "bot purged"}[k]
}

// purge checks that the record q selects predates the event and deletes it,
// in one conditional step; see [Handler.ServeEvents]. newer reports that
// the record was installed after the event and kept.
func (h *Handler) purge(ctx context.Context, ev *event, q installstore.Query, kind purgeKind) (newer bool, err error) {
	attrs := []any{slog.String("event", ev.inner), slog.String("tenant", q.Tenant().String())}
	if q.UserID != "" {
		attrs = append(attrs, slog.String("user", q.UserID))
	}
	for range maxPurgeAttempts {
		inst, err := h.cfg.Store.FetchInstallation(ctx, q)
		switch {
		case errors.Is(err, installstore.ErrNotFound):
			return false, nil // nothing stored: already purged, or never installed
		case permanent(err):
			h.cfg.Logger.WarnContext(ctx, "oauth: events: the stored installation can never be opened; purging it without the late-event check",
				append(attrs, slog.String("error", h.scrub(err)))...)
			if err := h.deleteAlways(ctx, q, kind); err != nil {
				return false, fmt.Errorf("oauth: %s: delete unreadable records of tenant %s: %w", ev.inner, q.Tenant(), err)
			}
			h.cfg.Logger.InfoContext(ctx, "oauth: events: "+kind.String(), attrs...)
			return false, nil
		case err != nil:
			return false, fmt.Errorf("oauth: %s: fetch tenant %s: %w", ev.inner, q.Tenant(), err)
		}
		target, own := ownRecord(q, inst)
		if !own || (kind == purgeUser && inst.User.ID != q.UserID) || (kind == purgeBot && inst.Bot == nil) {
			return false, nil // another tenant's record (an org-wide fallback), or nothing of this kind
		}
		installed := inst.InstalledAt
		if kind == purgeBot && !inst.Bot.InstalledAt.IsZero() {
			installed = inst.Bot.InstalledAt
		}
		if !ev.at.After(installed.Add(h.cfg.EventClockSkew)) {
			h.cfg.Logger.InfoContext(ctx, "oauth: events: ignoring an event older than the stored installation",
				append(attrs, slog.Time("event_time", ev.at), slog.Time("installed_at", installed))...)
			return true, nil
		}
		if kind == purgeBot {
			err = h.cfg.Store.DeleteBotIf(ctx, target, inst.Version)
		} else {
			err = h.cfg.Store.DeleteInstallationIf(ctx, target, inst.Version)
		}
		switch {
		case err == nil:
			h.cfg.Logger.InfoContext(ctx, "oauth: events: "+kind.String(), attrs...)
			return false, nil
		case errors.Is(err, installstore.ErrConflict):
			continue // written meanwhile: check again what is stored now
		default:
			return false, fmt.Errorf("oauth: %s: delete tenant %s: %w", ev.inner, target.Tenant(), err)
		}
	}
	return false, fmt.Errorf("oauth: %s: tenant %s changed during %d attempts to purge it: %w", ev.inner, q.Tenant(), maxPurgeAttempts, installstore.ErrUnavailable)
}

// permanent reports whether err says a record can never be read: it does
// not open (crypto.ErrDecrypt) or does not decode (ErrCorrupt). A transient
// error is never permanent, whatever else it wraps.
func permanent(err error) bool {
	return err != nil && !errors.Is(err, installstore.ErrUnavailable) &&
		(errors.Is(err, crypto.ErrDecrypt) || errors.Is(err, installstore.ErrCorrupt))
}

// deleteAlways deletes what kind names, unconditionally.
func (h *Handler) deleteAlways(ctx context.Context, q installstore.Query, kind purgeKind) error {
	if kind == purgeBot {
		return h.cfg.Store.DeleteBot(ctx, q)
	}
	return h.cfg.Store.DeleteInstallation(ctx, q)
}

// ownRecord returns the query that addresses inst's own tenant exactly, and
// whether inst is q's to purge: q's own record, or, for a workspace of an
// enterprise, the standalone record of the same team from before a Grid
// migration. The org-wide installation a workspace falls back to is not.
func ownRecord(q installstore.Query, inst *installstore.Installation) (installstore.Query, bool) {
	switch {
	case inst.Tenant() == q.Tenant():
		return q, true
	case !q.IsEnterpriseInstall && q.EnterpriseID != "" && inst.EnterpriseID == "" && inst.TeamID == q.TeamID:
		return installstore.Query{TeamID: q.TeamID, UserID: q.UserID}, true
	default:
		return installstore.Query{}, false
	}
}

// deliver hands a verified event to Config.Next, once per event_id; kept is
// what its purge left (app_uninstalled, tokens_revoked).
func (h *Handler) deliver(w http.ResponseWriter, r *http.Request, ev *event, body []byte, kept Kept) {
	pub := &Event{Tenant: ev.tenant, ID: ev.id, Time: ev.at, Type: ev.inner, API: ev.api, Kept: kept,
		RetryReason: truncate(r.Header.Get("X-Slack-Retry-Reason"), 64)}
	if pub.Type == "" {
		pub.Type = ev.outer
	}
	if n, err := strconv.Atoi(r.Header.Get("X-Slack-Retry-Num")); err == nil && n > 0 {
		pub.RetryNum = n
	}
	next := r.Clone(withEvent(r.Context(), pub))
	next.Body = io.NopCloser(bytes.NewReader(body))
	next.ContentLength = int64(len(body))
	next.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if h.cfg.DeliverDuplicateEvents || ev.id == "" {
		h.cfg.Next.ServeHTTP(w, next)
		return
	}
	h.deliverOnce(w, next, ev)
}
