package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/installvault/installvault/installstore"
)

// classed is a sentinel of this package that belongs to one of
// installstore's error classes.
type classed struct {
	msg   string
	class error
}

func (e *classed) Error() string { return e.msg }
func (e *classed) Unwrap() error { return e.class }

// ErrUnavailable is wrapped (next to the SDK's own typed error, such as
// *types.ProvisionedThroughputExceededException) by errors of requests that
// still failed transiently after the client's retryer gave up: throttling,
// timeouts, connection errors, 5xx answers, exhausted retry attempts or
// quota, and transaction conflicts. It wraps [installstore.ErrUnavailable],
// so errors.Is(err, installstore.ErrUnavailable) holds for all of them.
// The failed request wrote nothing; the same call may succeed later. The
// caller's own context cancellation or deadline is never ErrUnavailable.
var ErrUnavailable error = &classed{"dynamodb unavailable after retries", installstore.ErrUnavailable}

// wrap wraps an SDK error with the operation and tenant. Transient errors
// also wrap [ErrUnavailable]; the caller's cancellation never does.
func wrap(ctx context.Context, op string, t installstore.Tenant, err error) error {
	return wrapKey(ctx, fmt.Sprintf("%s tenant %s", op, t), err)
}

// wrapKey is wrap for operations that name no tenant (nonces, leases,
// tables, listings).
func wrapKey(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("dynamo: %s: %w", op, err)
		}
		return fmt.Errorf("dynamo: %s: %w: %w", op, cerr, err)
	}
	if isTransient(err) {
		return fmt.Errorf("dynamo: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("dynamo: %s: %w", op, err)
}

var (
	throttles  = retry.IsErrorThrottles(retry.DefaultThrottles)
	retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
)

// isTransient reports whether err, from a request whose context is still
// live, is a failure that may pass: the classes the SDK's retryer retries,
// plus what it gives up with.
func isTransient(err error) bool {
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var (
		maxErr   *retry.MaxAttemptsError
		quotaErr ratelimit.QuotaExceededError
		respErr  *smithyhttp.ResponseError
		apiErr   smithy.APIError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &maxErr), errors.As(err, &quotaErr):
		return true
	case throttles.IsErrorThrottle(err) == aws.TrueTernary,
		retryables.IsErrorRetryable(err) == aws.TrueTernary,
		isTxConflict(err):
		return true
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500:
		return true
	case errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultServer:
		return true // InternalServerError and the like
	case errors.As(err, &netErr):
		return true // a timeout or lost connection below the SDK
	case errors.Is(err, context.DeadlineExceeded):
		return true // the HTTP client's timeout; the caller's context is live
	}
	return false
}

// Cancellation reason codes of TransactionCanceledException.
const (
	reasonCondition = "ConditionalCheckFailed"
	reasonConflict  = "TransactionConflict"
)

// isTxConflict reports whether err is a transaction conflict with another
// in-flight transaction, which is safe to retry as is.
func isTxConflict(err error) bool {
	var tce *types.TransactionConflictException
	if errors.As(err, &tce) {
		return true
	}
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	conflict := false
	for _, r := range tc.CancellationReasons {
		switch aws.ToString(r.Code) {
		case reasonConflict:
			conflict = true
		case "", "None":
		default:
			return false
		}
	}
	return conflict
}

// cancellation returns the cancellation reasons of a transaction cancelled
// by a failed condition (possibly alongside conflicts with other
// transactions, but no other cause), or nil.
func cancellation(err error) []types.CancellationReason {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return nil
	}
	failed := false
	for _, r := range tc.CancellationReasons {
		switch aws.ToString(r.Code) {
		case reasonCondition:
			failed = true
		case "", "None", reasonConflict:
		default:
			return nil
		}
	}
	if !failed {
		return nil
	}
	return tc.CancellationReasons
}

func failedReason(r types.CancellationReason) bool { return aws.ToString(r.Code) == reasonCondition }

// conditionFailed returns the old item (nil when absent) of a single-item
// write whose condition failed, and whether that was the error.
func conditionFailed(err error) (map[string]av, bool) {
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return cf.Item, true
	}
	return nil, false
}

// retryConflicts makes the operation's retryer also retry transaction
// conflicts with other in-flight transactions, with the retryer's backoff.
func retryConflicts(o *dynamodb.Options) {
	if o.Retryer != nil {
		o.Retryer = conflictRetryer{asV2(o.Retryer)}
	}
}

type conflictRetryer struct{ aws.RetryerV2 }

func (r conflictRetryer) IsErrorRetryable(err error) bool {
	return isTxConflict(err) || r.RetryerV2.IsErrorRetryable(err)
}

func asV2(r aws.Retryer) aws.RetryerV2 {
	if v2, ok := r.(aws.RetryerV2); ok {
		return v2
	}
	return v1Retryer{r}
}

type v1Retryer struct{ aws.Retryer }

func (r v1Retryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}
