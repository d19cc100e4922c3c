package crypto_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// router is a residency-like router for these tests: tenants whose
// enterprise (or, without one, team) ID contains "EU" go to eu, the others
// to us. It lists both and unwraps to both.
type router struct{ eu, us installstore.FullStore }

var _ installstore.Unwrapper = router{}

func (r router) region(t installstore.Tenant) installstore.FullStore {
	id := t.EnterpriseID
	if id == "" {
		id = t.TeamID
	}
	if strings.Contains(id, "EU") {
		return r.eu
	}
	return r.us
}

func (r router) Unwrap() []installstore.FullStore { return []installstore.FullStore{r.eu, r.us} }

func (r router) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	return r.region(inst.Tenant()).StoreInstallation(ctx, inst)
}
func (r router) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	return r.region(q.Tenant()).FetchInstallation(ctx, q)
}
func (r router) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	return r.region(q.Tenant()).DeleteInstallation(ctx, q)
}
func (r router) DeleteBot(ctx context.Context, q installstore.Query) error {
	return r.region(q.Tenant()).DeleteBot(ctx, q)
}
func (r router) DeleteInstallationIf(ctx context.Context, q installstore.Query, v int64) error {
	return r.region(q.Tenant()).DeleteInstallationIf(ctx, q, v)
}
func (r router) DeleteBotIf(ctx context.Context, q installstore.Query, v int64) error {
	return r.region(q.Tenant()).DeleteBotIf(ctx, q, v)
}
func (r router) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	return r.region(inst.Tenant()).UpdateInstallation(ctx, inst)
}
func (r router) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	return errors.Join(r.eu.ListInstallations(ctx, fn), r.us.ListInstallations(ctx, fn))
}
func (r router) ListDue(ctx context.Context, before time.Time, fn func(installstore.Query, time.Time) error) error {
	return errors.Join(r.eu.ListDue(ctx, before, fn), r.us.ListDue(ctx, before, fn))
}
func (r router) PutNonce(ctx context.Context, n string, exp time.Time) error {
	return r.us.PutNonce(ctx, n, exp)
}
func (r router) ConsumeNonce(ctx context.Context, n string) error { return r.us.ConsumeNonce(ctx, n) }
func (r router) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	return r.us.AcquireLease(ctx, name, owner, ttl)
}
func (r router) ReleaseLease(ctx context.Context, name, owner string) error {
	return r.us.ReleaseLease(ctx, name, owner)
}

var regionTenants = []*installstore.Installation{
	storetest.Fixture("", "TEU1", "U1", "a"),
	storetest.Fixture("", "TUS1", "U1", "b"),
	storetest.Fixture("EEU", "T7", "U2", "c"),
	storetest.OrgFixture("EUS", "U3", "d"),
}

func TestRewrapResidencyOverPerRegionCrypto(t *testing.T) {
	euBackend, usBackend := memory.New(), memory.New()
	euOld, usOld := keyring(t, "eu1", "eu1"), keyring(t, "us1", "us1")
	old := router{eu: newStore(t, euBackend, euOld), us: newStore(t, usBackend, usOld)}
	for _, inst := range regionTenants {
		require.NoError(t, old.StoreInstallation(bg, inst.Clone()))
	}
	euBoth, usBoth := keyring(t, "eu2", "eu1", "eu2"), keyring(t, "us2", "us1", "us2")
	s := router{eu: newStore(t, euBackend, euBoth), us: newStore(t, usBackend, usBoth)}
	stats, err := crypto.Rewrap(bg, s)
	require.NoError(t, err)
	require.Equal(t, 8, stats.Seen, "both regions' records")
	require.Zero(t, stats.Failed)
	require.Equal(t, 4, stats.Rewrapped, "one update per tenant, in both regions")
	require.Equal(t, 4, stats.Current)

	// Retire both old keys: every record of both regions still opens.
	euNew, err := crypto.NewLocalKeyring(map[string][]byte{"eu2": masterKey(2)}, "eu2")
	require.NoError(t, err)
	usNew, err := crypto.NewLocalKeyring(map[string][]byte{"us2": masterKey(2)}, "us2")
	require.NoError(t, err)
	retired := router{eu: newStore(t, euBackend, euNew), us: newStore(t, usBackend, usNew)}
	for _, inst := range regionTenants {
		got, err := retired.FetchInstallation(bg, inst.Query())
		require.NoError(t, err, "%v", inst.Tenant())
		storetest.Equal(t, inst, got)
	}
	stats, err = crypto.Rewrap(bg, retired)
	require.NoError(t, err)
	require.Equal(t, crypto.RewrapStats{Seen: 8, Current: 8}, stats)
}

func TestRewrapCryptoOverResidency(t *testing.T) {
	eu, us := memory.New(), memory.New()
	r := router{eu: eu, us: us}
	old := newStore(t, r, keyring(t, "k1", "k1"))
	for _, inst := range regionTenants {
		require.NoError(t, old.StoreInstallation(bg, inst.Clone()))
	}
	stats, err := crypto.Rewrap(bg, newStore(t, r, keyring(t, "k2", "k1", "k2")))
	require.NoError(t, err)
	require.Equal(t, crypto.RewrapStats{Seen: 8, Rewrapped: 4, Current: 4}, stats)
}

func TestRewrapNeverCallsAnUnopenedRecordCurrent(t *testing.T) {
	inner := memory.New()
	require.NoError(t, newStore(t, inner, keyring(t, "k1", "k1")).StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, newStore(t, inner, keyring(t, "k1", "k1")).StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "a")))
	// The right key name, the wrong bytes.
	wrong, err := crypto.NewLocalKeyring(map[string][]byte{"k1": masterKey(9)}, "k1")
	require.NoError(t, err)
	stats, err := crypto.Rewrap(bg, newStore(t, inner, wrong))
	requirePermanent(t, err)
	require.Equal(t, crypto.RewrapStats{Seen: 4, Failed: 4}, stats)
	require.Contains(t, err.Error(), "tenant T1")
	require.Contains(t, err.Error(), "tenant T2")
}

// skipping is a backend whose listing skips (reports) a corrupt record, as
// the contract says backends do.
type skipping struct{ *memory.Store }

func (s skipping) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	if err := s.Store.ListInstallations(ctx, fn); err != nil {
		return err
	}
	return fmtErr("backend: list: %w: tenant TBAD (1 record)", installstore.ErrCorrupt)
}

func TestRewrapAndListNameSkippedRecords(t *testing.T) {
	backend := memory.New()
	inner := skipping{backend}
	w := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, w.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, w.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "a")))
	lost := newStore(t, inner, keyring(t, "lost", "lost"))
	require.NoError(t, lost.StoreInstallation(bg, storetest.Fixture("", "T3", "U1", "a")))

	seen, err := listAll(t, w)
	require.ErrorIs(t, err, installstore.ErrCorrupt, "the backend's report passes through")
	require.ErrorIs(t, err, crypto.ErrDecrypt, "with what did not open")
	require.False(t, errors.Is(err, installstore.ErrUnavailable))
	require.Contains(t, err.Error(), "tenant TBAD")
	require.Contains(t, err.Error(), "tenant T3")
	require.Len(t, seen, 4)

	stats, err := crypto.Rewrap(bg, newStore(t, inner, keyring(t, "k2", "k1", "k2")))
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.Contains(t, err.Error(), "tenant TBAD")
	require.Contains(t, err.Error(), "tenant T3")
	require.Equal(t, crypto.RewrapStats{Seen: 6, Rewrapped: 2, Current: 2, Failed: 2}, stats)
}

func TestRefusesDoubleSealing(t *testing.T) {
	backend := memory.New()
	s := newStore(t, backend, keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	sealed := rawRecord(t, backend, installstore.Query{TeamID: "T1", UserID: "U1"})

	// A backup (sealed values) restored through the layer.
	err := s.StoreInstallation(bg, sealed.Clone())
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.Contains(t, err.Error(), "below the encryption layer")
	require.NotContains(t, err.Error(), sealed.Bot.Token.Reveal())
	upd, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	upd.User.Token = sealed.User.Token
	require.ErrorIs(t, s.UpdateInstallation(bg, upd), installstore.ErrInvalid)
	// A format 2 marker alone is a sealed value too.
	upd, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	upd.Bot.RefreshToken = sealed.Bot.RefreshToken
	require.ErrorIs(t, s.UpdateInstallation(bg, upd), installstore.ErrInvalid)
	// Nothing changed, and the record still opens to its tokens.
	got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	storetest.Equal(t, storetest.Fixture("", "T1", "U1", "a"), got)
	// Restored to the backend, it opens.
	require.NoError(t, backend.StoreInstallation(bg, sealed.Clone()))
	_, err = s.FetchInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
}

func TestRefusesCryptoOverCrypto(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	below := newStore(t, memory.New(), keys)
	for name, inner := range map[string]installstore.FullStore{
		"directly":       below,
		"through layers": passLayer{installstore.Passthrough{Inner: below}},
		"in one region":  router{eu: memory.New(), us: below},
	} {
		s, err := crypto.NewStore(inner, keys)
		require.ErrorIs(t, err, installstore.ErrInvalid, name)
		require.Contains(t, err.Error(), "sealed twice", name)
		require.Nil(t, s, name)
	}
}

func TestGridFallbackOpensTheRecordsOwnTenant(t *testing.T) {
	s := newStore(t, memory.New(), keyring(t, "k1", "k1"))
	// A standalone workspace, installed before it joined organization E1.
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "solo")))
	got, err := s.FetchInstallation(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	require.Equal(t, installstore.Tenant{TeamID: "T1"}, got.Tenant())
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-solo"), got.Bot.Token)
	// Another workspace of E1, served by the org-wide install.
	require.NoError(t, s.StoreInstallation(bg, storetest.OrgFixture("E1", "U2", "org")))
	got, err = s.FetchInstallation(bg, installstore.Query{EnterpriseID: "E1", TeamID: "T2"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-E1-org"), got.Bot.Token)
}

// answering serves every fetch with the record of tenant `with`.
type answering struct {
	*memory.Store
	with installstore.Query
}

func (a answering) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	w := a.with
	w.UserID = q.UserID
	return a.Store.FetchInstallation(ctx, w)
}

func TestFetchAcceptsOnlyTheGridFallbackRecords(t *testing.T) {
	backend := memory.New()
	w := newStore(t, backend, keyring(t, "k1", "k1"))
	for _, inst := range []*installstore.Installation{
		storetest.Fixture("E2", "T1", "U1", "a"), storetest.Fixture("", "T1", "U1", "a"), // (E2, T1) first: it would remove (, T1)
		storetest.Fixture("", "T2", "U1", "a"), storetest.OrgFixture("E1", "U1", "a"), storetest.OrgFixture("E2", "U1", "a"),
	} {
		require.NoError(t, w.StoreInstallation(bg, inst))
	}
	e1t1 := installstore.Query{EnterpriseID: "E1", TeamID: "T1", UserID: "U1"}
	for _, c := range []struct {
		record installstore.Query
		ok     bool
	}{
		{installstore.Query{TeamID: "T1"}, true},                                  // standalone, same team
		{installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true}, true}, // its organization
		{installstore.Query{TeamID: "T2"}, false},                                 // another team
		{installstore.Query{EnterpriseID: "E2", TeamID: "T1"}, false},             // same team ID, another organization
		{installstore.Query{EnterpriseID: "E2", IsEnterpriseInstall: true}, false},
	} {
		s := newStore(t, answering{backend, c.record}, keyring(t, "k1", "k1"))
		_, err := s.FetchInstallation(bg, e1t1)
		if c.ok {
			require.NoError(t, err, "%+v", c.record)
		} else {
			requirePermanent(t, err)
		}
	}
	// A standalone query never accepts an organization's record.
	s := newStore(t, answering{backend, installstore.Query{EnterpriseID: "E1", IsEnterpriseInstall: true}}, keyring(t, "k1", "k1"))
	_, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	requirePermanent(t, err)
}

func (r router) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	return r.region(q.Tenant()).ListHistory(ctx, q, fn)
}

func (r router) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	return r.region(inst.Tenant()).PutHistory(ctx, inst)
}
