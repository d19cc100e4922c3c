package oauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ServeInstall starts an install: it issues a state, records its nonce in
// the nonce store, sets the state cookie, and shows the "Add to Slack" page
// (or, with Config.DirectInstall, redirects to Slack). GET and HEAD only.
func (h *Handler) ServeInstall(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := h.cfg.Now()
	st, err := newState(now)
	if err != nil {
		h.fail(w, r, &Failure{Status: http.StatusInternalServerError, Reason: ReasonNonceStore,
			Message: "The installation could not be started. Please try again.", Err: fmt.Errorf("oauth: install: random nonce: %w", err)})
		return
	}
	if err := h.cfg.NonceStore.PutNonce(r.Context(), st.nonceKey(), st.issuedAt.Add(h.cfg.StateTTL)); err != nil {
		h.fail(w, r, &Failure{Status: http.StatusInternalServerError, Reason: ReasonNonceStore,
			Message: "The installation could not be started. Please try again.", Err: fmt.Errorf("oauth: install: put state nonce: %w", err)})
		return
	}
	encoded := st.encode([]byte(h.cfg.StateSecret.Reveal()))
	http.SetCookie(w, h.stateCookie(encoded, int(h.cfg.StateTTL/time.Second)))
	target := h.authorizeURL(encoded)
	pageHeaders(w)
	if h.cfg.DirectInstall {
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	h.cfg.RenderInstall(w, r, target)
}

// authorizeURL is Slack's authorize page with this app's parameters.
func (h *Handler) authorizeURL(state string) string {
	u, _ := url.Parse(h.cfg.AuthorizeURL) // validated by New
	q := u.Query()
	q.Set("client_id", h.cfg.ClientID)
	if len(h.cfg.Scopes) > 0 {
		q.Set("scope", strings.Join(h.cfg.Scopes, ","))
	}
	if len(h.cfg.UserScopes) > 0 {
		q.Set("user_scope", strings.Join(h.cfg.UserScopes, ","))
	}
	q.Set("redirect_uri", h.cfg.RedirectURL)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}
