package kmstest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// KMS error types the server returns (the "__type" of the error body).
const (
	errNotFound          = "NotFoundException"
	errDisabled          = "DisabledException"
	errInvalidState      = "KMSInvalidStateException"
	errInvalidCiphertext = "InvalidCiphertextException"
	errIncorrectKey      = "IncorrectKeyException"
	errAlreadyExists     = "AlreadyExistsException"
	errValidation        = "ValidationException"
	errThrottling        = "ThrottlingException"
	errUnknownOperation  = "UnknownOperationException"
	errSerialization     = "SerializationException"
	errMissingAuth       = "MissingAuthenticationTokenException"
)

// apiError is a KMS error response.
type apiError struct {
	Type    string
	Message string
	Status  int // HTTP status; 0 means 400
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func apiErrorf(typ, format string, args ...any) *apiError {
	return &apiError{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// writeError answers with KMS's JSON error shape and status 400.
func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", contentType)
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Type, e.Message})
}
