package crypto_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestConformanceHistory(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
		return newStore(t, memory.New(memory.WithHistory()), keys, crypto.WithDataKeyCache(time.Minute, 100))
	})
}

// rawHistory lists q's history below the layer.
func rawHistory(t *testing.T, inner installstore.FullStore, q installstore.Query) []*installstore.Installation {
	t.Helper()
	var out []*installstore.Installation
	require.NoError(t, inner.ListHistory(bg, q, func(inst *installstore.Installation) error {
		out = append(out, inst)
		return nil
	}))
	return out
}

// TestHistoryIsSealedAndOpened: history entries below the layer hold sealed
// values only, and ListHistory through the layer hands out opened ones.
func TestHistoryIsSealedAndOpened(t *testing.T) {
	inner := memory.New(memory.WithHistory())
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	first := storetest.Fixture("", "T1", "U1", "first")
	second := storetest.Fixture("", "T1", "U1", "second")
	second.InstalledAt = first.InstalledAt.Add(time.Hour)
	second.Bot.InstalledAt = second.InstalledAt
	require.NoError(t, s.StoreInstallation(bg, first.Clone()))
	require.NoError(t, s.StoreInstallation(bg, second.Clone()))

	q := installstore.Query{TeamID: "T1"}
	raw := rawHistory(t, inner, q)
	require.Len(t, raw, 2)
	for _, e := range raw {
		require.NoError(t, e.Secrets(func(field string, sec *installstore.Secret) error {
			require.True(t, sec.IsSealed(), field)
			require.NotContains(t, sec.Reveal(), "xox")
			return nil
		}))
	}
	var got []string
	require.NoError(t, s.ListHistory(bg, q, func(inst *installstore.Installation) error {
		got = append(got, inst.Bot.Token.Reveal()+" "+inst.User.Token.Reveal()+" "+inst.IncomingWebhook.URL.Reveal())
		return nil
	}))
	require.Equal(t, []string{
		"xoxb-test-T1-second xoxp-test-T1-U1-second https://hooks.slack.invalid/services/T1/second",
		"xoxb-test-T1-first xoxp-test-T1-U1-first https://hooks.slack.invalid/services/T1/first",
	}, got)

	// PutHistory seals like StoreInstallation, and refuses sealed values.
	restored := storetest.Fixture("", "T1", "U2", "restored")
	require.NoError(t, s.PutHistory(bg, restored.Clone()))
	for _, e := range rawHistory(t, inner, installstore.Query{TeamID: "T1", UserID: "U2"}) {
		require.True(t, e.Bot.Token.IsSealed())
	}
	require.ErrorIs(t, s.PutHistory(bg, raw[0]), installstore.ErrInvalid, "already sealed")
	noTime := restored.Clone()
	noTime.InstalledAt = time.Time{}
	require.ErrorIs(t, s.PutHistory(bg, noTime), installstore.ErrInvalid)
	// Without history: the backend's ErrHistoryOff, through the layer.
	off := newStore(t, memory.New(), keyring(t, "k1", "k1"))
	require.ErrorIs(t, off.ListHistory(bg, q, func(*installstore.Installation) error { return nil }), installstore.ErrHistoryOff)
	require.ErrorIs(t, off.PutHistory(bg, restored.Clone()), installstore.ErrHistoryOff)
}

// TestHistoryUnreadableEntriesAreSkippedAndNamed: an entry that does not
// open is skipped and reported (ErrDecrypt, tenant, user, install time),
// never its content; the others are listed.
func TestHistoryUnreadableEntriesAreSkippedAndNamed(t *testing.T) {
	inner := memory.New(memory.WithHistory())
	s := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, s.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "good")))
	bad := storetest.Fixture("", "T1", "U2", "bad")
	require.NoError(t, s.StoreInstallation(bg, bad.Clone()))
	q := installstore.Query{TeamID: "T1", UserID: "U2"}
	entry := rawHistory(t, inner, q)[0]
	entry.User.Token = rawHistory(t, inner, installstore.Query{TeamID: "T1", UserID: "U1"})[0].User.Token // another user's
	require.NoError(t, inner.PutHistory(bg, entry))

	var listed []string
	err := s.ListHistory(bg, installstore.Query{TeamID: "T1"}, func(inst *installstore.Installation) error {
		listed = append(listed, inst.User.ID)
		return nil
	})
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.NotErrorIs(t, err, installstore.ErrUnavailable)
	require.Equal(t, []string{"U1"}, listed)
	require.Contains(t, err.Error(), "tenant T1 user U2 installed 2026-11-01T12:00:00.123456789Z")
	for _, leak := range []string{"xoxb-", "xoxp-", "xoxe-", "hooks.slack", installstore.SealedPrefix} {
		require.NotContains(t, err.Error(), leak)
	}
	n, complete := installstore.CountSkipped(err, crypto.ErrDecrypt)
	require.Equal(t, 1, n)
	require.True(t, complete)
}

// TestRewrapRewrapsHistory: Rewrap re-seals every history entry of every
// tenant it lists (including format 1 entries, and a standalone tenant's
// history a Grid migration kept) under the current key, and counts them.
func TestRewrapRewrapsHistory(t *testing.T) {
	inner := memory.New(memory.WithHistory())
	old := newStore(t, inner, keyring(t, "k1", "k1"))
	require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T9", "U1", "standalone")))
	require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("E9", "T9", "U1", "migrated"))) // supersedes (, T9); its history stays
	// A format 1 entry, as format 1 sealed it.
	v1inner, _ := loadV1(t)
	v1 := rawRecordOf(t, v1inner, installstore.Query{TeamID: "T2"})
	require.NoError(t, inner.StoreInstallation(bg, v1.Clone())) // its record (format 1 too) and history entry

	rotating := newStore(t, inner, keyring(t, "k2", "k1", "k2"))
	st, err := crypto.Rewrap(bg, rotating)
	require.NoError(t, err)
	require.Equal(t, 4, st.HistorySeen, "T1, T2, E9/T9 and the standalone T9")
	require.Equal(t, 4, st.HistoryRewrapped)
	require.Zero(t, st.HistoryFailed)

	for _, q := range []installstore.Query{{TeamID: "T1"}, {TeamID: "T2"}, {EnterpriseID: "E9", TeamID: "T9"}, {TeamID: "T9"}} {
		entries := rawHistory(t, inner, q)
		require.Len(t, entries, 1, "%+v", q)
		require.NoError(t, entries[0].Secrets(func(field string, sec *installstore.Secret) error {
			_, keyID, err := crypto.SealedKey(*sec)
			require.NoError(t, err)
			require.Equal(t, "k2", keyID, "%+v %s", q, field)
			require.True(t, strings.HasPrefix(sec.Reveal(), installstore.SealedPrefix+"2."), "%+v %s", q, field)
			return nil
		}))
	}
	// k1 retired: everything opens.
	k2only, err := crypto.NewLocalKeyring(map[string][]byte{"k2": masterKey(2)}, "k2")
	require.NoError(t, err)
	retired := newStore(t, inner, k2only)
	n := 0
	require.NoError(t, retired.ListHistory(bg, installstore.Query{TeamID: "T9"}, func(inst *installstore.Installation) error {
		require.Equal(t, installstore.NewSecret("xoxb-test-T9-standalone"), inst.Bot.Token)
		n++
		return nil
	}))
	require.Equal(t, 1, n)
	// A second run: all current.
	st, err = crypto.Rewrap(bg, retired)
	require.NoError(t, err)
	require.Equal(t, crypto.RewrapStats{Seen: st.Seen, Current: st.Seen, HistorySeen: 4, HistoryCurrent: 4}, st)
}

// uninstallDuringPut is an inner store whose first PutHistory is preceded by
// an uninstall of the entry's tenant: the race of a rewrap with
// app_uninstalled.
type uninstallDuringPut struct {
	installstore.Passthrough
	done bool
}

func (u *uninstallDuringPut) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	if !u.done {
		u.done = true
		if err := u.Inner.DeleteInstallation(ctx, installstore.Query{TeamID: inst.TeamID}); err != nil {
			return err
		}
	}
	return u.Inner.PutHistory(ctx, inst)
}

// TestRewrapHistoryRaceWithUninstall: when a tenant is uninstalled while its
// history is rewrapped, Rewrap never deletes anything itself, and fails
// naming the tenant to delete again.
func TestRewrapHistoryRaceWithUninstall(t *testing.T) {
	mem := memory.New(memory.WithHistory())
	require.NoError(t, newStore(t, mem, keyring(t, "k1", "k1")).StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	inner := &uninstallDuringPut{Passthrough: installstore.Passthrough{Inner: mem}}
	st, err := crypto.Rewrap(bg, newStore(t, inner, keyring(t, "k2", "k1", "k2")))
	require.ErrorIs(t, err, installstore.ErrConflict)
	require.NotErrorIs(t, err, installstore.ErrUnavailable)
	require.Contains(t, err.Error(), "tenant T1")
	require.Equal(t, 1, st.HistoryFailed)
	require.Zero(t, st.HistoryRewrapped)
}

// TestRewrapWithoutHistory: a store without history is rewrapped as before.
func TestRewrapWithoutHistory(t *testing.T) {
	inner := memory.New()
	require.NoError(t, newStore(t, inner, keyring(t, "k1", "k1")).StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	st, err := crypto.Rewrap(bg, newStore(t, inner, keyring(t, "k2", "k1", "k2")))
	require.NoError(t, err)
	require.Zero(t, st.HistorySeen)
	require.Equal(t, 2, st.Seen)
}

// A run over more tenants than it keeps fresh data keys for (it keeps a
// bounded number, so its memory does not grow with the store): every record
// and history entry is rewrapped once, opens under the new key alone, and
// a second run finds everything current.
func TestRewrapOfManyTenantsKeepsFewKeys(t *testing.T) {
	inner := memory.New(memory.WithHistory())
	old := newStore(t, inner, keyring(t, "k1", "k1"))
	const tenants = 700 // more than the run's key bound
	for i := range tenants {
		require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", fmt.Sprintf("T%05d", i), "U1", "a")))
	}
	rotating := newStore(t, inner, keyring(t, "k2", "k1", "k2"))
	st, err := crypto.Rewrap(bg, rotating)
	require.NoError(t, err)
	require.Equal(t, 2*tenants, st.Seen)
	require.Equal(t, 2*tenants, st.Rewrapped+st.Current, "a user record written with its latest one is current once that is rewrapped")
	require.GreaterOrEqual(t, st.Rewrapped, tenants)
	require.Zero(t, st.Failed)
	require.Equal(t, tenants, st.HistoryRewrapped)

	k2only, err := crypto.NewLocalKeyring(map[string][]byte{"k2": masterKey(2)}, "k2")
	require.NoError(t, err)
	retired := newStore(t, inner, k2only)
	for i := range tenants {
		team := fmt.Sprintf("T%05d", i)
		got, err := retired.FetchInstallation(bg, installstore.Query{TeamID: team, UserID: "U1"})
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-"+team+"-a", got.Bot.Token.Reveal())
	}
	again, err := crypto.Rewrap(bg, rotating)
	require.NoError(t, err)
	require.Equal(t, 2*tenants, again.Current)
	require.Equal(t, tenants, again.HistoryCurrent)
}

// deleteUserAfterList deletes user U1 of T1 right after the first history
// listing of T1: a tokens_revoked for one user racing Rewrap.
type deleteUserAfterList struct {
	installstore.Passthrough
	done bool
}

func (d *deleteUserAfterList) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	err := d.Inner.ListHistory(ctx, q, fn)
	if q.TeamID == "T1" && !d.done {
		d.done = true
		if e := d.Inner.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}); e != nil {
			return e
		}
	}
	return err
}

// TestRewrapNeverBringsBackADeletedUsersHistory: a user uninstalled while
// Rewrap has the tenant's history in hand has its entries left purged (they
// count as gone); the other user's are rewrapped.
func TestRewrapNeverBringsBackADeletedUsersHistory(t *testing.T) {
	mem := memory.New(memory.WithHistory())
	old := newStore(t, mem, keyring(t, "k1", "k1"))
	require.NoError(t, old.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "u1")))
	u2 := storetest.Fixture("", "T1", "U2", "u2")
	u2.InstalledAt = u2.InstalledAt.Add(time.Hour)
	require.NoError(t, old.StoreInstallation(bg, u2))

	inner := &deleteUserAfterList{Passthrough: installstore.Passthrough{Inner: mem}}
	st, err := crypto.Rewrap(bg, newStore(t, inner, keyring(t, "k2", "k1", "k2")))
	require.NoError(t, err)
	require.Equal(t, 1, st.HistoryGone, "U1's entry, purged by its uninstall")
	require.Equal(t, 1, st.HistoryRewrapped, "U2's entry")
	require.Empty(t, rawHistory(t, mem, installstore.Query{TeamID: "T1", UserID: "U1"}), "the uninstalled user's history stays purged")
	require.Len(t, rawHistory(t, mem, installstore.Query{TeamID: "T1", UserID: "U2"}), 1)
}
