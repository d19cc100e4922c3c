package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// The error classes, as a table: what is transient says ErrUnavailable
// (both this package's and installstore's), what is permanent or the
// caller's own cancellation does not.
func TestErrorClasses(t *testing.T) {
	status := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("answer")}
	}
	conflict := &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
		{Code: aws.String("None")}, {Code: aws.String("TransactionConflict")},
	}}
	condition := &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
		{Code: aws.String("ConditionalCheckFailed")},
	}}
	live := context.Background()
	canceled, cancel := context.WithCancel(live)
	cancel()
	for _, c := range []struct {
		name      string
		ctx       context.Context
		err       error
		transient bool
	}{
		{"throttled", live, &types.ProvisionedThroughputExceededException{}, true},
		{"request limit", live, &types.RequestLimitExceeded{}, true},
		{"max attempts", live, &retry.MaxAttemptsError{Attempt: 3, Err: errors.New("x")}, true},
		{"retry quota", live, fmt.Errorf("failed to get rate limit token, %w", ratelimit.QuotaExceededError{}), true},
		{"500", live, status(500), true},
		{"503", live, status(503), true},
		{"connection refused", live, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"http client timeout", live, fmt.Errorf("request: %w", context.DeadlineExceeded), true},
		{"transaction conflict", live, conflict, true},
		{"internal server error", live, &types.InternalServerError{}, true},
		{"condition failed", live, condition, false},
		{"validation", live, &smithy.GenericAPIError{Code: "ValidationException"}, false},
		{"no table", live, &types.ResourceNotFoundException{}, false},
		{"400", live, status(400), false},
		{"caller canceled", canceled, fmt.Errorf("op: %w", context.Canceled), false},
		{"caller canceled, transport error", canceled, &net.OpError{Op: "read", Err: errors.New("closed")}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := wrap(c.ctx, "fetch", installstore.Tenant{TeamID: "T1"}, c.err)
			require.Equal(t, c.transient, errors.Is(err, ErrUnavailable), "%v", err)
			require.Equal(t, c.transient, errors.Is(err, installstore.ErrUnavailable))
			require.ErrorIs(t, err, c.err, "the SDK's error stays reachable")
			require.ErrorContains(t, err, "fetch tenant T1")
			if c.ctx.Err() != nil {
				require.ErrorIs(t, err, context.Canceled)
			}
			require.False(t, errors.Is(err, installstore.ErrCorrupt))
		})
	}
	require.ErrorIs(t, ErrMalformedItem, installstore.ErrCorrupt)
	require.False(t, errors.Is(ErrMalformedItem, installstore.ErrUnavailable))
}
