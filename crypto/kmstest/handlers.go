package kmstest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	contentType  = "application/x-amz-json-1.1"
	targetPrefix = "TrentService."
	maxBody      = 1 << 20
	symmetric    = "SYMMETRIC_DEFAULT"
)

// handler runs one operation on a decoded request body, under s.mu.
type handler func(s *Server, body []byte) (any, *apiError)

// handlerFor returns the handler of a KMS operation, or nil.
func handlerFor(op string) handler {
	switch op {
	case "CreateKey":
		return (*Server).opCreateKey
	case "CreateAlias":
		return (*Server).opCreateAlias
	case "DescribeKey":
		return (*Server).opDescribeKey
	case "EnableKey":
		return (*Server).opEnableKey
	case "DisableKey":
		return (*Server).opDisableKey
	case "RotateKeyOnDemand":
		return (*Server).opRotateKeyOnDemand
	case "GenerateDataKey":
		return (*Server).opGenerateDataKey
	case "GenerateDataKeyWithoutPlaintext":
		return (*Server).opGenerateDataKeyWithoutPlaintext
	case "Encrypt":
		return (*Server).opEncrypt
	case "Decrypt":
		return (*Server).opDecrypt
	case "ReEncrypt":
		return (*Server).opReEncrypt
	}
	return nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, apiErrorf(errUnknownOperation, "expected POST with X-Amz-Target: TrentService.<Operation>"))
		return
	}
	// Read the body first: the server notices a client gone away (its
	// context canceled) only once the body has been read.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, apiErrorf(errSerialization, "cannot read request body"))
		return
	}
	s.mu.Lock()
	s.calls[op]++
	latency := s.latency
	throttle := s.throttle > 0
	var fail *injected
	switch {
	case throttle:
		s.throttle--
		s.throttled++
	case len(s.failures) > 0:
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()

	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if throttle {
		writeError(w, apiErrorf(errThrottling, "Rate exceeded"))
		return
	}
	if fail != nil {
		writeError(w, &apiError{Type: fail.code, Message: "injected by kmstest.Server.FailNext", Status: fail.status})
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeError(w, apiErrorf(errMissingAuth, "Missing Authentication Token"))
		return
	}
	h := handlerFor(op)
	if h == nil {
		writeError(w, apiErrorf(errUnknownOperation, "operation %s is not supported by kmstest", op))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	s.mu.Lock()
	out, apiErr := h(s, body)
	s.mu.Unlock()
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_ = json.NewEncoder(w).Encode(out)
}

// decode unmarshals a request body.
func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return apiErrorf(errSerialization, "cannot decode request: %v", err)
	}
	return nil
}

// keyMetadata is KMS's KeyMetadata.
type keyMetadata struct {
	AWSAccountId          string
	KeyId                 string
	Arn                   string
	CreationDate          float64 // epoch seconds
	Enabled               bool
	Description           string
	KeyUsage              string
	KeyState              string
	Origin                string
	KeyManager            string
	KeySpec               string
	CustomerMasterKeySpec string
	EncryptionAlgorithms  []string
	MultiRegion           bool
}

func (s *Server) metadata(k *key) keyMetadata {
	state := "Enabled"
	switch {
	case k.pendingDeletion:
		state = "PendingDeletion"
	case !k.enabled:
		state = "Disabled"
	}
	return keyMetadata{
		AWSAccountId:          s.account,
		KeyId:                 k.id,
		Arn:                   k.arn,
		CreationDate:          float64(k.created.UnixMilli()) / 1000,
		Enabled:               k.enabled,
		Description:           k.description,
		KeyUsage:              "ENCRYPT_DECRYPT",
		KeyState:              state,
		Origin:                "AWS_KMS",
		KeyManager:            "CUSTOMER",
		KeySpec:               symmetric,
		CustomerMasterKeySpec: symmetric,
		EncryptionAlgorithms:  []string{symmetric},
	}
}

type keyIDInput struct{ KeyId string }

type metadataOutput struct{ KeyMetadata keyMetadata }

func (s *Server) opCreateKey(body []byte) (any, *apiError) {
	var in struct {
		Description string
		KeyUsage    string
		KeySpec     string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.KeyUsage != "" && in.KeyUsage != "ENCRYPT_DECRYPT" || in.KeySpec != "" && in.KeySpec != symmetric {
		return nil, apiErrorf(errValidation, "kmstest supports only symmetric ENCRYPT_DECRYPT keys")
	}
	return metadataOutput{s.metadata(s.newKeyLocked(in.Description))}, nil
}

func (s *Server) opCreateAlias(body []byte) (any, *apiError) {
	var in struct{ AliasName, TargetKeyId string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.createAliasLocked(in.AliasName, in.TargetKeyId); err != nil {
		return nil, err.(*apiError)
	}
	return struct{}{}, nil
}

// keyFor resolves a request's KeyId, which is required.
func (s *Server) keyFor(id string) (*key, *apiError) {
	if id == "" {
		return nil, apiErrorf(errValidation, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	k, err := s.resolveLocked(id)
	if err != nil {
		return nil, err.(*apiError)
	}
	return k, nil
}

// usableKey resolves a key for a cryptographic operation: it must be enabled.
func (s *Server) usableKey(id string) (*key, *apiError) {
	k, err := s.keyFor(id)
	if err != nil {
		return nil, err
	}
	if k.pendingDeletion {
		return nil, apiErrorf(errInvalidState, "%s is pending deletion.", k.arn)
	}
	if !k.enabled {
		return nil, apiErrorf(errDisabled, "%s is disabled.", k.arn)
	}
	return k, nil
}

func (s *Server) opDescribeKey(body []byte) (any, *apiError) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.keyFor(in.KeyId)
	if err != nil {
		return nil, err
	}
	return metadataOutput{s.metadata(k)}, nil
}

func (s *Server) opEnableKey(body []byte) (any, *apiError)  { return s.opSetEnabled(body, true) }
func (s *Server) opDisableKey(body []byte) (any, *apiError) { return s.opSetEnabled(body, false) }

func (s *Server) opSetEnabled(body []byte, enabled bool) (any, *apiError) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.keyFor(in.KeyId)
	if err != nil {
		return nil, err
	}
	k.enabled = enabled
	return struct{}{}, nil
}

func (s *Server) opRotateKeyOnDemand(body []byte) (any, *apiError) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.usableKey(in.KeyId)
	if err != nil {
		return nil, err
	}
	k.material = append(k.material, randomBytes(32))
	return struct{ KeyId string }{k.id}, nil
}

type dataKeyInput struct {
	KeyId             string
	KeySpec           string
	NumberOfBytes     *int
	EncryptionContext map[string]string
}

type dataKeyOutput struct {
	CiphertextBlob []byte
	Plaintext      []byte `json:",omitempty"`
	KeyId          string
}

func (s *Server) generateDataKey(body []byte, withPlaintext bool) (any, *apiError) {
	var in dataKeyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var n int
	switch {
	case in.KeySpec != "" && in.NumberOfBytes != nil:
		return nil, apiErrorf(errValidation, "Please specify either number of bytes or key spec.")
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec != "":
		return nil, apiErrorf(errValidation, "Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", in.KeySpec)
	case in.NumberOfBytes != nil && *in.NumberOfBytes >= 1 && *in.NumberOfBytes <= 1024:
		n = *in.NumberOfBytes
	default:
		return nil, apiErrorf(errValidation, "Please specify either number of bytes or key spec.")
	}
	k, err := s.usableKey(in.KeyId)
	if err != nil {
		return nil, err
	}
	pt := randomBytes(n)
	blob, sealErr := k.seal(pt, in.EncryptionContext)
	if sealErr != nil {
		return nil, apiErrorf("KMSInternalException", "seal failed")
	}
	out := dataKeyOutput{CiphertextBlob: blob, KeyId: k.arn}
	if withPlaintext {
		out.Plaintext = pt
	}
	return out, nil
}

func (s *Server) opGenerateDataKey(body []byte) (any, *apiError) {
	return s.generateDataKey(body, true)
}

func (s *Server) opGenerateDataKeyWithoutPlaintext(body []byte) (any, *apiError) {
	return s.generateDataKey(body, false)
}

func (s *Server) opEncrypt(body []byte) (any, *apiError) {
	var in struct {
		KeyId               string
		Plaintext           []byte
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Plaintext) == 0 || len(in.Plaintext) > 4096 {
		return nil, apiErrorf(errValidation, "Plaintext must be 1 to 4096 bytes")
	}
	if in.EncryptionAlgorithm != "" && in.EncryptionAlgorithm != symmetric {
		return nil, apiErrorf("InvalidKeyUsageException", "EncryptionAlgorithm %s is not supported by symmetric keys", in.EncryptionAlgorithm)
	}
	k, err := s.usableKey(in.KeyId)
	if err != nil {
		return nil, err
	}
	blob, sealErr := k.seal(in.Plaintext, in.EncryptionContext)
	if sealErr != nil {
		return nil, apiErrorf("KMSInternalException", "seal failed")
	}
	return struct {
		CiphertextBlob      []byte
		KeyId               string
		EncryptionAlgorithm string
	}{blob, k.arn, symmetric}, nil
}

// decryptBlob opens a blob, checking the expected key when keyID is set.
func (s *Server) decryptBlob(blob []byte, keyID string, ec map[string]string) (*key, []byte, *apiError) {
	p, ok := parseBlob(blob)
	if !ok {
		return nil, nil, apiErrorf(errInvalidCiphertext, "The ciphertext is invalid.")
	}
	k, ok := s.keys[p.keyID]
	if !ok {
		return nil, nil, apiErrorf(errInvalidCiphertext, "The ciphertext refers to a key that does not exist.")
	}
	if keyID != "" {
		want, err := s.keyFor(keyID)
		if err != nil {
			return nil, nil, err
		}
		if want != k {
			return nil, nil, apiErrorf(errIncorrectKey, "The key ID in the request does not identify a key that can perform this operation.")
		}
	}
	if k.pendingDeletion {
		return nil, nil, apiErrorf(errInvalidState, "%s is pending deletion.", k.arn)
	}
	if !k.enabled {
		return nil, nil, apiErrorf(errDisabled, "%s is disabled.", k.arn)
	}
	pt, ok := k.open(p, ec)
	if !ok {
		return nil, nil, apiErrorf(errInvalidCiphertext, "The ciphertext or encryption context is invalid.")
	}
	return k, pt, nil
}

func (s *Server) opDecrypt(body []byte) (any, *apiError) {
	var in struct {
		CiphertextBlob      []byte
		KeyId               string
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.EncryptionAlgorithm != "" && in.EncryptionAlgorithm != symmetric {
		return nil, apiErrorf(errIncorrectKey, "EncryptionAlgorithm %s does not match the key", in.EncryptionAlgorithm)
	}
	k, pt, err := s.decryptBlob(in.CiphertextBlob, in.KeyId, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId               string
		Plaintext           []byte
		EncryptionAlgorithm string
	}{k.arn, pt, symmetric}, nil
}

func (s *Server) opReEncrypt(body []byte) (any, *apiError) {
	var in struct {
		CiphertextBlob               []byte
		SourceKeyId                  string
		SourceEncryptionContext      map[string]string
		DestinationKeyId             string
		DestinationEncryptionContext map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	src, pt, err := s.decryptBlob(in.CiphertextBlob, in.SourceKeyId, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	dst, err := s.usableKey(in.DestinationKeyId)
	if err != nil {
		return nil, err
	}
	blob, sealErr := dst.seal(pt, in.DestinationEncryptionContext)
	if sealErr != nil {
		return nil, apiErrorf("KMSInternalException", "seal failed")
	}
	return struct {
		CiphertextBlob                 []byte
		SourceKeyId                    string
		KeyId                          string
		SourceEncryptionAlgorithm      string
		DestinationEncryptionAlgorithm string
	}{blob, src.arn, dst.arn, symmetric, symmetric}, nil
}
