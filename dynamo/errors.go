package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/installstore"
)

// ErrUnavailable is wrapped (next to the SDK's own typed error, such as
// *types.ProvisionedThroughputExceededException) by errors of requests that
// still failed with throttling or a transient error after the client's
// retryer gave up. Nothing was written by the failed operation.
var ErrUnavailable = errors.New("dynamodb unavailable after retries")

// wrap wraps an SDK error with the operation and tenant. Throttling and
// transient errors also wrap [ErrUnavailable].
func wrap(op string, t installstore.Tenant, err error) error {
	if isTransient(err) {
		return fmt.Errorf("dynamo: %s tenant %s: %w: %w", op, t, ErrUnavailable, err)
	}
	return fmt.Errorf("dynamo: %s tenant %s: %w", op, t, err)
}

// wrapKey is wrap for nonce and lease operations, which have no tenant.
func wrapKey(op string, err error) error {
	if isTransient(err) {
		return fmt.Errorf("dynamo: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("dynamo: %s: %w", op, err)
}

var (
	throttles  = retry.IsErrorThrottles(retry.DefaultThrottles)
	retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
)

func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var maxErr *retry.MaxAttemptsError
	return errors.As(err, &maxErr) ||
		throttles.IsErrorThrottle(err) == aws.TrueTernary ||
		retryables.IsErrorRetryable(err) == aws.TrueTernary ||
		isTxConflict(err)
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
