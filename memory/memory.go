// Package memory is an in-memory installstore backend: the whole
// [installstore.FullStore] contract, safe for concurrent use, O(1) fetch, an
// ordered due index (a heap: a listing of D due records costs O(D)). Use it in
// tests and single-process tools; it forgets everything when the process
// exits, and it keeps whatever it is given as is (wrap it with package crypto
// to hold sealed secrets only).
package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/installvault/installvault/installstore"
)

// Store is the in-memory backend. The zero value is not usable; call [New].
type Store struct {
	now      func() time.Time
	clientID string
	keeps    bool // history on

	mu      sync.RWMutex
	seq     int64 // store-wide version counter: versions are never reused
	tenants map[installstore.Tenant]*tenant
	nonces  map[string]time.Time
	puts    int
	leases  map[string]lease
	due     dueIndex
	history map[installstore.Tenant][]*installstore.Installation // newest first; nil when history is off
	scopes  map[string][]string                                  // interned scope lists, shared by records
}

// maxInterned bounds the interned scope lists: an app grants few distinct
// sets of scopes; beyond the bound, records keep their own copies.
const maxInterned = 4096

// tenant holds immutable records: a write replaces pointers, never mutates
// what a reader may hold.
type tenant struct {
	version int64
	bot     *installstore.Bot
	latest  *installstore.Installation   // Bot and Version unset
	users   []*installstore.Installation // sorted by User.ID; Bot and Version unset
	due     int64                        // unix nanoseconds of the earliest due record; 0: none
}

func byUserID(rec *installstore.Installation, id string) int { return strings.Compare(rec.User.ID, id) }

// user returns user id's installation, or nil.
func (t *tenant) user(id string) *installstore.Installation {
	if i, ok := slices.BinarySearchFunc(t.users, id, byUserID); ok {
		return t.users[i]
	}
	return nil
}

// putUser adds or replaces rec as its user's installation.
func (t *tenant) putUser(rec *installstore.Installation) {
	i, ok := slices.BinarySearchFunc(t.users, rec.User.ID, byUserID)
	if ok {
		t.users[i] = rec
		return
	}
	t.users = slices.Insert(t.users, i, rec)
}

// removeUser removes user id's installation and reports whether it existed.
func (t *tenant) removeUser(id string) bool {
	i, ok := slices.BinarySearchFunc(t.users, id, byUserID)
	if ok {
		t.users = slices.Delete(t.users, i, i+1)
	}
	return ok
}

type lease struct {
	owner   string
	expires time.Time
}

// Option configures a [Store].
type Option func(*Store)

// WithClock sets the clock used for InstalledAt defaults, nonce and lease
// expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// WithHistory keeps every installation stored, for
// [Store.ListHistory] ([installstore.History]). Off by default.
func WithHistory() Option {
	return func(s *Store) { s.keeps = true }
}

// WithClientID marks the store as one Slack app's ([installstore.AppScoped]):
// [Store.ClientID] reports id, and the encryption layer binds it into what
// it seals. A memory store is never shared, so it holds one app's records
// either way. New panics when id fails [installstore.CheckClientID]: a
// programming error, as regexp.MustCompile's.
func WithClientID(id string) Option {
	if err := installstore.CheckClientID(id); err != nil {
		panic(fmt.Sprintf("memory: WithClientID: %v", err))
	}
	return func(s *Store) { s.clientID = id }
}

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		now:     time.Now,
		tenants: make(map[installstore.Tenant]*tenant),
		nonces:  make(map[string]time.Time),
		leases:  make(map[string]lease),
		scopes:  make(map[string][]string),
	}
	for _, o := range opts {
		o(s)
	}
	if s.keeps {
		s.history = make(map[installstore.Tenant][]*installstore.Installation)
	}
	return s
}

var (
	_ installstore.FullStore = (*Store)(nil)
	_ installstore.AppScoped = (*Store)(nil)
)

// ClientID implements [installstore.AppScoped]: the client ID set by
// [WithClientID], or "".
func (s *Store) ClientID() string { return s.clientID }

// record returns a copy of inst without bot and version, as kept, sharing
// interned scope lists (kept records are never mutated; fetches copy). The
// caller holds s.mu for writing.
func (s *Store) record(inst *installstore.Installation) *installstore.Installation {
	r := *inst
	r.Bot = nil
	r.Version = 0
	r.User.Scopes = s.intern(inst.User.Scopes)
	if inst.IncomingWebhook != nil {
		w := *inst.IncomingWebhook
		r.IncomingWebhook = &w
	}
	return &r
}

// keepBot returns a copy of b as kept, or nil. The caller holds s.mu for
// writing.
func (s *Store) keepBot(b *installstore.Bot) *installstore.Bot {
	if b == nil {
		return nil
	}
	c := *b
	c.Scopes = s.intern(b.Scopes)
	return &c
}

// intern returns a shared copy of scopes. The caller holds s.mu for
// writing.
func (s *Store) intern(scopes []string) []string {
	if len(scopes) == 0 {
		return nil
	}
	key := strings.Join(scopes, " ")
	if shared, ok := s.scopes[key]; ok && slices.Equal(shared, scopes) {
		return shared
	}
	c := slices.Clone(scopes)
	if len(s.scopes) < maxInterned {
		s.scopes[key] = c
	}
	return c
}

// StoreInstallation implements [installstore.Store].
func (s *Store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if inst.InstalledAt.IsZero() {
		inst.InstalledAt = s.now()
	}
	if inst.Bot != nil && inst.Bot.InstalledAt.IsZero() {
		inst.Bot.InstalledAt = inst.InstalledAt
	}
	key := inst.Tenant()

	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.record(inst)
	bot := s.keepBot(inst.Bot)
	if standalone, ok := migrated(key); ok {
		s.dropTenant(standalone)
	}
	t := s.tenants[key]
	if t == nil {
		t = &tenant{}
		s.tenants[key] = t
	}
	if bot != nil {
		t.bot = bot
	}
	t.latest = rec
	if rec.User.ID != "" {
		t.putUser(rec)
	}
	s.bump(t)
	inst.Version = t.version
	if s.keeps {
		s.putHistory(inst)
	}
	return nil
}

// migrated returns the standalone tenant (no enterprise, same team) that a
// workspace of an enterprise supersedes: the record it had before it joined
// the organization.
func migrated(key installstore.Tenant) (installstore.Tenant, bool) {
	if key.EnterpriseID == "" || key.TeamID == "" {
		return installstore.Tenant{}, false
	}
	return installstore.Tenant{TeamID: key.TeamID}, true
}

// bump gives t a new version and re-indexes it. The caller holds s.mu for
// writing.
func (s *Store) bump(t *tenant) {
	s.seq++
	t.version = s.seq
	s.due.index(t)
}

// dropTenant deletes a tenant and its index entry. The caller holds s.mu
// for writing.
func (s *Store) dropTenant(key installstore.Tenant) {
	if t := s.tenants[key]; t != nil {
		s.due.unindex(t)
		delete(s.tenants, key)
	}
}

// lookup finds the tenant a valid query addresses, with the fallbacks of
// the contract: a workspace of an enterprise falls back to its standalone
// record (a Grid migration), then to the org-wide install. The caller holds
// s.mu.
func (s *Store) lookup(q installstore.Query) *tenant {
	key := q.Tenant()
	if t := s.tenants[key]; t != nil {
		return t
	}
	if standalone, ok := migrated(key); ok {
		if t := s.tenants[standalone]; t != nil {
			return t
		}
		if t := s.tenants[installstore.Tenant{EnterpriseID: q.EnterpriseID}]; t != nil {
			return t
		}
	}
	return nil
}

// FetchInstallation implements [installstore.Store].
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	t := s.lookup(q)
	var rec *installstore.Installation
	var bot *installstore.Bot
	var version int64
	if t != nil {
		rec, bot, version = t.latest, t.bot, t.version
		if q.UserID != "" {
			rec = t.user(q.UserID)
		}
	}
	s.mu.RUnlock()
	if rec == nil {
		return nil, notFound("fetch", q)
	}
	tmp := *rec // on the stack: the copy handed out is one allocation
	tmp.Bot, tmp.Version = bot, version
	return tmp.Clone(), nil
}

// DeleteInstallation implements [installstore.Store].
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delete(q)
	return nil
}

// delete deletes what q names, and the same of the standalone record a
// workspace of an enterprise superseded. The caller holds s.mu for writing.
func (s *Store) delete(q installstore.Query) {
	key := q.Tenant()
	s.deleteTenant(key, q.UserID)
	if standalone, ok := migrated(key); ok {
		s.deleteTenant(standalone, q.UserID)
	}
}

// deleteTenant deletes the tenant, or one user's installation of it. The
// caller holds s.mu for writing.
func (s *Store) deleteTenant(key installstore.Tenant, user string) {
	s.purgeHistory(key, user)
	t := s.tenants[key]
	if t == nil {
		return
	}
	if user == "" {
		s.dropTenant(key)
		return
	}
	had := t.removeUser(user)
	if t.latest.User.ID == user {
		latest := *t.latest
		latest.User = installstore.User{}
		t.latest = &latest
		had = true
	}
	if !had {
		return
	}
	if t.bot == nil && !t.holdsUserToken() {
		s.dropTenant(key) // nothing left to serve: it reads as not installed
		s.purgeHistory(key, "")
		return
	}
	s.bump(t)
}

// holdsUserToken reports whether any user installation of t has a token.
func (t *tenant) holdsUserToken() bool {
	if !t.latest.User.Token.IsZero() {
		return true
	}
	for _, rec := range t.users {
		if !rec.User.Token.IsZero() {
			return true
		}
	}
	return false
}

// DeleteBot implements [installstore.BotDeleter].
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteBot(q.Tenant())
	return nil
}

func (s *Store) deleteBot(key installstore.Tenant) {
	if t := s.tenants[key]; t != nil && t.bot != nil {
		t.bot = nil
		s.bump(t)
	}
}

// DeleteInstallationIf implements [installstore.ConditionalDeleter].
func (s *Store) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	return s.deleteIf(ctx, "delete", q, version, func() { s.delete(q) })
}

// DeleteBotIf implements [installstore.ConditionalDeleter].
func (s *Store) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	return s.deleteIf(ctx, "delete bot", q, version, func() { s.deleteBot(q.Tenant()) })
}

func (s *Store) deleteIf(ctx context.Context, op string, q installstore.Query, version int64, del func()) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[q.Tenant()]
	if t == nil {
		return nil
	}
	if t.version != version {
		return fmt.Errorf("memory: %s tenant %s: %w (stored %d, expected %d)", op, q.Tenant(), installstore.ErrConflict, t.version, version)
	}
	del()
	return nil
}

// UpdateInstallation implements [installstore.Updater].
func (s *Store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	q := inst.Query()

	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.record(inst)
	bot := s.keepBot(inst.Bot)
	t := s.tenants[q.Tenant()]
	if t == nil {
		return notFound("update", q)
	}
	if t.version != inst.Version {
		return fmt.Errorf("memory: update tenant %s: %w (stored %d, expected %d)", q.Tenant(), installstore.ErrConflict, t.version, inst.Version)
	}
	switch {
	case q.UserID != "":
		if t.user(q.UserID) == nil {
			return notFound("update", q)
		}
		t.putUser(rec)
		if t.latest.User.ID == q.UserID {
			t.latest = rec
		}
	case t.latest.User.ID == "":
		t.latest = rec
	default:
		return fmt.Errorf("memory: update tenant %s: %w: the latest installation belongs to a user; update it with that User.ID", q.Tenant(), installstore.ErrConflict)
	}
	if bot != nil {
		t.bot = bot
	}
	s.bump(t)
	inst.Version = t.version
	return nil
}

// ListDue implements [installstore.DueLister]. It collects the due records
// under the lock, then calls fn without holding it.
func (s *Store) ListDue(ctx context.Context, before time.Time, fn func(installstore.Query, time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	due := s.due.collect(before.UnixNano(), func(t *tenant) bool { return s.tenants[t.latest.Tenant()] == t })
	s.mu.RUnlock()
	for _, d := range due {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(d.q, d.at); err != nil {
			return err
		}
	}
	return nil
}

// ListInstallations implements [installstore.Lister]. It lists a snapshot
// taken under the lock, then calls fn without holding it; the snapshot lets
// go of each record once it is listed, so that a record fn replaces (a
// rewrap, a migration) is not kept alive until the listing ends.
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	type item struct {
		q       installstore.Query
		rec     *installstore.Installation
		bot     *installstore.Bot
		version int64
	}
	s.mu.RLock()
	items := make([]item, 0, len(s.tenants))
	for key, t := range s.tenants {
		q := installstore.Query{EnterpriseID: key.EnterpriseID, TeamID: key.TeamID, IsEnterpriseInstall: key.IsEnterprise()}
		items = append(items, item{q, t.latest, t.bot, t.version})
		for _, rec := range t.users {
			uq := q
			uq.UserID = rec.User.ID
			items = append(items, item{uq, rec, t.bot, t.version})
		}
	}
	s.mu.RUnlock()
	for i := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		it := items[i]
		items[i] = item{}
		tmp := *it.rec
		tmp.Bot, tmp.Version = it.bot, it.version
		if err := fn(it.q, tmp.Clone()); err != nil {
			return err
		}
	}
	return nil
}

// PutNonce implements [installstore.NonceStore].
func (s *Store) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if nonce == "" {
		return fmt.Errorf("memory: put nonce: %w: empty nonce", installstore.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if exp, ok := s.nonces[nonce]; ok && now.Before(exp) {
		return fmt.Errorf("memory: put nonce: %w: nonce exists", installstore.ErrConflict)
	}
	// Sweep expired nonces every 1024 puts so the map stays bounded.
	if s.puts++; s.puts%1024 == 0 {
		for n, exp := range s.nonces {
			if !now.Before(exp) {
				delete(s.nonces, n)
			}
		}
	}
	s.nonces[nonce] = expiresAt
	return nil
}

// ConsumeNonce implements [installstore.NonceStore].
func (s *Store) ConsumeNonce(ctx context.Context, nonce string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.nonces[nonce]
	delete(s.nonces, nonce)
	if !ok {
		return fmt.Errorf("memory: consume nonce: %w: unknown or already used", installstore.ErrNotFound)
	}
	if !s.now().Before(exp) {
		return fmt.Errorf("memory: consume nonce: %w: expired", installstore.ErrNotFound)
	}
	return nil
}

// AcquireLease implements [installstore.Leaser].
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	if name == "" || owner == "" || ttl <= 0 {
		return fmt.Errorf("memory: acquire lease: %w: need a name, an owner and a positive ttl", installstore.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if l, ok := s.leases[name]; ok && l.owner != owner && now.Before(l.expires) {
		return fmt.Errorf("memory: acquire lease %q: %w", name, installstore.ErrLeaseHeld)
	}
	s.leases[name] = lease{owner: owner, expires: now.Add(ttl)}
	return nil
}

// ReleaseLease implements [installstore.Leaser].
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.owner == owner {
		delete(s.leases, name)
	}
	return nil
}

// Len returns the number of tenants stored.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.tenants)
}

func notFound(op string, q installstore.Query) error {
	if q.UserID != "" {
		return fmt.Errorf("memory: %s tenant %s user %s: %w", op, q.Tenant(), q.UserID, installstore.ErrNotFound)
	}
	return fmt.Errorf("memory: %s tenant %s: %w", op, q.Tenant(), installstore.ErrNotFound)
}

// NonceCount returns the number of nonces held, expired ones not yet swept included.
func (s *Store) NonceCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.nonces)
}
