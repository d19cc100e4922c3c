package crypto

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/installvault/installvault/installstore"
)

// seal replaces every secret of inst (a copy) with its sealed form.
func (s *Store) seal(ctx context.Context, inst *installstore.Installation) error {
	if !hasSecrets(inst) {
		return nil
	}
	t := inst.Tenant()
	if err := refuseSealed(inst); err != nil {
		return err
	}
	dk, err := s.writeKey(ctx, t)
	if err != nil {
		return sealError(t, err)
	}
	return s.sealWith(inst, dk)
}

// sealWith seals every secret group of inst under dk (format 2), and
// refuses a secret that no group holds (one added to installstore later:
// it would otherwise reach the backend in plaintext).
func (s *Store) sealWith(inst *installstore.Installation, dk *dataKey) error {
	t := inst.Tenant()
	var gs [3]secretGroup
	for _, g := range groupsOf(inst, &gs) {
		if err := sealGroup(&s.bufs, dk, s.clientID, t, aadUser(g.kind, inst), groupOwner(g.kind, inst), &g); err != nil {
			return err
		}
	}
	return inst.Secrets(func(field string, sec *installstore.Secret) error {
		if !sec.IsSealed() {
			return fmt.Errorf("crypto: seal %s of tenant %s: %w: this layer does not know the field", field, t, installstore.ErrInvalid)
		}
		return nil
	})
}

// refuseSealed refuses an installation holding a value that is already
// sealed: sealing it again would hand the sealed value out as the token.
func refuseSealed(inst *installstore.Installation) error {
	t := inst.Tenant()
	return inst.Secrets(func(field string, sec *installstore.Secret) error {
		if sec.IsSealed() {
			return fmt.Errorf("crypto: seal %s of tenant %s: %w: the value is already sealed (%s...); "+
				"a backup holds sealed values and is restored to the backend below the encryption layer "+
				"(backup.Import into the store crypto.NewStore wraps, not into the crypto.Store)",
				field, t, installstore.ErrInvalid, installstore.SealedPrefix)
		}
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
func (s *Store) writeKey(ctx context.Context, t installstore.Tenant) (*dataKey, error) {
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

// generate asks the provider for a new data key for the tenant (and the
// app, for an app-scoped store).
func (s *Store) generate(ctx context.Context, t installstore.Tenant) (*dataKey, error) {
	var (
		k   *DataKey
		err error
	)
	if s.clientID != "" {
		k, err = s.appKeys.GenerateAppDataKey(ctx, t, s.clientID)
	} else {
		k, err = s.keys.GenerateDataKey(ctx, t)
	}
	s.metrics.providerCall(ctx, true, err)
	if err != nil {
		return nil, err
	}
	dk, err := fromProvider(s.provider, k)
	if err != nil {
		return nil, err
	}
	dk.obtained = s.now()
	return dk, nil
}

// memo remembers the data keys one operation has unwrapped, so a record
// whose values share a data key unwraps it once even without a cache, and
// parses each shared header once.
type memo struct {
	n  int
	dk [2]*dataKey
}

// matchV1 returns the remembered data key the format 1 value v is sealed
// under, and v's parts.
func (m *memo) matchV1(v string) (*dataKey, sealedParts, bool) {
	for i := range m.n {
		if p, ok := parseWithHeader(v, m.dk[i].header); ok {
			return m.dk[i], p, true
		}
	}
	return nil, sealedParts{}, false
}

// matchV2 returns the remembered data key the format 2 value v is sealed
// under, and v's body.
func (m *memo) matchV2(v string) (*dataKey, string, bool) {
	for i := range m.n {
		if body, ok := bodyWithHeader(v, m.dk[i].header); ok {
			return m.dk[i], body, true
		}
	}
	return nil, "", false
}

func (m *memo) put(dk *dataKey) {
	i := m.n % len(m.dk)
	m.dk[i] = dk
	m.n = min(m.n+1, len(m.dk))
}

// open replaces every sealed secret of inst (the store's copy) with its
// plaintext, or fails with ErrDecrypt (or installstore.ErrUnavailable)
// naming the tenant and field.
func (s *Store) open(ctx context.Context, inst *installstore.Installation) error {
	_, err := s.openKnown(ctx, inst, nil)
	return err
}

// opener is the state of one openKnown.
type opener struct {
	s        *Store
	ctx      context.Context
	inst     *installstore.Installation
	t        installstore.Tenant
	known    map[string]*dataKey
	m        memo
	keysFrom time.Time
	scratch  []byte
	pts      []byte // every plaintext, one allocation once converted
	slots    [5]slot
	nslots   int
}

type slot struct {
	sec        *installstore.Secret
	start, end int
}

// openKnown is open, taking the data keys in known (by header) before the
// cache and the provider. It returns when the oldest data key it used came
// from the key provider (zero when it used none).
//
// Each secret group opens with one AEAD (format 2); a group whose values are
// in format 1 opens value by value. All of a record's plaintexts share one
// allocation; the scratch space, one pooled buffer, is wiped.
func (s *Store) openKnown(ctx context.Context, inst *installstore.Installation, known map[string]*dataKey) (time.Time, error) {
	var gs [3]secretGroup
	groups := groupsOf(inst, &gs)
	total, longest := 0, 0
	for gi := range groups {
		for i := range groups[gi].n {
			n := len(groups[gi].secs[i].Reveal())
			total += n // a sealed value is longer than its plaintext
			longest = max(longest, n)
		}
	}
	if total == 0 {
		return time.Time{}, nil
	}
	o := opener{s: s, ctx: ctx, inst: inst, t: inst.Tenant(), known: known}
	scratchLen := max(openScratch(longest, o.t, inst.User.ID, maxFieldName), openScratchV2(longest, s.clientID, o.t, inst.User.ID))
	buf := s.bufs.get(total + scratchLen)
	defer s.bufs.put(buf)
	o.pts, o.scratch = (*buf)[:0:total], (*buf)[total:]
	for gi := range groups {
		if err := o.group(&groups[gi]); err != nil {
			return time.Time{}, err
		}
	}
	all := string(o.pts)
	var dst [len(o.slots)]*installstore.Secret
	var vals [len(o.slots)]string
	for i, sl := range o.slots[:o.nslots] {
		dst[i], vals[i] = sl.sec, all[sl.start:sl.end]
	}
	installstore.SetSecrets(dst[:o.nslots], vals[:o.nslots])
	return o.keysFrom, nil
}

// group opens one secret group.
func (o *opener) group(g *secretGroup) error {
	first := g.first()
	if first < 0 {
		return nil
	}
	v := g.secs[first].Reveal()
	switch {
	case strings.HasPrefix(v, v2Prefix):
		return o.groupV2(g, first, v)
	case strings.HasPrefix(v, v1Prefix):
		if o.s.clientID != "" {
			// Format 1 binds no app, and no app-scoped store ever held
			// it (scoping came with format 2): such a value was copied
			// in from an unscoped table, a backup or another app.
			return decryptError(o.t, g.names[first], errV1Unbound)
		}
		for i := first; i < g.n; i++ {
			if !g.secs[i].IsZero() {
				if err := o.valueV1(g.names[i], g.secs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	_, err := parseSealed(v) // says why: not sealed, or malformed
	return decryptError(o.t, g.names[first], err)
}

// key returns the data key a parsed value names: known, the cache, or the
// provider.
func (o *opener) key(field string, p sealedParts) (*dataKey, error) {
	if p.provider != o.s.provider {
		return nil, decryptError(o.t, field, fmt.Errorf("sealed by key provider %q, this store uses %q", p.provider, o.s.provider))
	}
	var dk *dataKey
	if o.known != nil {
		dk = o.known[p.header]
	}
	if dk == nil {
		var err error
		if dk, err = o.s.readKey(o.ctx, o.t, p); err != nil {
			return nil, decryptError(o.t, field, err)
		}
	}
	o.m.put(dk)
	if o.keysFrom.IsZero() || dk.obtained.Before(o.keysFrom) {
		o.keysFrom = dk.obtained
	}
	return dk, nil
}

// groupV2 opens a format 2 group whose first present field holds v.
func (o *opener) groupV2(g *secretGroup, first int, v string) error {
	field := g.names[first]
	dk, body, ok := o.m.matchV2(v)
	if !ok {
		dk, body, ok = o.cachedV2(v)
	}
	if !ok {
		p, err := parseSealed(v)
		if err == nil && p.marker {
			err = errors.New("a marker where the group's sealed value belongs")
		}
		if err != nil {
			return decryptError(o.t, field, err)
		}
		if dk, err = o.key(field, p); err != nil {
			return err
		}
		body = p.body
	}
	start := len(o.pts)
	pts, err := openBody(dk, body, o.s.clientID, o.t, aadUser(g.kind, o.inst), g.kind, o.scratch, o.pts)
	if err != nil {
		return decryptError(o.t, field, err)
	}
	o.pts = pts
	gf, err := decodeGroup(pts[start:], g.n)
	if err != nil {
		return decryptError(o.t, field, err)
	}
	if !ownerOK(g.kind, pts[start+gf.ownerS:start+gf.ownerE], o.inst) {
		return decryptError(o.t, field, errors.New("sealed for another user"))
	}
	for i := range g.n {
		present := gf.presence&(1<<i) != 0
		switch {
		case i == first && !present,
			i != first && present && g.secs[i].Reveal() != dk.marker,
			!present && !g.secs[i].IsZero():
			return decryptError(o.t, g.names[i], errors.New("the record's fields do not match its sealed group"))
		}
		if present {
			o.slots[o.nslots] = slot{g.secs[i], start + gf.start[i], start + gf.end[i]}
			o.nslots++
		}
	}
	return nil
}

// cachedV2 finds the data key of the format 2 value v in the data-key
// cache without parsing v's header field by field: only a header that was
// parsed and validated before is in the cache. ok is false on a miss (the
// caller parses v, and the provider unwraps).
func (o *opener) cachedV2(v string) (*dataKey, string, bool) {
	if o.s.cache == nil {
		return nil, "", false
	}
	rest := v[len(installstore.SealedPrefix):]
	end := -1 // the fourth '.': the header is "2.provider.keyid.wrapped"
	for dots, from := 0, 0; dots < 4; dots++ {
		i := strings.IndexByte(rest[from:], '.')
		if i < 0 {
			end = -1
			break
		}
		end, from = from+i, from+i+1
	}
	if end < 0 || !bodyOK(rest[end+1:]) {
		return nil, "", false
	}
	dk := o.s.cache.read(o.t, rest[:end])
	if dk == nil {
		return nil, "", false
	}
	o.s.metrics.cacheLookup(o.ctx, false, true)
	o.m.put(dk)
	if o.keysFrom.IsZero() || dk.obtained.Before(o.keysFrom) {
		o.keysFrom = dk.obtained
	}
	return dk, rest[end+1:], true
}

// valueV1 opens one format 1 value.
func (o *opener) valueV1(field string, sec *installstore.Secret) error {
	v := sec.Reveal()
	dk, p, ok := o.m.matchV1(v)
	if !ok {
		var err error
		if p, err = parseSealed(v); err == nil && p.version != formatV1 {
			err = fmt.Errorf("%w: format 2 value in a format 1 group", errMalformed)
		}
		if err != nil {
			return decryptError(o.t, field, err)
		}
		if dk, err = o.key(field, p); err != nil {
			return err
		}
	}
	start := len(o.pts)
	pts, err := openInto(dk, p, o.t, boundUser(field, o.inst), field, o.scratch, o.pts)
	if err != nil {
		return decryptError(o.t, field, err)
	}
	o.pts = pts
	o.slots[o.nslots] = slot{sec, start, len(pts)}
	o.nslots++
	return nil
}

// maxFieldName is the longest secret field name, for scratch sizes.
const maxFieldName = "incoming_webhook.url.........." // room for fields added later

// readKey returns the unwrapped data key a sealed value names, from the
// cache or the provider. With the cache, concurrent misses for one data key
// share a single unwrap.
func (s *Store) readKey(ctx context.Context, t installstore.Tenant, p sealedParts) (*dataKey, error) {
	if s.cache == nil {
		return s.unwrap(ctx, t, p)
	}
	dk := s.cache.read(t, p.header)
	s.metrics.cacheLookup(ctx, false, dk != nil)
	if dk != nil {
		return dk, nil
	}
	v, err, _ := s.cache.flight.Do(t.Key()+"\x00"+p.header, func() (any, error) {
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

// unwrap asks the provider for the data key a sealed value names. A format
// 2 key of an app-scoped store is bound to the app; format 1 keys never
// were.
func (s *Store) unwrap(ctx context.Context, t installstore.Tenant, p sealedParts) (*dataKey, error) {
	keyID, err := decodeField(p.keyID)
	if err != nil {
		return nil, err
	}
	wrapped, err := decodeField(p.wrapped)
	if err != nil {
		return nil, err
	}
	var pt []byte
	if p.version == formatV2 && s.clientID != "" {
		pt, err = s.appKeys.UnwrapAppDataKey(ctx, t, s.clientID, string(keyID), wrapped)
	} else {
		pt, err = s.keys.UnwrapDataKey(ctx, t, string(keyID), wrapped)
	}
	s.metrics.providerCall(ctx, false, err)
	if err != nil {
		return nil, err
	}
	dk, err := newDataKey(strings.Clone(p.header), strings.Clone(p.keyID), pt)
	if err != nil {
		return nil, err
	}
	dk.obtained = s.now()
	return dk, nil
}
