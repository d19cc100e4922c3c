package crypto

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// The error-code table, code by code (the end-to-end paths through the real
// client are in classes_test.go).
func TestKMSErrorClasses(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, c := range []struct {
		err       error
		permanent bool
	}{
		{api("NotFoundException"), true},
		{api("DisabledException"), true},
		{api("KMSInvalidStateException"), true},
		{api("InvalidCiphertextException"), true},
		{api("IncorrectKeyException"), true},
		{api("AccessDeniedException"), false},
		{api("ThrottlingException"), false},
		{api("DependencyTimeoutException"), false},
		{api("KMSInternalException"), false},
		{api("LimitExceededException"), false},
		{api("KeyUnavailableException"), false},
		{api("SomethingNewException"), false},
		{&retry.MaxAttemptsError{Attempt: 3, Err: api("ThrottlingException")}, false},
		{&smithyhttp.RequestSendError{Err: errors.New("connection refused")}, false},
		{fmt.Errorf("op: %w", context.DeadlineExceeded), false},
		{context.Canceled, false},
	} {
		err := kmsError("Decrypt", "arn:k", fmt.Errorf("operation error KMS: Decrypt: %w", c.err))
		require.Equal(t, c.permanent, errors.Is(err, ErrDecrypt), "%v", c.err)
		require.Equal(t, !c.permanent, errors.Is(err, installstore.ErrUnavailable), "%v", c.err)
		gen := kmsError("GenerateDataKey", "arn:k", c.err)
		require.False(t, errors.Is(gen, ErrDecrypt), "%v", c.err)
		require.Equal(t, !c.permanent, errors.Is(gen, installstore.ErrUnavailable), "%v", c.err)
	}
}
