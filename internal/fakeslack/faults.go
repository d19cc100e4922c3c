package fakeslack

import (
	"net/http"
	"time"
)

// Fault is what a Web API method answers instead of its usual answer (see
// [Server.Fail]).
type Fault struct {
	// Delay is how long the method waits before answering, whatever it
	// answers (a network round trip, a slow Slack). The caller's context
	// ending stops the wait.
	Delay time.Duration
	// Status, when set, is the HTTP status answered (with a short text
	// body), as Slack's edge answers 429 or 5xx.
	Status int
	// RetryAfter, when set, is the Retry-After header sent with Status.
	RetryAfter string
	// Error, when set (and Status is not), is the Slack error code of an
	// {"ok":false,"error":Error} answer.
	Error string
}

// Fail makes every later call of the Web API method (for example
// "oauth.v2.access") answer f; nil heals it.
func (s *Server) Fail(method string, f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		delete(s.faults, method)
		return
	}
	c := *f
	s.faults[method] = &c
}

// Handle makes h answer every later call of the Web API method instead of
// the fake: for answers no model produces (a body echoing what it was
// sent, a malformed status line, a redirect). The call is still counted.
// nil restores the fake's own answer.
func (s *Server) Handle(method string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.handlers, method)
		return
	}
	s.handlers[method] = h
}

// OnCall makes fn run at the start of every later call of the Web API
// method, before the call is answered and with no lock held: fn may block
// (holding the answer back) or change the fake. nil removes it.
func (s *Server) OnCall(method string, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fn == nil {
		delete(s.hooks, method)
		return
	}
	s.hooks[method] = fn
}

// Calls returns how many times the Web API method was called, answered or
// not.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Tokens returns the token each call of the Web API method carried (the
// token form field, or the bearer), in call order.
func (s *Server) Tokens(method string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent[method]...)
}

// serveMethod runs one Web API call: it is counted, its hook runs, then
// a fault, a handler set with Handle, or the fake's own answer (own).
func (s *Server) serveMethod(w http.ResponseWriter, r *http.Request, own http.HandlerFunc) {
	method := r.PathValue("method")
	parseErr := r.ParseForm()
	s.mu.Lock()
	s.calls[method]++
	n := s.calls[method]
	s.sent[method] = append(s.sent[method], formToken(r))
	hook, fault, h := s.hooks[method], s.faults[method], s.handlers[method]
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	if fault != nil && fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case fault != nil && fault.Status != 0:
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		http.Error(w, "fakeslack: "+http.StatusText(fault.Status), fault.Status)
	case fault != nil && fault.Error != "":
		fail(w, fault.Error)
	case h != nil:
		h.ServeHTTP(w, r)
	case own == nil:
		fail(w, "unknown_method")
	case parseErr != nil:
		fail(w, "invalid_form_data")
	default:
		own(w, r.WithContext(withCall(r.Context(), n)))
	}
}
