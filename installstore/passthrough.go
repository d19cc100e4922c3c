package installstore

import (
	"context"
	"time"
)

// Passthrough implements [FullStore] by handing every call to Inner
// unchanged. A layer embeds it and overrides only the methods it changes:
//
//	type Store struct {
//		installstore.Passthrough
//		logger *slog.Logger
//	}
//
//	func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) { ... }
type Passthrough struct {
	Inner FullStore
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

// DeleteBot calls Inner.
func (p Passthrough) DeleteBot(ctx context.Context, q Query) error {
	return p.Inner.DeleteBot(ctx, q)
}

// DeleteInstallationIf calls Inner.
func (p Passthrough) DeleteInstallationIf(ctx context.Context, q Query, version int64) error {
	return p.Inner.DeleteInstallationIf(ctx, q, version)
}

// DeleteBotIf calls Inner.
func (p Passthrough) DeleteBotIf(ctx context.Context, q Query, version int64) error {
	return p.Inner.DeleteBotIf(ctx, q, version)
}

// UpdateInstallation calls Inner.
func (p Passthrough) UpdateInstallation(ctx context.Context, inst *Installation) error {
	return p.Inner.UpdateInstallation(ctx, inst)
}

// ListInstallations calls Inner.
func (p Passthrough) ListInstallations(ctx context.Context, fn func(Query, *Installation) error) error {
	return p.Inner.ListInstallations(ctx, fn)
}

// ListDue calls Inner.
func (p Passthrough) ListDue(ctx context.Context, before time.Time, fn func(Query, time.Time) error) error {
	return p.Inner.ListDue(ctx, before, fn)
}

// PutNonce calls Inner.
func (p Passthrough) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	return p.Inner.PutNonce(ctx, nonce, expiresAt)
}

// ConsumeNonce calls Inner.
func (p Passthrough) ConsumeNonce(ctx context.Context, nonce string) error {
	return p.Inner.ConsumeNonce(ctx, nonce)
}

// AcquireLease calls Inner.
func (p Passthrough) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	return p.Inner.AcquireLease(ctx, name, owner, ttl)
}

// ReleaseLease calls Inner.
func (p Passthrough) ReleaseLease(ctx context.Context, name, owner string) error {
	return p.Inner.ReleaseLease(ctx, name, owner)
}

// ListHistory calls Inner.
func (p Passthrough) ListHistory(ctx context.Context, q Query, fn func(*Installation) error) error {
	return p.Inner.ListHistory(ctx, q, fn)
}

// PutHistory calls Inner.
func (p Passthrough) PutHistory(ctx context.Context, inst *Installation) error {
	return p.Inner.PutHistory(ctx, inst)
}
