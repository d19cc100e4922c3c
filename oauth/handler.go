package oauth

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/installvault/installvault/installstore"
)

// Handler serves the install page, the OAuth redirect and the Events API
// endpoint. It is safe for concurrent use; create it with [New].
type Handler struct {
	cfg Config
	// client calls Slack: cfg.HTTPClient with a transport that reads the
	// Date of the answers (see slackDate).
	client *http.Client
	// noDate logs once that Slack's answers carry no Date.
	noDate *sync.Once
}

// New validates cfg, fills in its defaults and returns the handler. Every
// problem with cfg is reported in one error, wrapping
// [installstore.ErrInvalid].
func New(cfg Config) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Scopes = append([]string(nil), cfg.Scopes...)
	cfg.UserScopes = append([]string(nil), cfg.UserScopes...)
	cfg.SensitiveScopes = append([]string(nil), cfg.SensitiveScopes...)
	return &Handler{cfg: cfg, client: withDateCapture(cfg.HTTPClient), noDate: &sync.Once{}}, nil
}

// ServeHTTP routes Config.InstallPath to [Handler.ServeInstall],
// Config.RedirectPath to [Handler.ServeCallback] and Config.EventsPath to
// [Handler.ServeEvents]; any other path is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case h.cfg.InstallPath:
		h.ServeInstall(w, r)
	case h.cfg.RedirectPath:
		h.ServeCallback(w, r)
	case h.cfg.EventsPath:
		h.ServeEvents(w, r)
	default:
		http.NotFound(w, r)
	}
}

// stateCookie returns the state cookie carrying value; maxAge < 0 deletes it.
func (h *Handler) stateCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     h.cfg.CookieName,
		Value:    value,
		Path:     h.cfg.CookiePath,
		Domain:   h.cfg.CookieDomain,
		MaxAge:   maxAge,
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// scrub returns err's text with every configured secret and the given
// request values (the code, tokens) replaced by [installstore.Redacted].
// Errors this package builds hold no secret; scrub is the belt to that pair
// of braces for errors that come from slack-go, the network or the app's
// hooks.
func (h *Handler) scrub(err error, extra ...string) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, s := range append([]string{h.cfg.ClientSecret.Reveal(), h.cfg.SigningSecret.Reveal(), h.cfg.StateSecret.Reveal()}, extra...) {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, installstore.Redacted)
		}
	}
	return msg
}

// Format implements [fmt.Formatter]. fmt prints unexported fields without
// calling their methods (an [installstore.Secret] there prints as an
// address, other fields as they are), so a Handler prints as its routes
// only, in every verb.
func (h Handler) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "oauth.Handler{install:%q redirect:%q events:%q}", h.cfg.InstallPath, h.cfg.RedirectPath, h.cfg.EventsPath)
}
