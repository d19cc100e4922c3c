package installstore

import (
	"context"
	"time"
)

// Passthrough implements [FullStore] by handing every call to Inner
// unchanged. A layer embeds it and overrides only the methods it changes:
//
//	type auditStore struct {
//		installstore.Passthrough
//		logger *slog.Logger
//	}
//
//	func (s *auditStore) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) { ... }
//
// and returns Mirror(layer, inner). A method of a capability Inner lacks
// panics; Mirror never exposes one.
type Passthrough struct {
	Inner Store
}

var _ FullStore = Passthrough{}

// StoreInstallation calls Inner.
func (p Passthrough) StoreInstallation(ctx context.Context, inst *Installation) error {
	return p.Inner.StoreInstallation(ctx, inst)
}

// FetchInstallation calls Inner.
func (p Passthrough) FetchInstallation(ctx context.Context, q Query) (*Installation, error) {
	return p.Inner.FetchInstallation(ctx, q)
}

// DeleteInstallation calls Inner.
func (p Passthrough) DeleteInstallation(ctx context.Context, q Query) error {
	return p.Inner.DeleteInstallation(ctx, q)
}

// DeleteBot calls Inner's [BotDeleter].
func (p Passthrough) DeleteBot(ctx context.Context, q Query) error {
	return p.Inner.(BotDeleter).DeleteBot(ctx, q)
}

// UpdateInstallation calls Inner's [Updater].
func (p Passthrough) UpdateInstallation(ctx context.Context, inst *Installation) error {
	return p.Inner.(Updater).UpdateInstallation(ctx, inst)
}

// ListInstallations calls Inner's [Lister].
func (p Passthrough) ListInstallations(ctx context.Context, fn func(Query, *Installation) error) error {
	return p.Inner.(Lister).ListInstallations(ctx, fn)
}

// PutNonce calls Inner's [NonceStore].
func (p Passthrough) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	return p.Inner.(NonceStore).PutNonce(ctx, nonce, expiresAt)
}

// ConsumeNonce calls Inner's [NonceStore].
func (p Passthrough) ConsumeNonce(ctx context.Context, nonce string) error {
	return p.Inner.(NonceStore).ConsumeNonce(ctx, nonce)
}

// AcquireLease calls Inner's [Leaser].
func (p Passthrough) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	return p.Inner.(Leaser).AcquireLease(ctx, name, owner, ttl)
}

// ReleaseLease calls Inner's [Leaser].
func (p Passthrough) ReleaseLease(ctx context.Context, name, owner string) error {
	return p.Inner.(Leaser).ReleaseLease(ctx, name, owner)
}
