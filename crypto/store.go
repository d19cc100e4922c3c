package crypto

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
)

// store is the encryption layer. NewStore returns it through
// installstore.Mirror, so callers see exactly the inner store's capabilities.
type store struct {
	installstore.Passthrough // deletes, nonces and leases
	keys                     KeyProvider
	provider                 string
	cache                    *keyCache // nil without WithDataKeyCache
	metrics                  instruments
	bufs                     bufPool
}

var _ installstore.FullStore = (*store)(nil)

// NewStore returns a store that seals every secret of an installation with
// keys before handing it to inner, and opens them on the way out. It
// implements exactly the optional interfaces of installstore that inner
// implements ([installstore.BotDeleter], [installstore.Updater],
// [installstore.Lister], [installstore.NonceStore], [installstore.Leaser]);
// deletes, nonces and leases pass through unchanged.
//
// Writes never change the caller's Installation except Version and
// InstalledAt, as the inner store sets them. Reads fail with an error
// wrapping [ErrDecrypt] for any record that cannot be opened, including one
// holding a secret that is not sealed.
func NewStore(inner installstore.Store, keys KeyProvider, opts ...Option) (installstore.Store, error) {
	if inner == nil || keys == nil {
		return nil, fmt.Errorf("crypto: new store: %w: inner store and key provider are required", installstore.ErrInvalid)
	}
	if !validProviderName(keys.Name()) {
		return nil, fmt.Errorf("crypto: new store: %w: key provider name %q is not 1 to 32 bytes of [a-z0-9-]", installstore.ErrInvalid, keys.Name())
	}
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.err != nil {
		return nil, c.err
	}
	s := &store{Passthrough: installstore.Passthrough{Inner: inner}, keys: keys, provider: keys.Name()}
	if c.cache {
		s.cache = newKeyCache(&c)
	}
	var err error
	if s.metrics, err = newInstruments(c.meter); err != nil {
		return nil, fmt.Errorf("crypto: new store: metrics: %w", err)
	}
	return installstore.Mirror(s, inner), nil
}

// StoreInstallation implements [installstore.Store]: it seals a copy of inst
// and stores that.
func (s *store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	sealed := inst.Clone()
	if err := s.seal(ctx, sealed); err != nil {
		return err
	}
	if err := s.Inner.StoreInstallation(ctx, sealed); err != nil {
		return err
	}
	inst.Version, inst.InstalledAt = sealed.Version, sealed.InstalledAt
	return nil
}

// FetchInstallation implements [installstore.Store].
func (s *store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	inst, err := s.Inner.FetchInstallation(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := belongs(q, inst); err != nil {
		s.metrics.decryptFailures.Add(ctx, 1)
		return nil, fmt.Errorf("crypto: fetch %s: %w", describe(q), err)
	}
	if err := s.open(ctx, inst); err != nil {
		s.metrics.decryptFailures.Add(ctx, 1)
		return nil, fmt.Errorf("crypto: fetch %s: %w", describe(q), err)
	}
	return inst, nil
}

// UpdateInstallation implements [installstore.Updater]: it seals a copy of
// inst and conditionally updates with that.
func (s *store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	sealed := inst.Clone()
	if err := s.seal(ctx, sealed); err != nil {
		return err
	}
	if err := s.Inner.(installstore.Updater).UpdateInstallation(ctx, sealed); err != nil {
		return err
	}
	inst.Version, inst.InstalledAt = sealed.Version, sealed.InstalledAt
	return nil
}

// ListInstallations implements [installstore.Lister]. A record that cannot
// be opened is never handed to fn, and does not stop the listing: the other
// records are listed, and the returned error wraps [ErrDecrypt] and names
// every record that failed. An error fn returns stops the listing.
func (s *store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	if p, ok := ctx.Value(probeKey{}).(*probe); ok {
		p.s = s
		return nil
	}
	var failed []error
	err := s.Inner.(installstore.Lister).ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		err := belongs(q, inst)
		if err == nil {
			err = s.open(ctx, inst)
		}
		if err != nil {
			s.metrics.decryptFailures.Add(ctx, 1)
			failed = append(failed, fmt.Errorf("crypto: list %s: %w", describe(q), err))
			return nil
		}
		return fn(q, inst)
	})
	if err != nil {
		return err
	}
	return errors.Join(failed...)
}

// belongs checks that the record the inner store returned for q is q's: the
// same tenant (or, for a workspace of an enterprise, the enterprise's
// org-wide install) and the same user. A store that answers with another
// tenant's record would otherwise get it opened, since a record's binding is
// its own tenant's.
func belongs(q installstore.Query, inst *installstore.Installation) error {
	t := inst.Tenant()
	sameTenant := t == q.Tenant() ||
		(!q.IsEnterpriseInstall && inst.IsEnterpriseInstall && q.EnterpriseID != "" && t == installstore.Tenant{EnterpriseID: q.EnterpriseID})
	if !sameTenant || (q.UserID != "" && inst.User.ID != q.UserID) {
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

// seal replaces every secret of inst (a copy) with its sealed form.
func (s *store) seal(ctx context.Context, inst *installstore.Installation) error {
	if !hasSecrets(inst) {
		return nil
	}
	t := inst.Tenant()
	dk, err := s.writeKey(ctx, t)
	if err != nil {
		return fmt.Errorf("crypto: seal tenant %s: %w", t, err)
	}
	return s.sealWith(inst, dk)
}

// sealWith seals every secret of inst under dk.
func (s *store) sealWith(inst *installstore.Installation, dk *dataKey) error {
	t := inst.Tenant()
	return inst.Secrets(func(field string, sec *installstore.Secret) error {
		v, err := sealValue(&s.bufs, dk, t, boundUser(field, inst), field, sec.Reveal())
		if err != nil {
			return err
		}
		*sec = installstore.Secret(v)
		return nil
	})
}

// errFound stops the walk of hasSecrets.
var errFound = errors.New("found")

// hasSecrets reports whether inst has a non-empty secret.
func hasSecrets(inst *installstore.Installation) bool {
	return inst.Secrets(func(string, *installstore.Secret) error { return errFound }) != nil
}

// writeKey returns the data key to seal the tenant's next record with.
func (s *store) writeKey(ctx context.Context, t installstore.Tenant) (*dataKey, error) {
	if s.cache != nil {
		dk := s.cache.write(t)
		s.metrics.cacheLookup(ctx, true, dk != nil)
		if dk != nil {
			return dk, nil
		}
	}
	dk, err := s.generate(ctx, t)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.putWrite(t, dk)
	}
	return dk, nil
}

// generate asks the provider for a new data key for the tenant.
func (s *store) generate(ctx context.Context, t installstore.Tenant) (*dataKey, error) {
	k, err := s.keys.GenerateDataKey(ctx, t)
	s.metrics.providerCall(ctx, true, err)
	if err != nil {
		return nil, fmt.Errorf("generate data key: %w", err)
	}
	return fromProvider(s.provider, k)
}

// memo remembers the data keys one operation has unwrapped, so a record
// whose values share a data key unwraps it once even without a cache.
type memo struct {
	n      int
	header [2]string
	dk     [2]*dataKey
}

func (m *memo) get(header string) *dataKey {
	for i := range m.n {
		if m.header[i] == header {
			return m.dk[i]
		}
	}
	return nil
}

func (m *memo) put(header string, dk *dataKey) {
	i := m.n % len(m.dk)
	m.header[i], m.dk[i] = header, dk
	m.n = min(m.n+1, len(m.dk))
}

// open replaces every sealed secret of inst (the store's copy) with its
// plaintext, or fails with ErrDecrypt naming the tenant and field. All of a
// record's plaintexts share one allocation; the scratch copy is wiped.
func (s *store) open(ctx context.Context, inst *installstore.Installation) error {
	type slot struct {
		sec        *installstore.Secret
		start, end int
	}
	var (
		m       memo
		backing [5]slot
		slots   = backing[:0]
		total   int
	)
	_ = inst.Secrets(func(_ string, sec *installstore.Secret) error {
		total += len(sec.Reveal()) // a sealed value is longer than its plaintext
		return nil
	})
	if total == 0 {
		return nil
	}
	buf := s.bufs.get(total)
	defer s.bufs.put(buf)
	pts := (*buf)[:0]
	t := inst.Tenant()
	err := inst.Secrets(func(field string, sec *installstore.Secret) error {
		p, err := parseSealed(sec.Reveal())
		if err != nil {
			return decryptError(t, field, err)
		}
		if p.provider != s.provider {
			return decryptError(t, field, fmt.Errorf("sealed by key provider %q, this store uses %q", p.provider, s.provider))
		}
		dk := m.get(p.header)
		if dk == nil {
			if dk, err = s.readKey(ctx, t, p); err != nil {
				return decryptError(t, field, err)
			}
			m.put(p.header, dk)
		}
		start := len(pts)
		if pts, err = openValue(&s.bufs, dk, p, t, boundUser(field, inst), field, pts); err != nil {
			return decryptError(t, field, err)
		}
		slots = append(slots, slot{sec, start, len(pts)})
		return nil
	})
	if err != nil {
		return err
	}
	all := string(pts)
	for _, sl := range slots {
		*sl.sec = installstore.Secret(all[sl.start:sl.end])
	}
	return nil
}

// readKey returns the unwrapped data key a sealed value names, from the
// cache or the provider. With the cache, concurrent misses for one data key
// share a single unwrap.
func (s *store) readKey(ctx context.Context, t installstore.Tenant, p sealedParts) (*dataKey, error) {
	if s.cache == nil {
		return s.unwrap(ctx, t, p)
	}
	dk := s.cache.read(t, p.header)
	s.metrics.cacheLookup(ctx, false, dk != nil)
	if dk != nil {
		return dk, nil
	}
	v, err, _ := s.cache.flight.Do(t.String()+"\x00"+p.header, func() (any, error) {
		if dk := s.cache.read(t, p.header); dk != nil { // filled by a flight that just ended
			return dk, nil
		}
		dk, err := s.unwrap(ctx, t, p)
		if err != nil {
			return nil, err
		}
		s.cache.putRead(t, dk)
		return dk, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*dataKey), nil
}

// unwrap asks the provider for the data key a sealed value names.
func (s *store) unwrap(ctx context.Context, t installstore.Tenant, p sealedParts) (*dataKey, error) {
	keyID, err := decodeField(p.keyID)
	if err != nil {
		return nil, err
	}
	wrapped, err := decodeField(p.wrapped)
	if err != nil {
		return nil, err
	}
	pt, err := s.keys.UnwrapDataKey(ctx, t, string(keyID), wrapped)
	s.metrics.providerCall(ctx, false, err)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	return newDataKey(strings.Clone(p.header), strings.Clone(p.keyID), pt)
}
