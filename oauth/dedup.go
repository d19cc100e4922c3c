package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/installvault/installvault/installstore"
)

const (
	// eventLeaseTTL bounds how long one delivery holds an event: a
	// duplicate within it is told to come back later (503); after it, the
	// marker alone decides. Longer than any sensible Next (Slack waits 3
	// seconds), shorter than Slack's retry schedule (about 1 and 5 minutes).
	eventLeaseTTL = 2 * time.Minute
	// dedupTimeout bounds the de-duplication writes made after Next,
	// detached from the request.
	dedupTimeout     = 10 * time.Second
	eventNoncePrefix = "oauthevent-"
	eventLeasePrefix = "oauthevent-lease-"
)

// dedupKey names an event in the store: a hash of the app and event IDs
// (several apps may share a store; IDs are Slack's to choose).
func dedupKey(appID, eventID string) string {
	sum := sha256.Sum256([]byte("installvault/oauth/event/v1\x00" + appID + "\x00" + eventID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// deliverOnce runs Config.Next for an event not delivered before; see
// [Handler.ServeEvents].
func (h *Handler) deliverOnce(w http.ResponseWriter, r *http.Request, ev *event) {
	ctx := r.Context()
	key := dedupKey(ev.appID, ev.id)
	attrs := []any{slog.String("event_id", truncate(ev.id, 64)), slog.String("type", ev.inner), slog.String("tenant", ev.tenant.Tenant().String())}
	owner := leaseOwner()
	err := h.cfg.Store.AcquireLease(ctx, eventLeasePrefix+key, owner, eventLeaseTTL)
	switch {
	case errors.Is(err, installstore.ErrLeaseHeld):
		h.cfg.Logger.InfoContext(ctx, "oauth: events: another delivery of this event is still being processed; Slack will retry", attrs...)
		http.Error(w, "event is being processed", http.StatusServiceUnavailable)
		return
	case err != nil:
		h.cfg.Logger.ErrorContext(ctx, "oauth: events: cannot de-duplicate (lease); Slack will retry", append(attrs, slog.String("error", h.scrub(err)))...)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	detached := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), dedupTimeout)
	}
	defer func() {
		c, cancel := detached()
		defer cancel()
		if err := h.cfg.Store.ReleaseLease(c, eventLeasePrefix+key, owner); err != nil {
			h.cfg.Logger.WarnContext(c, "oauth: events: release of the event's lease failed; it expires by itself", append(attrs, slog.String("error", h.scrub(err)))...)
		}
	}()
	err = h.cfg.Store.PutNonce(ctx, eventNoncePrefix+key, h.cfg.Now().Add(EventDedupWindow))
	switch {
	case errors.Is(err, installstore.ErrConflict):
		h.cfg.Logger.DebugContext(ctx, "oauth: events: duplicate delivery acknowledged", attrs...)
		w.WriteHeader(http.StatusOK)
		return
	case err != nil:
		h.cfg.Logger.ErrorContext(ctx, "oauth: events: cannot de-duplicate (marker); Slack will retry", append(attrs, slog.String("error", h.scrub(err)))...)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	delivered := false
	defer func() {
		if delivered {
			return
		}
		// Next failed (or panicked): take the marker back, so that Slack's
		// retry is delivered again.
		c, cancel := detached()
		defer cancel()
		if err := h.cfg.Store.ConsumeNonce(c, eventNoncePrefix+key); err != nil {
			h.cfg.Logger.ErrorContext(c, "oauth: events: the app failed on this event, and its marker could not be removed: Slack's retry will be taken for a duplicate",
				append(attrs, slog.String("error", h.scrub(err)))...)
		}
	}()
	h.cfg.Next.ServeHTTP(sw, r)
	delivered = sw.status == 0 || sw.status/100 == 2
}

// leaseOwner is a random owner name for one delivery.
func leaseOwner() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "oauth-events-" + hex.EncodeToString(b)
}

// statusWriter records the status Next answers.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
