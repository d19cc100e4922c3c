package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
)

// storeTimeout bounds the store calls after a successful exchange; they
// are detached from the browser's request so that a closed tab does not
// lose the tokens Slack just issued, nor leave them live unheld.
const storeTimeout = 30 * time.Second

// Messages shown to the person installing. They say what happened and what
// to do, in their words; the why for developers goes to the log.
const (
	messageCannotStart  = "The installation could not be started. Please try again in a moment."
	messageStartAgain   = "Please start the installation again from the app's install page."
	messageTryAgain     = "We could not finish the installation just now, because a service we depend on did not answer. Nothing was changed. Please reload this page in a minute to try again."
	messageStartAgainIn = "Something went wrong on our side and the app was not installed. Nothing was changed. Please start the installation again from the app's install page in a minute."
	messageAskAdmin     = "Only an admin or owner of your workspace can install this app with the permissions it asks for, so it was not installed. Please ask one of them to install it."
	messageCheckFailed  = "We could not confirm that you may install this app with the permissions it asks for, so it was not installed. Please try again in a minute, or ask an admin or owner of your workspace to install it."
)

// ServeCallback is the OAuth redirect: it checks the state's signature and
// expiry and that the browser's cookie repeats it, makes the state single
// use (PutNonce of its nonce's hash until the state's expiry: a second use
// finds it), exchanges the code with oauth.v2.access (InstalledAt is the
// Date of Slack's answer), enforces Config.SensitiveScopes and
// Config.AuthorizeInstaller, stores the installation, calls
// Config.AfterInstall and shows the success page.
//
// Every failure shows the failure page, speaking to the person installing;
// details for developers go to the log. Failures before the exchange never
// call Slack, and no failure stores anything:
//
//   - the nonce store unavailable ([installstore.ErrUnavailable], or any
//     other error): 503 "reload to try again", the cookie kept, nothing
//     written and Slack not called, so a reload can complete the install;
//   - a rejected installer (SensitiveScopes, AuthorizeInstaller) or a
//     store that cannot save the installation: nothing is stored, and the
//     install is undone at Slack: apps.uninstall for a tenant the app was
//     not installed in (falling back to auth.revoke of the new tokens); for
//     a tenant already installed, only a new user token of a user with no
//     stored installation is revoked, never what an existing installation
//     holds (a re-install returns the same bot); when the store cannot say,
//     nothing, and an error is logged. The page says 403 "ask an admin", or
//     503/500 "start again".
//
// A reload of the callback after a success (the cookie then says
// "completed") shows an "already installed" page with status 200.
func (h *Handler) ServeCallback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	raw := q.Get("state")
	key := []byte(h.cfg.StateSecret.Reveal())
	now := h.cfg.Now()
	cookie, cerr := r.Cookie(h.cfg.CookieName)
	hasCookie := cerr == nil && cookie.Value != ""

	if slackErr := q.Get("error"); slackErr != "" {
		h.clearCookie(w)
		if slackErr == "access_denied" {
			h.fail(w, r, &Failure{Status: http.StatusForbidden, Reason: ReasonAccessDenied,
				Message: "The installation was cancelled on Slack's page, so the app was not installed."})
			return
		}
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonSlackError,
			Message: "Slack could not complete the installation, so the app was not installed. " + messageStartAgain,
			Err:     fmt.Errorf("oauth: callback: slack returned error %q", truncate(slackErr, 64))})
		return
	}
	if raw == "" {
		h.clearCookie(w)
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateMissing,
			Message: "This page was opened without the details Slack sends back. " + messageStartAgain,
			Err:     errors.New("oauth: callback: no state parameter")})
		return
	}
	if !hasCookie {
		h.cfg.Logger.WarnContext(r.Context(), "oauth: state cookie missing on the OAuth redirect: check that the install page and the redirect URL "+
			"share a site served over https (the cookie is Secure), and that CookieDomain/CookiePath cover the redirect path (behind a proxy or across subdomains)",
			slog.String("cookie_name", h.cfg.CookieName), slog.String("cookie_domain", h.cfg.CookieDomain),
			slog.String("cookie_path", h.cfg.CookiePath), slog.String("host", r.Host),
			slog.Bool("tls", r.TLS != nil), slog.String("x_forwarded_proto", truncate(r.Header.Get("X-Forwarded-Proto"), 16)))
		h.clearCookie(w)
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonCookieMissing,
			Message: "We could not match this page with the browser that started the installation. " +
				"Please start the installation again from the app's install page, in this browser."})
		return
	}
	st, err := decodeState(raw, key, now)
	if err == nil && strings.HasPrefix(cookie.Value, completedPrefix) &&
		subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(completedCookie(key, st))) == 1 {
		h.fail(w, r, &Failure{Status: http.StatusOK, Reason: ReasonAlreadyCompleted,
			Message: "The app is already installed: this installation was completed. You can close this page."})
		return
	}
	switch {
	case errors.Is(err, errStateExpired):
		h.clearCookie(w)
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateExpired,
			Message: "This installation took too long and has expired. " + messageStartAgain, Err: err})
		return
	case err != nil:
		h.clearCookie(w)
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateInvalid,
			Message: "This installation link is not valid. " + messageStartAgain, Err: err})
		return
	}
	if subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(raw)) != 1 {
		h.clearCookie(w)
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateMismatch,
			Message: "This installation was started in another browser or tab. Please start it again from the app's install page, in this browser.",
			Err:     errors.New("oauth: callback: the state cookie holds another state")})
		return
	}
	code := q.Get("code")
	if code == "" {
		h.clearCookie(w)
		h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonCodeMissing,
			Message: "Slack's answer was incomplete, so the app was not installed. " + messageStartAgain,
			Err:     errors.New("oauth: callback: no code")})
		return
	}
	if err := h.cfg.Store.PutNonce(r.Context(), st.nonceKey(), st.expiresAt); err != nil {
		if errors.Is(err, installstore.ErrConflict) {
			h.clearCookie(w)
			h.fail(w, r, &Failure{Status: http.StatusBadRequest, Reason: ReasonStateUsed,
				Message: "This installation link was already used. If the app is not installed yet, please start the installation again from the app's install page.",
				Err:     fmt.Errorf("oauth: callback: state nonce already put (a replay or a double submit): %w", err)})
			return
		}
		// The cookie stays and nothing was written: a reload retries.
		h.fail(w, r, &Failure{Status: http.StatusServiceUnavailable, Reason: ReasonUnavailable,
			Message: messageTryAgain, Err: fmt.Errorf("oauth: callback: put state nonce: %w", err)})
		return
	}
	h.complete(w, r, st, code, now)
}

// complete exchanges code, checks the installer, stores the installation
// and shows the success page.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, st state, code string, now time.Time) {
	// Detached: once Slack issues tokens, they are stored or undone even
	// if the browser goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
	defer cancel()
	inst, err := h.exchange(ctx, code, now)
	if err != nil {
		var issued *exchangeError
		if errors.As(err, &issued) && inst != nil {
			err = fmt.Errorf("%w (undo: %s)", err, h.undo(ctx, inst))
		}
		h.failSpent(w, r, &Failure{Status: http.StatusBadGateway, Reason: ReasonExchangeFailed,
			Message: "Slack did not complete the installation, so the app was not installed. " + messageStartAgain, Err: err})
		return
	}
	if s := h.sensitiveGranted(inst); s != "" {
		if err := h.checkAdmin(ctx, inst); err != nil {
			f := &Failure{Status: http.StatusForbidden, Reason: ReasonInstallerRejected, Message: messageAskAdmin}
			if !errors.Is(err, errNotAdmin) {
				f.Status, f.Reason, f.Message = http.StatusBadGateway, ReasonAdminCheckFailed, messageCheckFailed
			}
			f.Err = fmt.Errorf("oauth: callback: sensitive scope %s granted: %w (undo: %s)", s, err, h.undo(ctx, inst))
			h.failSpent(w, r, f)
			return
		}
	}
	if h.cfg.AuthorizeInstaller != nil {
		if err := h.cfg.AuthorizeInstaller(ctx, inst, &st.opts); err != nil {
			undone := h.undo(ctx, inst)
			h.failSpent(w, r, &Failure{Status: http.StatusForbidden, Reason: ReasonInstallerRejected, Message: messageAskAdmin,
				Err: fmt.Errorf("oauth: callback: tenant %s user %s: installer rejected: %s (undo: %s)",
					inst.Tenant(), inst.User.ID, h.scrub(err, tokensOf(inst, code)...), undone)})
			return
		}
	}
	if err := h.cfg.Store.StoreInstallation(ctx, inst); err != nil {
		undone := h.undo(ctx, inst)
		f := &Failure{Status: http.StatusInternalServerError, Reason: ReasonStoreFailed, Message: messageStartAgainIn,
			Err: &scrubbedError{msg: fmt.Sprintf("oauth: callback: store tenant %s: %s (undo: %s)", inst.Tenant(), h.scrub(err, tokensOf(inst, code)...), undone), err: err}}
		if errors.Is(err, installstore.ErrUnavailable) {
			f.Status = http.StatusServiceUnavailable
		}
		h.failSpent(w, r, f)
		return
	}
	h.cfg.Logger.InfoContext(r.Context(), "oauth: installed", slog.String("tenant", inst.Tenant().String()), slog.String("user", inst.User.ID),
		slog.String("app", inst.AppID), slog.Bool("enterprise_install", inst.IsEnterpriseInstall),
		slog.Bool("bot", inst.Bot != nil), slog.Bool("user_token", !inst.User.Token.IsZero()),
		slog.Time("installed_at", inst.InstalledAt))
	if h.cfg.AfterInstall != nil {
		h.cfg.AfterInstall(ctx, inst, &st.opts)
	}
	key := []byte(h.cfg.StateSecret.Reveal())
	if left := int(st.expiresAt.Sub(now) / time.Second); left > 0 {
		http.SetCookie(w, h.stateCookie(completedCookie(key, st), left))
	} else {
		h.clearCookie(w)
	}
	pageHeaders(w)
	h.cfg.RenderSuccess(w, r, inst)
}

// clearCookie deletes the state cookie: the state is spent.
func (h *Handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, h.stateCookie("", -1))
}

// failSpent is fail for a state already used up: its cookie is deleted.
func (h *Handler) failSpent(w http.ResponseWriter, r *http.Request, f *Failure) {
	h.clearCookie(w)
	h.fail(w, r, f)
}

// fail logs f and renders the failure page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, f *Failure) {
	level := slog.LevelWarn
	switch {
	case f.Status >= 500:
		level = slog.LevelError
	case f.Status < 400:
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("reason", string(f.Reason)), slog.Int("status", f.Status)}
	if f.Err != nil {
		attrs = append(attrs, slog.String("error", h.scrub(f.Err, r.URL.Query().Get("code"))))
	}
	msg := "oauth: install failed"
	if f.Reason == ReasonAlreadyCompleted {
		msg = "oauth: callback loaded again after the install completed"
	}
	h.cfg.Logger.LogAttrs(r.Context(), level, msg, attrs...)
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

// tokensOf returns extra and every secret of inst, for scrub.
func tokensOf(inst *installstore.Installation, extra ...string) []string {
	_ = inst.Secrets(func(_ string, s *installstore.Secret) error {
		extra = append(extra, s.Reveal())
		return nil
	})
	return extra
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
