package kmstest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Server is an in-memory AWS KMS on 127.0.0.1. It is safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	region  string
	account string

	mu        sync.Mutex
	keys      map[string]*key   // by key ID
	aliases   map[string]string // alias name ("alias/x") → key ID
	calls     map[string]int
	throttle  int // the next throttle requests get ThrottlingException
	throttled int
	failures  []injected // the next requests get these errors, in order
	latency   time.Duration
}

// key is one symmetric KMS key. material[v] is key-material version v.
type key struct {
	id              string
	arn             string
	description     string
	enabled         bool
	pendingDeletion bool
	created         time.Time
	material        [][]byte
}

// Key identifies a key the server created.
type Key struct {
	// ID is the key ID (a UUID).
	ID string
	// ARN is the key ARN, as KMS returns it in responses.
	ARN string
}

// Option configures [NewServer].
type Option func(*Server)

// WithLatency delays every response by d (see also [Server.SetLatency]).
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// WithAccountID sets the AWS account ID in ARNs (default 111122223333).
func WithAccountID(id string) Option { return func(s *Server) { s.account = id } }

// NewServer starts a server on 127.0.0.1 with no keys. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		region:  Region,
		account: "111122223333",
		keys:    make(map[string]*key),
		aliases: make(map[string]string),
		calls:   make(map[string]int),
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Region is the region the server's ARNs name and [Server.Client] uses.
const Region = "us-east-1"

// URL returns the server's base URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// CreateKey creates an enabled symmetric encryption key, as the CreateKey
// operation does.
func (s *Server) CreateKey(description string) Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.newKeyLocked(description)
	return Key{ID: k.id, ARN: k.arn}
}

func (s *Server) newKeyLocked(description string) *key {
	id := uuid()
	k := &key{
		id:          id,
		arn:         fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.region, s.account, id),
		description: description,
		enabled:     true,
		created:     time.Now().UTC().Truncate(time.Millisecond),
		material:    [][]byte{randomBytes(32)},
	}
	s.keys[id] = k
	return k
}

// CreateAlias points alias ("alias/name") at a key (ID, ARN or alias).
func (s *Server) CreateAlias(alias, keyID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createAliasLocked(alias, keyID)
}

// EnableKey enables a key (ID, ARN or alias).
func (s *Server) EnableKey(keyID string) error { return s.setEnabled(keyID, true) }

// DisableKey disables a key: every cryptographic operation with it fails
// with DisabledException until it is enabled again.
func (s *Server) DisableKey(keyID string) error { return s.setEnabled(keyID, false) }

func (s *Server) setEnabled(keyID string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.resolveLocked(keyID)
	if err != nil {
		return err
	}
	k.enabled = enabled
	return nil
}

// ScheduleKeyDeletion puts a key in the PendingDeletion state, as KMS's
// ScheduleKeyDeletion does: every cryptographic operation with it fails with
// KMSInvalidStateException until [Server.CancelKeyDeletion]. (kmstest never
// deletes a key.)
func (s *Server) ScheduleKeyDeletion(keyID string) error { return s.setPendingDeletion(keyID, true) }

// CancelKeyDeletion takes a key out of the PendingDeletion state. As in KMS,
// the key is then disabled; enable it with [Server.EnableKey].
func (s *Server) CancelKeyDeletion(keyID string) error { return s.setPendingDeletion(keyID, false) }

func (s *Server) setPendingDeletion(keyID string, pending bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.resolveLocked(keyID)
	if err != nil {
		return err
	}
	k.pendingDeletion = pending
	k.enabled = false
	return nil
}

// RotateKey gives a key new key material: new blobs use it, old blobs
// still decrypt with the material they name.
func (s *Server) RotateKey(keyID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.resolveLocked(keyID)
	if err != nil {
		return err
	}
	k.material = append(k.material, randomBytes(32))
	return nil
}

// Throttle makes the next n requests (of any operation) fail with
// ThrottlingException, as KMS does over its request quota.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// injected is an error FailNext queued.
type injected struct {
	status int
	code   string
}

// FailNext makes the next n requests (of any operation, after those
// [Server.Throttle] queued) fail with HTTP status and the KMS error code
// ("KMSInternalException" with 500, "DependencyTimeoutException" with 503,
// "AccessDeniedException" with 400, ...), as KMS does when it or a
// dependency fails. The SDK's retryer retries the codes and statuses it
// deems transient.
func (s *Server) FailNext(n, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, injected{status: status, code: code})
	}
}

// Throttled returns how many requests were answered with ThrottlingException.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// SetLatency delays every later response by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Calls returns how many requests for op ("Decrypt", "GenerateDataKey", ...)
// the server received, throttled and failed ones included.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// CallCounts returns a copy of the request counts by operation.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for op, n := range s.calls {
		out[op] = n
	}
	return out
}

// ResetCalls sets every counter to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	s.throttled = 0
}

// resolveLocked finds a key by key ID, key ARN, alias name or alias ARN.
func (s *Server) resolveLocked(id string) (*key, error) {
	name := id
	if rest, ok := strings.CutPrefix(id, "arn:aws:kms:"); ok {
		// region:account:key/ID or region:account:alias/NAME
		parts := strings.SplitN(rest, ":", 3)
		if len(parts) != 3 || parts[0] != s.region || parts[1] != s.account {
			return nil, apiErrorf(errNotFound, "Invalid arn %s", id)
		}
		name = parts[2]
		if kid, ok := strings.CutPrefix(name, "key/"); ok {
			name = kid
		} else if !strings.HasPrefix(name, "alias/") {
			return nil, apiErrorf(errNotFound, "Invalid arn %s", id)
		}
	}
	if strings.HasPrefix(name, "alias/") {
		kid, ok := s.aliases[name]
		if !ok {
			return nil, apiErrorf(errNotFound, "Alias %s is not found.", id)
		}
		name = kid
	}
	k, ok := s.keys[name]
	if !ok {
		return nil, apiErrorf(errNotFound, "Key '%s' does not exist", id)
	}
	return k, nil
}

func (s *Server) createAliasLocked(alias, target string) error {
	if !strings.HasPrefix(alias, "alias/") || len(alias) <= len("alias/") || strings.HasPrefix(alias, "alias/aws/") || len(alias) > 256 {
		return apiErrorf(errValidation, "Alias must start with the prefix \"alias/\" and may not begin with \"alias/aws/\"")
	}
	if strings.HasPrefix(target, "alias/") || strings.Contains(target, ":alias/") {
		return apiErrorf(errValidation, "TargetKeyId must be a key ID or key ARN")
	}
	if _, ok := s.aliases[alias]; ok {
		return apiErrorf(errAlreadyExists, "An alias with the name %s already exists", alias)
	}
	k, err := s.resolveLocked(target)
	if err != nil {
		return err
	}
	s.aliases[alias] = k.id
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func uuid() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
