package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/installstore"
)

// knownCodes are the Slack error codes an error or log may name, and whether
// each is transient (Slack itself is unavailable: worth retrying later). Any
// other text Slack sends is replaced by "an unrecognized error": an endpoint
// answering {"ok":false,"error":"<the refresh token>"} must not put the
// token into an error or a log.
var knownCodes = map[string]bool{
	// oauth.v2.access
	"invalid_refresh_token": false, "invalid_grant": false, "invalid_client_id": false,
	"bad_client_secret": false, "invalid_client": false, "invalid_grant_type": false,
	"unsupported_grant_type": false, "invalid_code": false, "code_already_used": false,
	"bad_redirect_uri": false, "oauth_authorization_url_mismatch": false,
	"preview_feature_not_available": false, "cannot_install_an_org_installed_app": false,
	"invalid_team_for_non_distributed_app": false, "team_added_to_org": false,
	"token_rotation_not_enabled": false,
	// common to every method
	"token_expired": false, "token_revoked": false, "invalid_auth": false, "not_authed": false,
	"account_inactive": false, "access_denied": false, "no_permission": false,
	"missing_scope": false, "ekm_access_denied": false, "enterprise_is_restricted": false,
	"two_factor_setup_required": false, "team_access_not_granted": false,
	"invalid_arguments": false, "invalid_arg_name": false, "invalid_array_arg": false,
	"invalid_charset": false, "invalid_form_data": false, "invalid_post_type": false,
	"missing_post_type": false, "team_not_found": false, "method_deprecated": false,
	"deprecated_endpoint": false, "accesslimited": false,
	"ratelimited": true, "request_timeout": true, "fatal_error": true,
	"internal_error": true, "service_unavailable": true,
}

// maxRetryAfter caps the failure backoff a Retry-After may ask for.
const maxRetryAfter = 15 * time.Minute

// slackFailure is what a failed oauth.v2.access call may say: a fixed text
// built from known values only (a known error code, an HTTP status code, a
// kind of network failure), never text Slack or the network sent.
type slackFailure struct {
	msg        string
	code       string        // a known Slack error code, or ""
	transient  bool          // Slack or the network is unavailable
	retryAfter time.Duration // Slack's Retry-After, capped
	ctxErr     error         // context.DeadlineExceeded or Canceled, when one matches
}

// classify turns a slack-go error into a slackFailure.
func classify(err error) slackFailure {
	var (
		rl  *slack.RateLimitedError
		sc  slack.StatusCodeError
		se  slack.SlackErrorResponse
		pse *slack.SlackErrorResponse
		ne  net.Error
		dns *net.DNSError
		num *strconv.NumError
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &rl):
		after := min(max(rl.RetryAfter, 0), maxRetryAfter)
		return slackFailure{msg: "rate limited (HTTP 429), retry after " + after.String(), transient: true, retryAfter: after}
	case errors.As(err, &sc):
		code := sc.Code
		return slackFailure{msg: fmt.Sprintf("HTTP status %d %s", code, http.StatusText(code)),
			transient: code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout}
	case errors.As(err, &se):
		return codeFailure(se.Err)
	case errors.As(err, &pse) && pse != nil:
		return codeFailure(pse.Err)
	case errors.Is(err, context.DeadlineExceeded):
		return slackFailure{msg: "timed out", transient: true, ctxErr: context.DeadlineExceeded}
	case errors.Is(err, context.Canceled):
		return slackFailure{msg: "canceled", transient: true, ctxErr: context.Canceled}
	case errors.As(err, &num):
		return slackFailure{msg: "rate limited with a malformed Retry-After", transient: true}
	case errors.As(err, &syn), errors.As(err, &typ), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return slackFailure{msg: "malformed answer", transient: true}
	case errors.As(err, &dns):
		return slackFailure{msg: "DNS lookup failed", transient: true}
	case errors.As(err, &ne) && ne.Timeout():
		return slackFailure{msg: "timed out", transient: true}
	case errors.Is(err, syscall.ECONNREFUSED):
		return slackFailure{msg: "connection refused", transient: true}
	case errors.Is(err, syscall.ECONNRESET):
		return slackFailure{msg: "connection reset", transient: true}
	case errors.As(err, &ne):
		return slackFailure{msg: "connection failed", transient: true}
	}
	return slackFailure{msg: "unrecognized failure"}
}

// codeFailure keeps code only if it is a known Slack error code.
func codeFailure(code string) slackFailure {
	transient, known := knownCodes[code]
	if !known {
		return slackFailure{msg: "Slack answered an unrecognized error"}
	}
	return slackFailure{msg: "Slack answered " + code, code: code, transient: transient}
}

// err builds the refresh error: ErrRefreshFailed, and installstore.ErrUnavailable
// (and the context error) when transient.
func (f slackFailure) err() error {
	switch {
	case f.code == codeInvalidRefreshToken || f.code == codeInvalidGrant:
		return reinstall(f.msg)
	case f.ctxErr != nil:
		return fmt.Errorf("%w: %w: oauth.v2.access: %s: %w", ErrRefreshFailed, installstore.ErrUnavailable, f.msg, f.ctxErr)
	case f.transient:
		return fmt.Errorf("%w: %w: oauth.v2.access: %s", ErrRefreshFailed, installstore.ErrUnavailable, f.msg)
	}
	return fmt.Errorf("%w: oauth.v2.access: %s", ErrRefreshFailed, f.msg)
}
