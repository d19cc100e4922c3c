package oauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
)

// ServeInstall starts an install: Config.BeforeInstall chooses the
// options, a signed state carrying them is issued and set in the state
// cookie, Config.BeforeRedirect runs, and the "Add to Slack" page is shown
// (or, with Config.DirectInstall, the browser is redirected to Slack). It
// writes nothing to the store: an anonymous visitor costs a signature, not a
// stored item. GET and HEAD only.
func (h *Handler) ServeInstall(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var opts InstallOptions
	if h.cfg.BeforeInstall != nil && !h.cfg.BeforeInstall(w, r, &opts) {
		return
	}
	if err := h.checkOptions(&opts); err != nil {
		h.fail(w, r, &Failure{Status: http.StatusInternalServerError, Reason: ReasonInstallOptions,
			Message: messageCannotStart, Err: fmt.Errorf("oauth: install: BeforeInstall chose options that cannot be used: %w", err)})
		return
	}
	st, err := newState(h.cfg.Now(), h.cfg.StateTTL, opts)
	if err != nil {
		h.fail(w, r, &Failure{Status: http.StatusInternalServerError, Reason: ReasonInstallOptions,
			Message: messageCannotStart, Err: fmt.Errorf("oauth: install: random nonce: %w", err)})
		return
	}
	encoded, err := st.encode([]byte(h.cfg.StateSecret.Reveal()))
	if err != nil {
		h.fail(w, r, &Failure{Status: http.StatusInternalServerError, Reason: ReasonInstallOptions,
			Message: messageCannotStart, Err: fmt.Errorf("oauth: install: %w", err)})
		return
	}
	http.SetCookie(w, h.stateCookie(encoded, int(h.cfg.StateTTL/time.Second)))
	target := h.authorizeURL(encoded, &opts)
	if h.cfg.BeforeRedirect != nil && !h.cfg.BeforeRedirect(w, r, target, &opts) {
		return
	}
	pageHeaders(w)
	if h.cfg.DirectInstall {
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	h.cfg.RenderInstall(w, r, target)
}

// checkOptions validates the options BeforeInstall chose.
func (h *Handler) checkOptions(o *InstallOptions) error {
	scopes, userScopes := h.scopes(o)
	if len(scopes) == 0 && len(userScopes) == 0 {
		return fmt.Errorf("%w: no scope and no user scope requested", installstore.ErrInvalid)
	}
	for _, s := range append(append([]string(nil), scopes...), userScopes...) {
		if !validScope(s) {
			return fmt.Errorf("%w: scope %q is empty or has a separator", installstore.ErrInvalid, s)
		}
	}
	if o.Team != "" {
		if err := (installstore.Query{TeamID: o.Team}).Validate(); err != nil {
			return fmt.Errorf("team to pre-select: %w", err)
		}
	}
	if len(o.Metadata) > MaxMetadataBytes {
		return fmt.Errorf("%w: Metadata has %d bytes; at most %d", installstore.ErrInvalid, len(o.Metadata), MaxMetadataBytes)
	}
	return nil
}

// scopes returns the bot and user scopes an install with o requests.
func (h *Handler) scopes(o *InstallOptions) (scopes, userScopes []string) {
	scopes, userScopes = h.cfg.Scopes, h.cfg.UserScopes
	if o.Scopes != nil {
		scopes = o.Scopes
	}
	if o.UserScopes != nil {
		userScopes = o.UserScopes
	}
	return scopes, userScopes
}

// authorizeURL is Slack's authorize page with this app's parameters.
func (h *Handler) authorizeURL(state string, o *InstallOptions) string {
	u, _ := url.Parse(h.cfg.AuthorizeURL) // validated by New
	q := u.Query()
	q.Set("client_id", h.cfg.ClientID)
	scopes, userScopes := h.scopes(o)
	if len(scopes) > 0 {
		q.Set("scope", strings.Join(scopes, ","))
	}
	if len(userScopes) > 0 {
		q.Set("user_scope", strings.Join(userScopes, ","))
	}
	if o.Team != "" {
		q.Set("team", o.Team)
	}
	q.Set("redirect_uri", h.cfg.RedirectURL)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}
