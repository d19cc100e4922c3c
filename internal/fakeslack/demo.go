package fakeslack

import (
	"net/http"
)

// serveChannel shows a workspace's #general: the mentions and the app's
// replies, with a form to mention the app again.
func (s *Server) serveChannel(w http.ResponseWriter, r *http.Request) {
	ws, ok := s.workspace(r.URL.Query().Get("team"))
	if !ok {
		render(w, http.StatusNotFound, errorPage, "Unknown workspace")
		return
	}
	render(w, http.StatusOK, channelPage, struct {
		Workspace
		Installed bool
		Messages  []Message
		AppURL    string
	}{ws, s.Installed(ws.ID), s.Messages(ws.ID), s.appOrigin + "/installed"})
}

// serveMention is the demo's "Mention the app" button.
func (s *Server) serveMention(w http.ResponseWriter, r *http.Request) {
	team := r.FormValue("team")
	text := r.FormValue("text")
	if text == "" {
		text = "hello"
	}
	if err := s.Mention(r.Context(), team, text); err != nil {
		s.cfg.Logger.Warn("fakeslack: demo mention failed", "team_id", team, "error", err)
		render(w, http.StatusBadGateway, errorPage, err.Error())
		return
	}
	http.Redirect(w, r, s.ChannelURL(team), http.StatusSeeOther)
}

// serveUninstall is the demo's "Uninstall" button: it returns to the app's
// page given in "return" (only on the app's origin).
func (s *Server) serveUninstall(w http.ResponseWriter, r *http.Request) {
	team := r.FormValue("team")
	if err := s.Uninstall(r.Context(), team); err != nil {
		s.cfg.Logger.Warn("fakeslack: demo uninstall failed", "team_id", team, "error", err)
		render(w, http.StatusBadGateway, errorPage, err.Error())
		return
	}
	back := r.FormValue("return")
	if !s.sameApp(back) {
		back = s.ChannelURL(team)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
