package rotation

import (
	"errors"
	"fmt"

	"github.com/installvault/installvault/installstore"
)

var (
	// ErrRefreshFailed: a token needed refreshing, the refresh failed, and
	// the current token can no longer be used (expired, or within the safety
	// margin). No token is returned with it. It is the umbrella of every
	// refresh failure; the cause keeps its class: an error that also matches
	// [installstore.ErrUnavailable] is transient (the store, KMS or Slack
	// failed; retry, or answer "try again"), one that matches
	// [ErrReinstallRequired] is not.
	ErrRefreshFailed = errors.New("token refresh failed")
	// ErrReinstallRequired: Slack rejected the refresh token
	// (invalid_refresh_token, invalid_grant) or there is none for an expired
	// token; its text says "write-back lost" when an earlier refresh's
	// answer was never stored (see the package doc). Only a new
	// installation (OAuth flow) can fix it. It never matches
	// [installstore.ErrUnavailable]. Errors that match it also match
	// [ErrRefreshFailed] when the current token is unusable.
	ErrReinstallRequired = errors.New("re-installation required: the refresh token is no longer valid")
	// ErrNoBotToken: the installation has no bot token, so there is nothing
	// to make a bot client with.
	ErrNoBotToken = errors.New("installation has no bot token")
)

// where names a record in errors and logs: tenant and, when set, user.
// IDs are validated by installstore (letters, digits, '_', '.', '-').
func where(q installstore.Query) string {
	if q.UserID != "" {
		return "tenant " + q.Tenant().String() + " user " + q.UserID
	}
	return "tenant " + q.Tenant().String()
}

// failed wraps err with ErrRefreshFailed unless it already matches it.
func failed(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if errors.Is(err, ErrRefreshFailed) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrRefreshFailed, err)
}

// repeated marks a failure already logged when it happened, returned again
// without a Slack call (dead refresh token, failure backoff): callers log
// it at debug level only, so that it does not flood the log at request rate.
type repeated struct{ error }

func (r repeated) Unwrap() error { return r.error }

// reinstall builds the error for a refresh token Slack rejected.
func reinstall(reason string) error {
	return fmt.Errorf("%w: %w (%s)", ErrRefreshFailed, ErrReinstallRequired, reason)
}
