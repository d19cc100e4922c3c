package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/installvault/installvault/installstore"
)

// storeTimeout bounds the store write after a successful exchange; the
// write is detached from the browser's request so that a closed tab does not
// lose the tokens Slack just issued.
const storeTimeout = 30 * time.Second

const cookieMissingMessage = "Your browser did not send back the cookie set when this installation started, " +
	"so this request cannot be tied to you. This usually means a configuration problem: " +
	"the install page and the redirect URL must be served over HTTPS on the same site (the cookie is Secure), " +
	"and the cookie's domain and path must cover the redirect URL (behind a proxy or across subdomains, set CookieDomain and CookiePath). " +
	"Start the installation again from the install page, in this browser."

// ServeCallback is the OAuth redirect: it checks the state against the
// cookie and the nonce store, exchanges the code with oauth.v2.access,
// lets Config.AuthorizeInstaller decide, stores the installation and shows
// the success page. Every failure shows the failure page; failures before
// the exchange never call Slack, and no failure stores anything.
func (h *Handler) ServeCallback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Whatever happens next, this browser's state is spent.
	http.SetCookie(w, h.stateCookie("", -1))
	q := r.URL.Query()
	raw := q.Get("state")
	key := []byte(h.cfg.StateSecret.Reveal())
	now := h.cfg.Now()

	if slackErr := q.Get("error"); slackErr != "" {
		// Retire the state, best effort, but only for the browser it belongs to.
		if c, err := r.Cookie(h.cfg.CookieName); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(raw)) == 1 {
			if st, err := decodeState(raw, key, now, h.cfg.StateTTL); err == nil {
				_ = h.cfg.NonceStore.ConsumeNonce(r.Context(), st.nonceKey())
			}
		}
		if slackErr == "access_denied" {
			h.fail(w, r, &Failure{Status: http.StatusForbidden, Reason: ReasonAccessDenied,
				Message: "The installation was cancelled on Slack's page, so the app was not installed."})
			return
		}
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonSlackError,
			Message: "Slack reported an error, so the app was not installed. Please try again.",
			Err:     fmt.Errorf("oauth: callback: slack returned error %q", truncate(slackErr, 64))})
		return
	}
	if raw == "" {
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateMissing,
			Message: "This link has no state parameter. Start the installation again from the install page."})
		return
	}
	cookie, err := r.Cookie(h.cfg.CookieName)
	if err != nil || cookie.Value == "" {
		h.cfg.Logger.WarnContext(r.Context(), "oauth: state cookie missing on the OAuth redirect: check that the install page and the redirect URL share a site served over https, and that CookieDomain/CookiePath cover the redirect path",
			slog.String("cookie_name", h.cfg.CookieName), slog.String("cookie_domain", h.cfg.CookieDomain),
			slog.String("cookie_path", h.cfg.CookiePath), slog.String("host", r.Host),
			slog.Bool("tls", r.TLS != nil), slog.String("x_forwarded_proto", truncate(r.Header.Get("X-Forwarded-Proto"), 16)))
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonCookieMissing, Message: cookieMissingMessage})
		return
	}
	st, err := decodeState(raw, key, now, h.cfg.StateTTL)
	switch {
	case errors.Is(err, errStateExpired):
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateExpired,
			Message: "This installation link has expired. Start the installation again from the install page.", Err: err})
		return
	case err != nil:
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateInvalid,
			Message: "This installation link is not valid. Start the installation again from the install page.", Err: err})
		return
	}
	if subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(raw)) != 1 {
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateMismatch,
			Message: "This installation was started in another browser or tab. Start it again from the install page, in this browser."})
		return
	}
	code := q.Get("code")
	if code == "" {
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonCodeMissing,
			Message: "Slack's answer has no authorization code. Start the installation again from the install page."})
		return
	}
	if err := h.cfg.NonceStore.ConsumeNonce(r.Context(), st.nonceKey()); err != nil {
		if errors.Is(err, installstore.ErrNotFound) {
			h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateUsed,
				Message: "This installation link was already used or has expired. Start the installation again from the install page.", Err: err})
			return
		}
		h.fail(w, r, &Failure{Status: http.StatusInternalServerError, Reason: ReasonNonceStore,
			Message: "The installation could not be completed. Please try again.", Err: fmt.Errorf("oauth: callback: consume state nonce: %w", err)})
		return
	}
	h.complete(w, r, code, now)
}

// complete exchanges code and stores the installation.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, code string, now time.Time) {
	inst, err := h.exchange(r.Context(), code, now)
	if err != nil {
		h.fail(w, r, &Failure{Status: http.StatusBadGateway, Reason: ReasonExchangeFailed,
			Message: "Slack did not complete the installation. Please try again.", Err: err})
		return
	}
	tenant := slog.String("tenant", inst.Tenant().String())
	if h.cfg.AuthorizeInstaller != nil {
		if err := h.cfg.AuthorizeInstaller(r.Context(), inst); err != nil {
			h.fail(w, r, &Failure{Status: http.StatusForbidden, Reason: ReasonInstallerRejected,
				Message: "You are not allowed to install this app. Ask an administrator of your workspace.",
				Err:     fmt.Errorf("oauth: callback: tenant %s user %s: installer rejected: %s", inst.Tenant(), inst.User.ID, h.scrub(err, code))})
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
	defer cancel()
	if err := h.cfg.Store.StoreInstallation(ctx, inst); err != nil {
		h.fail(w, r, &Failure{Status: http.StatusInternalServerError, Reason: ReasonStoreFailed,
			Message: "The installation could not be saved. Please try again.",
			Err:     &scrubbedError{msg: fmt.Sprintf("oauth: callback: store tenant %s: %s", inst.Tenant(), h.scrub(err, code)), err: err}})
		return
	}
	h.cfg.Logger.InfoContext(r.Context(), "oauth: installed", tenant, slog.String("user", inst.User.ID),
		slog.String("app", inst.AppID), slog.Bool("enterprise_install", inst.IsEnterpriseInstall),
		slog.Bool("bot", inst.Bot != nil), slog.Bool("user_token", !inst.User.Token.IsZero()))
	pageHeaders(w)
	h.cfg.RenderSuccess(w, r, inst)
}

// fail logs f and renders the failure page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, f *Failure) {
	level := slog.LevelWarn
	if f.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("reason", string(f.Reason)), slog.Int("status", f.Status)}
	if f.Err != nil {
		attrs = append(attrs, slog.String("error", h.scrub(f.Err, r.URL.Query().Get("code"))))
	}
	h.cfg.Logger.LogAttrs(r.Context(), level, "oauth: install failed", attrs...)
	pageHeaders(w)
	h.cfg.RenderFailure(w, r, f)
}

// scrubbedError keeps the chain of an error whose text was scrubbed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
