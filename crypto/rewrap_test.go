package crypto_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// seedTenants stores a mix of records through s and returns them by query.
func seedTenants(t *testing.T, s installstore.FullStore) map[installstore.Query]*installstore.Installation {
	t.Helper()
	var all []*installstore.Installation
	for i := range 20 {
		all = append(all, storetest.Fixture("", fmt.Sprintf("T%02d", i), "U1", "a"))
	}
	all = append(all,
		storetest.Fixture("", "T00", "U2", "b"), // second user of T00
		storetest.Fixture("E1", "T1", "U3", "c"),
		storetest.OrgFixture("E2", "U4", "d"),
		&installstore.Installation{TeamID: "TBARE", User: installstore.User{ID: "U5"}}, // no secrets
	)
	for _, inst := range all {
		require.NoError(t, s.StoreInstallation(bg, inst.Clone()))
	}
	want := map[installstore.Query]*installstore.Installation{}
	require.NoError(t, s.ListInstallations(bg, func(q installstore.Query, inst *installstore.Installation) error {
		want[q] = inst
		return nil
	}))
	require.Len(t, want, 20*2+1+2+2+2)
	return want
}

// requireAllReadable checks every record opens under s as want.
func requireAllReadable(t *testing.T, s installstore.FullStore, want map[installstore.Query]*installstore.Installation) {
	t.Helper()
	for q, w := range want {
		got, err := s.FetchInstallation(bg, q)
		require.NoError(t, err, "%+v", q)
		storetest.Equal(t, w, got, "%+v", q)
	}
}

func TestRotationLeavesEveryRecordReadable(t *testing.T) {
	inner := memory.New()
	k1 := map[string][]byte{"k1": masterKey(1)}
	oldKeys, err := crypto.NewLocalKeyring(k1, "k1")
	require.NoError(t, err)
	want := seedTenants(t, newStore(t, inner, oldKeys))

	// New primary k2; k1 still decrypts.
	both, err := crypto.NewLocalKeyring(map[string][]byte{"k1": masterKey(1), "k2": masterKey(2)}, "k2")
	require.NoError(t, err)
	s := newStore(t, inner, both)
	stats, err := crypto.Rewrap(bg, s)
	require.NoError(t, err)
	require.Equal(t, len(want), stats.Seen)
	require.Zero(t, stats.Failed)
	require.Equal(t, stats.Seen, stats.Rewrapped+stats.Current+stats.Gone)
	require.Positive(t, stats.Rewrapped)
	require.GreaterOrEqual(t, stats.Current, 2, "the record without secrets needs nothing")

	// Retire k1: everything still opens, and no sealed value names k1.
	k2only, err := crypto.NewLocalKeyring(map[string][]byte{"k2": masterKey(2)}, "k2")
	require.NoError(t, err)
	requireAllReadable(t, newStore(t, inner, k2only), want)
	require.NoError(t, inner.ListInstallations(bg, func(q installstore.Query, raw *installstore.Installation) error {
		for f, v := range secrets(raw) {
			_, keyID, err := crypto.SealedKey(installstore.NewSecret(v))
			require.NoError(t, err)
			require.Equal(t, "k2", keyID, "%+v %s", q, f)
		}
		return nil
	}))
	// The old keyring alone can no longer read them.
	_, err = newStore(t, inner, oldKeys).FetchInstallation(bg, installstore.Query{TeamID: "T01"})
	require.ErrorIs(t, err, crypto.ErrDecrypt)

	// A second run finds nothing to do.
	stats, err = crypto.Rewrap(bg, newStore(t, inner, k2only))
	require.NoError(t, err)
	require.Equal(t, crypto.RewrapStats{Seen: len(want), Current: len(want)}, stats)
}

// hooked is a memory store that runs hooks inside ListInstallations and
// UpdateInstallation, to interleave concurrent writes deterministically.
type hooked struct {
	*memory.Store
	beforeFn     func(q installstore.Query)
	beforeUpdate func(inst *installstore.Installation)
}

func (h *hooked) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	return h.Store.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		if h.beforeFn != nil {
			h.beforeFn(q)
		}
		return fn(q, inst)
	})
}

func (h *hooked) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if h.beforeUpdate != nil {
		h.beforeUpdate(inst)
	}
	return h.Store.UpdateInstallation(ctx, inst)
}

func TestRewrapNeverOverwritesConcurrentWrites(t *testing.T) {
	inner := &hooked{Store: memory.New()}
	old := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "a")))
	s := newStore(t, inner, keyring(t, "k2", "k1", "k2"))

	// While the listing is under way, a token refresh writes T1 through the old-key store.
	inner.beforeFn = func(q installstore.Query) {
		if q == (installstore.Query{TeamID: "T1"}) {
			require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "refreshed")))
		}
	}
	stats, err := crypto.Rewrap(bg, s)
	require.NoError(t, err)
	require.Zero(t, stats.Failed)
	require.Equal(t, 4, stats.Seen)

	got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-refreshed"), got.Bot.Token, "the concurrent write survives")
	require.Equal(t, installstore.NewSecret("xoxp-test-T1-U1-refreshed"), got.User.Token)
	// ...and was rewrapped after it: k1 can go.
	k2, err := crypto.NewLocalKeyring(map[string][]byte{"k2": masterKey(2)}, "k2")
	require.NoError(t, err)
	k2only := newStore(t, inner.Store, k2)
	for _, team := range []string{"T1", "T2"} {
		_, err := k2only.FetchInstallation(bg, installstore.Query{TeamID: team, UserID: "U1"})
		require.NoError(t, err, team)
	}
}

func TestRewrapGivesUpOnEndlessConflicts(t *testing.T) {
	inner := &hooked{Store: memory.New()}
	old := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	s := newStore(t, inner, keyring(t, "k2", "k1", "k2"))
	writes := 0
	inner.beforeUpdate = func(*installstore.Installation) {
		writes++
		require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", fmt.Sprint("w", writes))))
	}
	stats, err := crypto.Rewrap(bg, s)
	require.ErrorIs(t, err, installstore.ErrConflict)
	require.Equal(t, crypto.RewrapStats{Seen: 2, Failed: 2}, stats)
	inner.beforeUpdate = nil
	got, err := s.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret(fmt.Sprint("xoxb-test-T1-w", writes)), got.Bot.Token, "the last concurrent write stands")
}

func TestRewrapCountsDeletedAndUnreadable(t *testing.T) {
	inner := &hooked{Store: memory.New()}
	old := newStore(t, inner, keyring(t, "k1", "k1"))
	for _, team := range []string{"T1", "T2", "T3"} {
		require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", team, "U1", "a")))
	}
	// T3's records were written under a key nobody has any more.
	lost := newStore(t, inner, keyring(t, "lost", "lost"))
	require.NoError(t, lost.StoreInstallation(bg, storetest.Fixture("", "T3", "U1", "b")))

	s := newStore(t, inner, keyring(t, "k2", "k1", "k2"))
	inner.beforeFn = func(q installstore.Query) {
		if q.TeamID == "T2" {
			require.NoError(t, old.DeleteInstallation(bg, installstore.Query{TeamID: "T2"}))
		}
	}
	stats, err := crypto.Rewrap(bg, s)
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.Contains(t, err.Error(), "tenant T3")
	require.NotContains(t, err.Error(), installstore.SealedPrefix)
	require.Equal(t, 6, stats.Seen)
	// T1's two records are one update: the second finds it done.
	require.Equal(t, 1, stats.Rewrapped)
	require.Equal(t, 1, stats.Current)
	require.Equal(t, 2, stats.Gone)
	require.Equal(t, 2, stats.Failed)
}

func TestRewrapNeedsAnEncryptionLayer(t *testing.T) {
	_, err := crypto.Rewrap(bg, memory.New())
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.Contains(t, err.Error(), "no encryption layer")
	_, err = crypto.Rewrap(bg, struct{ installstore.Store }{memory.New()})
	require.ErrorIs(t, err, installstore.ErrInvalid)
	// A layer over the encryption layer is walked through.
	s := newStore(t, memory.New(), keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	stats, err := crypto.Rewrap(bg, passLayer{installstore.Passthrough{Inner: s}})
	require.NoError(t, err)
	require.Equal(t, crypto.RewrapStats{Seen: 2, Current: 2}, stats)
}

// passLayer is a do-nothing layer that unwraps to its inner store.
type passLayer struct{ installstore.Passthrough }

func (p passLayer) Unwrap() []installstore.FullStore { return []installstore.FullStore{p.Inner} }
