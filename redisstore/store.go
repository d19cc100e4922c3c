package redisstore

import (
	"context"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/installstore"
)

// Store is the Redis backend. It implements [installstore.FullStore] and is
// safe for concurrent use by any number of goroutines and processes sharing
// the Redis deployment.
type Store struct {
	client    redis.UniversalClient
	prefix    string
	now       func() time.Time
	plaintext bool
	history   bool
	clientID  string
	scoped    bool     // WithClientID was given (even with a bad, empty id)
	base      string   // what every hash tag starts with: "prefix", or "prefix@clientID"
	tags      []string // the hash tag of each group, "{base:3ff}"
}

// Option configures a [Store].
type Option func(*Store)

// DefaultKeyPrefix is the key prefix of a store made without [WithKeyPrefix].
const DefaultKeyPrefix = "installvault"

// WithKeyPrefix namespaces every key of the store with prefix (default
// [DefaultKeyPrefix]), so that several apps, or several test suites, share
// one Redis without seeing each other's records. The prefix is 1 to 64 bytes
// of letters, digits and '_', '.', '-', ':', '/' (no braces, which would
// change the keys' hash tags, and no glob characters).
func WithKeyPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// WithClock sets the clock used for InstalledAt defaults and for the
// lifetime of nonces (a nonce put with expiresAt lives expiresAt - now on
// the server's clock). Default time.Now. Lease lifetimes are counted by the
// Redis server, and Versions never depend on this clock.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithPlaintextSecrets lets the store write secrets that are not sealed by
// package crypto. It is for local experiments only: without it, the store
// refuses (with an error wrapping [installstore.ErrInvalid]) to persist any
// non-empty secret lacking [installstore.SealedPrefix].
func WithPlaintextSecrets() Option { return func(s *Store) { s.plaintext = true } }

// WithHistory turns installation history on ([installstore.History]):
// every StoreInstallation also writes the installation, as stored, as a
// history entry of its tenant, in the same script as the records, and
// ListHistory and PutHistory work. Off (the default), they give an error
// wrapping [installstore.ErrHistoryOff] and a store writes nothing more
// than it always did. Deletes remove history whether it is on or off, so
// an uninstall never leaves tokens behind in a history once kept.
func WithHistory() Option { return func(s *Store) { s.history = true } }

// WithClientID scopes the store to one Slack app among several sharing the
// Redis keyspace (and key prefix): everything it keeps (records, history,
// nonces, leases, due index, version counters) is under keys whose hash tag
// names the client ID, "{prefix@clientID:...}". No call of the store reads,
// lists, deletes or overwrites another app's keys or an unscoped store's,
// and an unscoped store sees none of an app's. id must pass
// [installstore.CheckClientID]; New refuses a bad one with an error
// wrapping [installstore.ErrInvalid], the empty id included (an unset
// setting must not silently give an unscoped store: leave the option out
// for that).
func WithClientID(id string) Option {
	return func(s *Store) { s.clientID, s.scoped = id, true }
}

// ClientID implements [installstore.AppScoped]: the client ID of
// [WithClientID], or "" for an unscoped store.
func (s *Store) ClientID() string { return s.clientID }

// New returns a store over client: a *redis.Client (a standalone server or
// a Sentinel-managed failover client) or a *redis.ClusterClient. It refuses
// (with an error wrapping [installstore.ErrInvalid]) a nil client, a
// *redis.Ring (its shards are not replicated and a change of shards moves
// keys, which would lose or resurrect tokens), a ClusterClient that reads
// from replicas (ReadOnly, RouteByLatency, RouteRandomly: a replica can
// hand out a token or Version that a master already replaced), and a bad
// key prefix or client ID. New makes no call to Redis.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("redisstore: new store: %w: nil client", installstore.ErrInvalid)
	}
	switch c := client.(type) {
	case *redis.Ring:
		return nil, fmt.Errorf("redisstore: new store: %w: a *redis.Ring is not supported (use a standalone, Sentinel or Cluster client)", installstore.ErrInvalid)
	case *redis.ClusterClient:
		if o := c.Options(); o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
			return nil, fmt.Errorf("redisstore: new store: %w: the cluster client reads from replicas (ReadOnly, RouteByLatency or RouteRandomly), which can return replaced tokens", installstore.ErrInvalid)
		}
	}
	s := &Store{client: client, prefix: DefaultKeyPrefix, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		return nil, fmt.Errorf("redisstore: new store: %w: nil clock", installstore.ErrInvalid)
	}
	if err := validPrefix(s.prefix); err != nil {
		return nil, err
	}
	s.base = s.prefix
	if s.scoped {
		if err := installstore.CheckClientID(s.clientID); err != nil {
			return nil, fmt.Errorf("redisstore: new store: %w", err)
		}
		// A prefix cannot hold '@' and a client ID cannot hold ':', so
		// "{prefix@id:" names one (prefix, app) pair and no unscoped key.
		s.base = s.prefix + "@" + s.clientID
	}
	s.tags = make([]string, groups)
	for g := range s.tags {
		s.tags[g] = fmt.Sprintf("{%s:%03x}", s.base, g)
	}
	return s, nil
}

var (
	_ installstore.FullStore = (*Store)(nil)
	_ installstore.AppScoped = (*Store)(nil)
)

func validPrefix(p string) error {
	if len(p) == 0 || len(p) > 64 {
		return fmt.Errorf("redisstore: new store: %w: key prefix must be 1 to 64 bytes, not %d", installstore.ErrInvalid, len(p))
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' || r == ':' || r == '/') {
			return fmt.Errorf("redisstore: new store: %w: key prefix %q has a character other than letters, digits, '_', '.', '-', ':', '/'", installstore.ErrInvalid, p)
		}
	}
	return nil
}

// groups is the number of key groups. Every key of a tenant, of the
// standalone twin it may have (a workspace before it joined an Enterprise
// Grid organization), and the due index and version counter they use, share
// one group, whose hash tag puts them in one Redis Cluster slot; the groups
// spread over the cluster. It is part of the data layout: changing it moves
// every tenant.
const groups = 1024

// groupOf returns the group of tenant t: the CRC-32 (IEEE) of its team ID
// (its enterprise ID for an org-wide install), modulo [groups]. A team ID
// does not change when its workspace joins an organization, so (E, T) and
// (no enterprise, T) share a group.
func groupOf(t installstore.Tenant) int {
	id := t.TeamID
	if id == "" {
		id = t.EnterpriseID
	}
	return int(crc32.ChecksumIEEE([]byte(id)) % groups)
}

// keys names the Redis keys of one group.
type keys struct {
	tag string // "{base:3ff}", the group's hash tag
}

func (s *Store) group(g int) keys { return keys{tag: s.tags[g]} }

func (s *Store) groupOf(t installstore.Tenant) keys { return s.group(groupOf(t)) }

func (k keys) seq() string     { return k.tag + ":seq" }
func (k keys) due() string     { return k.tag + ":due" }
func (k keys) tenants() string { return k.tag + ":tenants" }
func (k keys) tenant(t installstore.Tenant) string {
	return k.tag + ":t:" + t.Key()
}

// history is the tenant's history entries (hash), historyIndex their order
// (sorted set, score 0, members ordered by install time).
func (k keys) history(t installstore.Tenant) string      { return k.tag + ":h:" + t.Key() }
func (k keys) historyIndex(t installstore.Tenant) string { return k.tag + ":hi:" + t.Key() }

// twin returns the standalone tenant (no enterprise, same team) that a
// workspace of an enterprise supersedes, and whether t has one.
func twin(t installstore.Tenant) (installstore.Tenant, bool) {
	if t.EnterpriseID == "" || t.TeamID == "" {
		return installstore.Tenant{}, false
	}
	return installstore.Tenant{TeamID: t.TeamID}, true
}

// tenantKeys returns the KEYS of a tenant script: the group's counter, due
// index, tenant index, the tenant's hash, history and history index and,
// when it has one, its twin's three. The second result is the twin's
// tenant string, "" when none.
func (s *Store) tenantKeys(t installstore.Tenant) ([]string, string) {
	k := s.groupOf(t)
	ks := []string{k.seq(), k.due(), k.tenants(), k.tenant(t), k.history(t), k.historyIndex(t)}
	if tw, ok := twin(t); ok {
		return append(ks, k.tenant(tw), k.history(tw), k.historyIndex(tw)), tw.Key()
	}
	return ks, ""
}

// checkSecrets refuses plaintext secrets unless WithPlaintextSecrets.
func (s *Store) checkSecrets(op string, inst *installstore.Installation) error {
	if s.plaintext {
		return nil
	}
	return inst.Secrets(func(field string, sec *installstore.Secret) error {
		if !sec.IsSealed() {
			return fmt.Errorf("redisstore: %s tenant %s: %w: secret %s is not sealed by package crypto (wrap the store with crypto.NewStore, or use WithPlaintextSecrets for local experiments)",
				op, inst.Tenant(), installstore.ErrInvalid, field)
		}
		return nil
	})
}

func notFound(op string, q installstore.Query) error {
	if q.UserID != "" {
		return fmt.Errorf("redisstore: %s tenant %s user %s: %w", op, q.Tenant(), q.UserID, installstore.ErrNotFound)
	}
	return fmt.Errorf("redisstore: %s tenant %s: %w", op, q.Tenant(), installstore.ErrNotFound)
}

func ctxErr(ctx context.Context, op string, t installstore.Tenant) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s tenant %s: %w", op, t, err)
	}
	return nil
}
