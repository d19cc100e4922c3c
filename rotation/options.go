package rotation

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/installvault/installvault/installstore"
)

// Defaults of the options.
const (
	// DefaultRefreshBefore is how long before expiry a token is refreshed,
	// as in Slack's Python SDK.
	DefaultRefreshBefore = 2 * time.Hour
	// DefaultSafetyMargin is how close to expiry a token stops being served
	// when its refresh fails.
	DefaultSafetyMargin = time.Minute
	// DefaultLeaseTTL is how long a replica holds the refresh lease.
	DefaultLeaseTTL = 30 * time.Second
	// DefaultRunInterval is how often [Refresher.Run] asks the due index for
	// tokens entering the margin.
	DefaultRunInterval = 5 * time.Minute
	// DefaultRunConcurrency bounds the refreshes [Refresher.Run] makes at once.
	DefaultRunConcurrency = 4
	// DefaultFailureBackoff is how long a token whose refresh failed is not
	// sent to Slack again.
	DefaultFailureBackoff = 5 * time.Second
)

// Option configures a [Refresher].
type Option func(*config)

type config struct {
	clientID       string
	clientSecret   installstore.Secret
	refreshBefore  time.Duration
	safetyMargin   time.Duration
	now            func() time.Time
	clockSet       bool // WithClock: now is the caller's (else time.Now, read through hotClock on the hot path)
	apiURL         string
	leaseTTL       time.Duration
	log            *slog.Logger
	httpClient     *http.Client
	meter          metric.MeterProvider
	runInterval    time.Duration
	runConcurrency int
	failureBackoff time.Duration
}

// WithClientCredentials sets the Slack app's client ID and secret, which
// oauth.v2.access requires. Required.
func WithClientCredentials(clientID string, clientSecret installstore.Secret) Option {
	return func(c *config) { c.clientID, c.clientSecret = clientID, clientSecret }
}

// WithRefreshBefore sets how long before expiry a token is refreshed
// (default [DefaultRefreshBefore]). Slack's tokens live 12 hours.
func WithRefreshBefore(d time.Duration) Option {
	return func(c *config) { c.refreshBefore = d }
}

// WithSafetyMargin sets how close to expiry a token is treated as expired
// when its refresh fails (default [DefaultSafetyMargin], capped at the
// refresh margin): within it the call fails with [ErrRefreshFailed].
func WithSafetyMargin(d time.Duration) Option {
	return func(c *config) { c.safetyMargin = d }
}

// WithClock sets the clock that decides expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now, c.clockSet = now, true }
}

// WithSlackAPIURL sets Slack's API base URL, ending in "/api/" like
// slack-go's OptionAPIURL (default https://slack.com/api/). For tests.
func WithSlackAPIURL(url string) Option {
	return func(c *config) { c.apiURL = url }
}

// checkAPIURL refuses a Slack API base that slack-go cannot append method
// names to, at construction rather than at the first refresh.
func checkAPIURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("rotation: new: %w: WithSlackAPIURL(%q) is not an http(s) URL with a host, such as https://slack.com/api/", installstore.ErrInvalid, raw)
	case !strings.HasSuffix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("rotation: new: %w: WithSlackAPIURL(%q) must end in '/' (slack-go appends method names such as oauth.v2.access): use %q", installstore.ErrInvalid, raw, strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")+"/")
	}
	return nil
}

// WithLeaseTTL sets how long a replica holds the cross-replica refresh lease
// (default [DefaultLeaseTTL]); a crashed holder is taken over after it.
// Slack's refresh call is bounded by half of it.
func WithLeaseTTL(d time.Duration) Option {
	return func(c *config) { c.leaseTTL = d }
}

// WithLogger sets where refresh failures and lease events are logged
// (default: discarded). No secret is ever logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// WithHTTPClient sets the HTTP client for oauth.v2.access and for the
// clients [Refresher.Client] makes (default: a client with a 30s timeout).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.httpClient = hc }
}

// WithMeterProvider records refresh outcomes as OpenTelemetry metrics
// (counter "installvault.rotation.refreshes", attribute "outcome": refreshed,
// failed, reinstall_required, served_valid, rejected, lease_wait, shared,
// served_while_refreshing, write_back_retried, write_back_lost; see
// [Stats]). Default: none; [Refresher.Stats] counts regardless.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meter = mp }
}

// WithRunInterval sets how often [Refresher.Run] asks the store's due index
// (default [DefaultRunInterval]). The refreshes of one tick are spread over
// half of it.
func WithRunInterval(d time.Duration) Option {
	return func(c *config) { c.runInterval = d }
}

// WithFailureBackoff sets how long, after a refresh failed (Slack or the
// network down), calls needing that token get the failure again without a
// new oauth.v2.access call (default [DefaultFailureBackoff]; Slack's
// Retry-After when it rate-limits and asks for longer, at most 15 minutes;
// 0 retries at once). Callers whose token is still valid are served it
// meanwhile. Store and KMS failures are never remembered.
func WithFailureBackoff(d time.Duration) Option {
	return func(c *config) { c.failureBackoff = d }
}

// WithRunConcurrency bounds how many tenants [Refresher.Run] refreshes at
// once (default [DefaultRunConcurrency]).
func WithRunConcurrency(n int) Option {
	return func(c *config) { c.runConcurrency = n }
}
