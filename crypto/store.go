package crypto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
)

// Store is the encryption layer: an [installstore.FullStore] that seals
// every secret of an installation before it reaches the store below and
// opens it on the way out. Make it with [NewStore].
//
// Where it goes: directly above the backend, or above a residency router
// whose regions are backends (crypto over residency), or once per region
// below a router (residency over per-region crypto stores, each with its
// region's keys). Layers that must never see plaintext go below it; the
// token refresher and anything that reads tokens go above it. It refuses to
// go over another encryption layer. Whole-stack operations find it through
// [Store.Unwrap] ([installstore.Walk]); [Rewrap] rewraps every Store of a
// stack.
//
// Deletes (including the conditional ones) pass through unchanged, dropping
// the tenant from the record cache ([WithRecordCache]); nonces and leases
// pass through, and so does ListDue (from the embedded
// [installstore.Passthrough]): the due index is unsealed metadata, listed
// without opening anything. Installation history ([installstore.History])
// is sealed like the records: PutHistory seals, ListHistory opens.
type Store struct {
	installstore.Passthrough // ListDue, nonces, leases
	keys                     KeyProvider
	appKeys                  AppKeyProvider // keys, when clientID is set
	clientID                 string         // the app the inner stack is scoped to ("": unscoped)
	provider                 string
	cache                    *keyCache    // nil without WithDataKeyCache
	records                  *recordCache // nil without WithRecordCache
	now                      func() time.Time
	metrics                  instruments
	bufs                     bufPool
}

var (
	_ installstore.FullStore = (*Store)(nil)
	_ installstore.Unwrapper = (*Store)(nil)
	_ installstore.AppScoped = (*Store)(nil)
)

// NewStore returns the encryption layer over inner: it seals every secret of
// an installation with keys before handing it to inner, and opens them on
// the way out.
//
// Writes never change the caller's Installation except Version, InstalledAt
// and Bot.InstalledAt, as the inner store sets them, and refuse an installation
// holding a value that is already sealed ([installstore.ErrInvalid]: a
// backup is restored to the backend below this layer). Reads fail with an
// error wrapping [ErrDecrypt] for a record that cannot be opened (including
// one holding a secret that is not sealed), or [installstore.ErrUnavailable]
// when the key provider did not answer.
//
// The Slack app's client ID is bound into everything it seals (the
// associated data and the data key: the KMS encryption context,
// [ContextClientID]), so a sealed value moved to another app's record does
// not open even under the same master key. NewStore finds it in the inner
// stack: the [installstore.AppScoped] stores below (each backend's
// WithClientID option), found with [installstore.Walk]; none, or "", is an
// unscoped store. A layer of your own between this one and the backend must
// implement [installstore.Unwrapper], or the walk stops at it and the stack
// reads as unscoped.
//
// NewStore refuses ([installstore.ErrInvalid]) a nil inner store or key
// provider, bad options, an inner stack that already holds an encryption
// layer or stores scoped to different client IDs (both found with
// [installstore.Walk]), and an app-scoped stack with a key provider that is
// not an [AppKeyProvider].
func NewStore(inner installstore.FullStore, keys KeyProvider, opts ...Option) (*Store, error) {
	if inner == nil || keys == nil {
		return nil, fmt.Errorf("crypto: new store: %w: inner store and key provider are required", installstore.ErrInvalid)
	}
	if !validProviderName(keys.Name()) {
		return nil, fmt.Errorf("crypto: new store: %w: key provider name %q is not 1 to 32 bytes of [a-z0-9-]", installstore.ErrInvalid, keys.Name())
	}
	var (
		below bool
		ids   []string
	)
	installstore.Walk(inner, func(x installstore.FullStore) bool {
		if _, ok := x.(*Store); ok {
			below = true
		}
		if a, ok := x.(installstore.AppScoped); ok {
			if id := a.ClientID(); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return !below
	})
	if below {
		return nil, fmt.Errorf("crypto: new store: %w: the inner store already has an encryption layer (a crypto.Store) below it: "+
			"every secret would be sealed twice and Rewrap could not tell which key protects a record; use one encryption layer per record", installstore.ErrInvalid)
	}
	if len(ids) > 1 {
		return nil, fmt.Errorf("crypto: new store: %w: the stores below are scoped to %d different Slack apps (client IDs %s): "+
			"one encryption layer seals for one app", installstore.ErrInvalid, len(ids), strings.Join(ids, ", "))
	}
	var clientID string
	var appKeys AppKeyProvider
	if len(ids) == 1 {
		clientID = ids[0]
		var ok bool
		if appKeys, ok = keys.(AppKeyProvider); !ok {
			return nil, fmt.Errorf("crypto: new store: %w: the store below is scoped to client ID %s, and key provider %q (%T) "+
				"cannot bind a data key to an app (it is not a crypto.AppKeyProvider)", installstore.ErrInvalid, clientID, keys.Name(), keys)
		}
	}
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.err != nil {
		return nil, c.err
	}
	s := &Store{Passthrough: installstore.Passthrough{Inner: inner}, keys: keys, appKeys: appKeys, clientID: clientID, provider: keys.Name(), now: c.now}
	if c.cache {
		s.cache = newKeyCache(&c)
	}
	if c.recordEntries > 0 {
		if !c.cache || c.recordMaxAge > c.maxAge {
			return nil, fmt.Errorf("crypto: new store: %w: WithRecordCache(%v, ...) needs WithDataKeyCache with a maxAge of at least %v: "+
				"a cached record must not outlive the data key that opened it", installstore.ErrInvalid, c.recordMaxAge, c.recordMaxAge)
		}
		s.records = newRecordCache(&c)
	}
	var err error
	if s.metrics, err = newInstruments(c.meter); err != nil {
		return nil, fmt.Errorf("crypto: new store: metrics: %w", err)
	}
	return s, nil
}

// Format implements [fmt.Formatter]: the key provider's name, the app's
// client ID (when scoped) and the store below, never a key or a cached
// record.
func (s *Store) Format(f fmt.State, _ rune) {
	app := ""
	if s.clientID != "" {
		app = ", client ID: " + s.clientID
	}
	fmt.Fprintf(f, "crypto.Store{provider: %s%s, inner: %T, data-key cache: %t, record cache: %t}", s.provider, app, s.Inner, s.cache != nil, s.records != nil)
}

// LogValue implements [slog.LogValuer], with the same fields as Format.
func (s *Store) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", s.provider), slog.String("client_id", s.clientID), slog.String("inner", fmt.Sprintf("%T", s.Inner)),
		slog.Bool("data_key_cache", s.cache != nil), slog.Bool("record_cache", s.records != nil))
}

// ClientID implements [installstore.AppScoped]: the client ID of the Slack
// app the stack below is scoped to and this layer binds into every value it
// seals, or "" when unscoped.
func (s *Store) ClientID() string { return s.clientID }

// Unwrap implements [installstore.Unwrapper]: the store below.
func (s *Store) Unwrap() []installstore.FullStore { return []installstore.FullStore{s.Inner} }

// StoreInstallation implements [installstore.Store]: it seals a copy of inst
// and stores that.
func (s *Store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	defer s.invalidate(inst.Tenant()) // after the write, whatever became of it (a failed seal too)
	sealed := inst.Clone()
	if err := s.seal(ctx, sealed); err != nil {
		return err
	}
	if err := s.Inner.StoreInstallation(ctx, sealed); err != nil {
		return err
	}
	inst.Version, inst.InstalledAt = sealed.Version, sealed.InstalledAt
	if inst.Bot != nil && sealed.Bot != nil {
		inst.Bot.InstalledAt = sealed.Bot.InstalledAt
	}
	return nil
}

// FetchInstallation implements [installstore.Store]. A record the inner
// store answers with must be q's: its tenant, or one of the two records the
// Grid fallback may serve a workspace (E, T) with — the standalone record of
// the same team (no enterprise, T) and the enterprise's org-wide install —
// and q's user. It opens bound to the record's own tenant.
//
// With [WithRecordCache], a fresh cached copy is returned instead, unless
// ctx comes from [WithFreshRead].
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	var gen uint64
	if s.records != nil {
		if !freshRead(ctx) {
			if inst := s.records.get(q); inst != nil {
				return inst, nil
			}
		}
		gen = s.records.gen.Load() // before the read: a write after it keeps this read out of the cache
	}
	inst, err := s.Inner.FetchInstallation(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := belongs(q, inst); err != nil {
		s.metrics.decryptFailures.Add(ctx, 1)
		return nil, fmt.Errorf("crypto: fetch %s: %w", describe(q), err)
	}
	keysFrom, err := s.openKnown(ctx, inst, nil)
	if err != nil {
		if !errors.Is(err, installstore.ErrUnavailable) {
			s.metrics.decryptFailures.Add(ctx, 1)
		}
		return nil, err
	}
	if s.records != nil {
		s.records.put(q, inst, gen, keysFrom, s.cache.maxAge)
	}
	return inst, nil
}

// invalidate drops the record cache's entries a write to t may change.
func (s *Store) invalidate(t installstore.Tenant) {
	if s.records != nil {
		s.records.invalidate(t)
	}
}

// DeleteInstallation implements [installstore.Store]: it passes through,
// and invalidates the tenant's cached records.
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	defer s.invalidate(q.Tenant())
	return s.Inner.DeleteInstallation(ctx, q)
}

// DeleteBot implements [installstore.BotDeleter]: it passes through, and
// invalidates the tenant's cached records.
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	defer s.invalidate(q.Tenant())
	return s.Inner.DeleteBot(ctx, q)
}

// DeleteInstallationIf implements [installstore.ConditionalDeleter]: it
// passes through, and invalidates the tenant's cached records.
func (s *Store) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	defer s.invalidate(q.Tenant())
	return s.Inner.DeleteInstallationIf(ctx, q, version)
}

// DeleteBotIf implements [installstore.ConditionalDeleter]: it passes
// through, and invalidates the tenant's cached records.
func (s *Store) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	defer s.invalidate(q.Tenant())
	return s.Inner.DeleteBotIf(ctx, q, version)
}

// UpdateInstallation implements [installstore.Updater]: it seals a copy of
// inst and conditionally updates with that.
func (s *Store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	defer s.invalidate(inst.Tenant()) // after the write, whatever became of it (a failed seal too)
	sealed := inst.Clone()
	if err := s.seal(ctx, sealed); err != nil {
		return err
	}
	if err := s.Inner.UpdateInstallation(ctx, sealed); err != nil {
		return err
	}
	inst.Version, inst.InstalledAt = sealed.Version, sealed.InstalledAt
	return nil
}

// ListInstallations implements [installstore.Lister]. A record that cannot
// be opened ([ErrDecrypt]) is never handed to fn and does not stop the
// listing, exactly as the inner store goes past a record it cannot decode
// ([installstore.ErrCorrupt]): the other records are listed, and the
// returned error joins the inner store's report with one error per record
// that did not open, naming its tenant and user. When the key provider does
// not answer ([installstore.ErrUnavailable]) the listing stops with that
// error alone (what did not open before is counted in its message, not
// wrapped: the error stays transient). An error fn returns stops the
// listing and is returned.
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	var l listing
	err := s.Inner.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		err := belongs(q, inst)
		if err == nil {
			err = s.open(ctx, inst)
		}
		return l.item(ctx, s, "list", describe(q), err, func() error { return fn(q, inst) })
	})
	return l.result(err)
}

// listing gathers what a listing through the layer did not open.
type listing struct {
	failed      []error
	unavailable error
	fnErr       error
}

// item handles one listed item: hands it to fn when it opened (err nil),
// stops the listing when the key provider did not answer, and otherwise
// records it as skipped, named by what (never its content).
func (l *listing) item(ctx context.Context, s *Store, op, what string, err error, fn func() error) error {
	switch {
	case err == nil:
		l.fnErr = fn()
		return l.fnErr
	case errors.Is(err, installstore.ErrUnavailable):
		l.unavailable = fmt.Errorf("crypto: %s: %s: %w", op, what, err)
		return l.unavailable
	}
	s.metrics.decryptFailures.Add(ctx, 1)
	l.failed = append(l.failed, fmt.Errorf("crypto: %s %s: %w", op, what, err))
	return nil
}

// result is the listing's error, given the inner listing's.
func (l *listing) result(err error) error {
	switch {
	case l.fnErr != nil:
		return err
	case l.unavailable != nil:
		if len(l.failed) == 0 {
			return l.unavailable
		}
		return fmt.Errorf("%w (the listing stopped; %d items before did not open)", l.unavailable, len(l.failed))
	case errors.Is(err, installstore.ErrUnavailable):
		return err // the backend stopped; the error stays transient
	}
	return errors.Join(append([]error{err}, l.failed...)...)
}

// belongs checks that the record the inner store returned for q is q's:
// the same tenant and user, or for a workspace of an enterprise (E, T) one
// of the two records the Grid fallback serves it with: the standalone
// record of the same team (no enterprise, T) and the enterprise's org-wide
// install (E). A store that answered with any other tenant's record would
// otherwise get it opened, since a record's binding is its own tenant's.
func belongs(q installstore.Query, inst *installstore.Installation) error {
	t := inst.Tenant()
	ok := t == q.Tenant()
	if !ok && !q.IsEnterpriseInstall && q.EnterpriseID != "" {
		ok = t == installstore.Tenant{TeamID: q.TeamID} ||
			inst.IsEnterpriseInstall && t == installstore.Tenant{EnterpriseID: q.EnterpriseID}
	}
	if !ok || (q.UserID != "" && inst.User.ID != q.UserID) {
		return fmt.Errorf("%w: the store returned a record of tenant %s user %q", ErrDecrypt, t, inst.User.ID)
	}
	return nil
}

// describe names a query's tenant and user for errors.
func describe(q installstore.Query) string {
	if q.UserID != "" {
		return "tenant " + q.Tenant().String() + " user " + q.UserID
	}
	return "tenant " + q.Tenant().String()
}
