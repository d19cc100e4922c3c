package installstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// only exposes some capabilities of a full store.
type only struct {
	installstore.Store
}

type withUpdate struct {
	installstore.Store
	installstore.Updater
}

type withNoncesLeases struct {
	installstore.Store
	installstore.NonceStore
	installstore.Leaser
}

func caps(s installstore.Store) [5]bool {
	_, d := s.(installstore.BotDeleter)
	_, u := s.(installstore.Updater)
	_, l := s.(installstore.Lister)
	_, n := s.(installstore.NonceStore)
	_, le := s.(installstore.Leaser)
	return [5]bool{d, u, l, n, le}
}

func TestMirrorExposesExactlyInnerCapabilities(t *testing.T) {
	full := memory.New()
	for _, inner := range []installstore.Store{
		only{full},
		withUpdate{full, full},
		withNoncesLeases{full, full, full},
		full,
	} {
		got := installstore.Mirror(full, inner)
		require.Equal(t, caps(inner), caps(got), "%T", inner)
	}
	// Every one of the 32 subsets is covered.
	seen := map[[5]bool]bool{}
	for mask := range 32 {
		inner := subset(full, mask)
		require.Equal(t, caps(inner), caps(installstore.Mirror(full, inner)), "mask %05b", mask)
		seen[caps(inner)] = true
	}
	require.Len(t, seen, 32)

	// Several stores: the capabilities they share.
	got := installstore.Mirror(full, withUpdate{full, full}, full, withNoncesLeases{full, full, full})
	require.Equal(t, [5]bool{}, caps(got))
	got = installstore.Mirror(full, full, withNoncesLeases{full, full, full})
	require.Equal(t, caps(withNoncesLeases{full, full, full}), caps(got))
}

// subset returns a store exposing exactly the capabilities in mask (bit i = names[i]).
func subset(full installstore.FullStore, mask int) installstore.Store {
	switch mask {
	case 0:
		return struct {
			installstore.Store
		}{full}
	case 1:
		return struct {
			installstore.Store
			installstore.BotDeleter
		}{full, full}
	case 2:
		return struct {
			installstore.Store
			installstore.Updater
		}{full, full}
	case 3:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Updater
		}{full, full, full}
	case 4:
		return struct {
			installstore.Store
			installstore.Lister
		}{full, full}
	case 5:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Lister
		}{full, full, full}
	case 6:
		return struct {
			installstore.Store
			installstore.Updater
			installstore.Lister
		}{full, full, full}
	case 7:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Updater
			installstore.Lister
		}{full, full, full, full}
	case 8:
		return struct {
			installstore.Store
			installstore.NonceStore
		}{full, full}
	case 9:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.NonceStore
		}{full, full, full}
	case 10:
		return struct {
			installstore.Store
			installstore.Updater
			installstore.NonceStore
		}{full, full, full}
	case 11:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Updater
			installstore.NonceStore
		}{full, full, full, full}
	case 12:
		return struct {
			installstore.Store
			installstore.Lister
			installstore.NonceStore
		}{full, full, full}
	case 13:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Lister
			installstore.NonceStore
		}{full, full, full, full}
	case 14:
		return struct {
			installstore.Store
			installstore.Updater
			installstore.Lister
			installstore.NonceStore
		}{full, full, full, full}
	case 15:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Updater
			installstore.Lister
			installstore.NonceStore
		}{full, full, full, full, full}
	case 16:
		return struct {
			installstore.Store
			installstore.Leaser
		}{full, full}
	case 17:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Leaser
		}{full, full, full}
	case 18:
		return struct {
			installstore.Store
			installstore.Updater
			installstore.Leaser
		}{full, full, full}
	case 19:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Updater
			installstore.Leaser
		}{full, full, full, full}
	case 20:
		return struct {
			installstore.Store
			installstore.Lister
			installstore.Leaser
		}{full, full, full}
	case 21:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Lister
			installstore.Leaser
		}{full, full, full, full}
	case 22:
		return struct {
			installstore.Store
			installstore.Updater
			installstore.Lister
			installstore.Leaser
		}{full, full, full, full}
	case 23:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Updater
			installstore.Lister
			installstore.Leaser
		}{full, full, full, full, full}
	case 24:
		return struct {
			installstore.Store
			installstore.NonceStore
			installstore.Leaser
		}{full, full, full}
	case 25:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.NonceStore
			installstore.Leaser
		}{full, full, full, full}
	case 26:
		return struct {
			installstore.Store
			installstore.Updater
			installstore.NonceStore
			installstore.Leaser
		}{full, full, full, full}
	case 27:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Updater
			installstore.NonceStore
			installstore.Leaser
		}{full, full, full, full, full}
	case 28:
		return struct {
			installstore.Store
			installstore.Lister
			installstore.NonceStore
			installstore.Leaser
		}{full, full, full, full}
	case 29:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Lister
			installstore.NonceStore
			installstore.Leaser
		}{full, full, full, full, full}
	case 30:
		return struct {
			installstore.Store
			installstore.Updater
			installstore.Lister
			installstore.NonceStore
			installstore.Leaser
		}{full, full, full, full, full}
	case 31:
		return struct {
			installstore.Store
			installstore.BotDeleter
			installstore.Updater
			installstore.Lister
			installstore.NonceStore
			installstore.Leaser
		}{full, full, full, full, full, full}
	}
	panic(mask)
}
