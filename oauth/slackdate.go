package oauth

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Slack's answers carry a Date header: Slack's clock. The install time of a
// new installation is taken from the Date of its oauth.v2.access answer, so
// that the late-event check compares Slack's event_time with Slack's install
// time, whatever the app's clock says. slack-go does not expose the headers
// of an answer, so the handler's HTTP client has a transport that records
// the Date of answers to requests whose context asks for it.

type dateKey struct{}

// dateRecorder receives the Date of the answers to one request's calls.
type dateRecorder struct {
	mu   sync.Mutex
	date time.Time
}

func (d *dateRecorder) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.date = t
}

func (d *dateRecorder) get() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.date
}

// recordDate returns a context whose Slack calls record their answer's Date
// in the returned recorder.
func recordDate(ctx context.Context) (context.Context, *dateRecorder) {
	d := &dateRecorder{}
	return context.WithValue(ctx, dateKey{}, d), d
}

// dateTransport records the Date of answers, for requests that ask.
type dateTransport struct{ base http.RoundTripper }

func (t dateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if d, ok := req.Context().Value(dateKey{}).(*dateRecorder); ok {
		if at, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			d.set(at)
		}
	}
	return resp, nil
}

// withDateCapture returns a copy of c whose transport records Dates.
func withDateCapture(c *http.Client) *http.Client {
	cc := *c
	base := cc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = dateTransport{base: base}
	return &cc
}
