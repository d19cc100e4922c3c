package installstore

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Stores wrap them with the tenant and operation; test with
// [errors.Is].
var (
	// ErrNotFound: no such installation (or user installation, nonce, lease).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a conditional write lost, because the stored Version is
	// not the expected one.
	ErrConflict = errors.New("version conflict")
	// ErrInvalid: the Query or Installation is malformed (no tenant, an
	// org-wide install without enterprise ID, malformed IDs, ...).
	ErrInvalid = errors.New("invalid")
	// ErrLeaseHeld: another owner holds an unexpired lease.
	ErrLeaseHeld = errors.New("lease held by another owner")
)

// Store keeps installations, Bolt-style. Implementations are safe for
// concurrent use.
//
// # Semantics
//
// The tenant is (EnterpriseID, TeamID), or EnterpriseID alone for an org-wide
// install (IsEnterpriseInstall); see [Tenant]. A tenant keeps one bot, its
// latest installation, and one installation per user who installed (with
// that user's token). Every write to a tenant gives it a new, larger
// Version, which fetches report.
//
//   - StoreInstallation writes inst as the tenant's latest installation and as
//     inst.User.ID's installation, and inst.Bot as the tenant's bot (a nil Bot
//     keeps the stored one: a user-scopes-only install does not revoke the
//     bot). Storing again replaces (idempotent re-install). It sets
//     inst.Version and, when zero, inst.InstalledAt.
//   - FetchInstallation with q.UserID returns that user's installation,
//     carrying the tenant's current bot; without, the latest installation. A
//     query for a workspace of an enterprise that has no installation of its
//     own falls back to the enterprise's org-wide installation. Nothing else
//     ever crosses tenants. A missing tenant or user gives [ErrNotFound].
//   - DeleteInstallation with q.UserID removes that user's installation
//     (and the user's tokens from the latest installation, when that user
//     installed last); without, everything of the tenant (app_uninstalled).
//     Deleting what does not exist is not an error.
//   - Returned values are copies; the store never keeps the caller's pointers.
//   - Invalid input gives [ErrInvalid] and writes nothing.
type Store interface {
	StoreInstallation(ctx context.Context, inst *Installation) error
	FetchInstallation(ctx context.Context, q Query) (*Installation, error)
	DeleteInstallation(ctx context.Context, q Query) error
}

// BotDeleter is implemented by stores that can revoke a tenant's bot alone
// (a tokens_revoked event listing bot tokens). User installations stay.
type BotDeleter interface {
	DeleteBot(ctx context.Context, q Query) error
}

// Updater is implemented by stores that support conditional writes. The
// token refresher and key rotation rely on it.
type Updater interface {
	// UpdateInstallation replaces the record FetchInstallation(inst.Query())
	// returned (the user's installation, and the latest one when that user
	// installed last) and, when inst.Bot is non-nil, the tenant's bot; but only
	// if the tenant's Version still equals inst.Version, else [ErrConflict].
	// It never re-creates a deleted tenant or user installation
	// ([ErrNotFound]). On success it sets inst.Version to the new Version.
	UpdateInstallation(ctx context.Context, inst *Installation) error
}

// Lister is implemented by stores that can enumerate their records (for key
// rotation, backup and metrics).
type Lister interface {
	// ListInstallations calls fn once per stored record: each tenant's latest
	// installation (q.UserID == "") and each user's installation
	// (q.UserID != ""). inst is what FetchInstallation(q) would have returned
	// when the record was read, and fn may keep it. No order is guaranteed;
	// records written during the listing may or may not be seen. The first
	// error fn returns stops the listing and is returned.
	ListInstallations(ctx context.Context, fn func(q Query, inst *Installation) error) error
}

// NonceStore is implemented by stores that keep single-use, expiring nonces
// (the OAuth state). Consumption is atomic: across goroutines and replicas
// sharing the store, exactly one ConsumeNonce of a nonce succeeds.
type NonceStore interface {
	// PutNonce records an unused nonce valid until expiresAt. Putting a nonce
	// that exists gives [ErrConflict].
	PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error
	// ConsumeNonce uses the nonce up. An unknown, already consumed or expired
	// nonce gives [ErrNotFound].
	ConsumeNonce(ctx context.Context, nonce string) error
}

// Leaser is implemented by stores that grant named leases with an expiry
// (the cross-replica refresh lock).
type Leaser interface {
	// AcquireLease grants the lease to owner until now+ttl. It succeeds when
	// the lease is free, expired, or already owner's (which extends it);
	// otherwise it gives [ErrLeaseHeld].
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error
	// ReleaseLease frees the lease if owner holds it; otherwise it does
	// nothing and returns nil.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// FullStore is a store with every optional capability. [memory.Store] and
// the DynamoDB store are FullStores.
type FullStore interface {
	Store
	BotDeleter
	Updater
	Lister
	NonceStore
	Leaser
}
