package installstore

// Mirror has one case per subset of the five optional interfaces: 32 in all.

// Mirror returns a [Store] whose methods are impl's and which implements
// exactly the optional interfaces ([BotDeleter], [Updater], [Lister],
// [NonceStore], [Leaser]) that inner implements: no more, so that a type
// assertion on the result tells the truth about what the stack below can do;
// no less, so that stacking layers loses no capability. With more stores
// (a router over several backends), it implements the capabilities all of
// them share.
//
// Layers that wrap a Store (encryption, audit, routing) implement
// [FullStore] once and return Mirror(layer, inner).
func Mirror(impl FullStore, inner Store, more ...Store) Store {
	mask := capabilities(inner)
	for _, s := range more {
		mask &= capabilities(s)
	}
	return mirror(impl, mask)
}

func capabilities(inner Store) int {
	mask := 0
	if _, ok := inner.(BotDeleter); ok {
		mask |= 1
	}
	if _, ok := inner.(Updater); ok {
		mask |= 2
	}
	if _, ok := inner.(Lister); ok {
		mask |= 4
	}
	if _, ok := inner.(NonceStore); ok {
		mask |= 8
	}
	if _, ok := inner.(Leaser); ok {
		mask |= 16
	}
	return mask
}

func mirror(impl FullStore, mask int) Store {
	switch mask {
	case 0:
		return struct {
			Store
		}{impl}
	case 1:
		return struct {
			Store
			BotDeleter
		}{impl, impl}
	case 2:
		return struct {
			Store
			Updater
		}{impl, impl}
	case 3:
		return struct {
			Store
			BotDeleter
			Updater
		}{impl, impl, impl}
	case 4:
		return struct {
			Store
			Lister
		}{impl, impl}
	case 5:
		return struct {
			Store
			BotDeleter
			Lister
		}{impl, impl, impl}
	case 6:
		return struct {
			Store
			Updater
			Lister
		}{impl, impl, impl}
	case 7:
		return struct {
			Store
			BotDeleter
			Updater
			Lister
		}{impl, impl, impl, impl}
	case 8:
		return struct {
			Store
			NonceStore
		}{impl, impl}
	case 9:
		return struct {
			Store
			BotDeleter
			NonceStore
		}{impl, impl, impl}
	case 10:
		return struct {
			Store
			Updater
			NonceStore
		}{impl, impl, impl}
	case 11:
		return struct {
			Store
			BotDeleter
			Updater
			NonceStore
		}{impl, impl, impl, impl}
	case 12:
		return struct {
			Store
			Lister
			NonceStore
		}{impl, impl, impl}
	case 13:
		return struct {
			Store
			BotDeleter
			Lister
			NonceStore
		}{impl, impl, impl, impl}
	case 14:
		return struct {
			Store
			Updater
			Lister
			NonceStore
		}{impl, impl, impl, impl}
	case 15:
		return struct {
			Store
			BotDeleter
			Updater
			Lister
			NonceStore
		}{impl, impl, impl, impl, impl}
	case 16:
		return struct {
			Store
			Leaser
		}{impl, impl}
	case 17:
		return struct {
			Store
			BotDeleter
			Leaser
		}{impl, impl, impl}
	case 18:
		return struct {
			Store
			Updater
			Leaser
		}{impl, impl, impl}
	case 19:
		return struct {
			Store
			BotDeleter
			Updater
			Leaser
		}{impl, impl, impl, impl}
	case 20:
		return struct {
			Store
			Lister
			Leaser
		}{impl, impl, impl}
	case 21:
		return struct {
			Store
			BotDeleter
			Lister
			Leaser
		}{impl, impl, impl, impl}
	case 22:
		return struct {
			Store
			Updater
			Lister
			Leaser
		}{impl, impl, impl, impl}
	case 23:
		return struct {
			Store
			BotDeleter
			Updater
			Lister
			Leaser
		}{impl, impl, impl, impl, impl}
	case 24:
		return struct {
			Store
			NonceStore
			Leaser
		}{impl, impl, impl}
	case 25:
		return struct {
			Store
			BotDeleter
			NonceStore
			Leaser
		}{impl, impl, impl, impl}
	case 26:
		return struct {
			Store
			Updater
			NonceStore
			Leaser
		}{impl, impl, impl, impl}
	case 27:
		return struct {
			Store
			BotDeleter
			Updater
			NonceStore
			Leaser
		}{impl, impl, impl, impl, impl}
	case 28:
		return struct {
			Store
			Lister
			NonceStore
			Leaser
		}{impl, impl, impl, impl}
	case 29:
		return struct {
			Store
			BotDeleter
			Lister
			NonceStore
			Leaser
		}{impl, impl, impl, impl, impl}
	case 30:
		return struct {
			Store
			Updater
			Lister
			NonceStore
			Leaser
		}{impl, impl, impl, impl, impl}
	default: // all of them
		return impl
	}
}
