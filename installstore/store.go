package installstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Stores and layers wrap them with the tenant and operation;
// test with [errors.Is]. Every layer keeps the class of the error it passes
// on.
var (
	// ErrNotFound: no such installation (or user installation, nonce, lease).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a conditional write lost, because the stored Version is
	// not the expected one (or a nonce was already put).
	ErrConflict = errors.New("version conflict")
	// ErrInvalid: the Query or Installation is malformed (no tenant, an
	// org-wide install without enterprise ID, malformed IDs, ...), or a
	// constructor was given bad arguments. Retrying does not help.
	ErrInvalid = errors.New("invalid")
	// ErrLeaseHeld: another owner holds an unexpired lease.
	ErrLeaseHeld = errors.New("lease held by another owner")
	// ErrUnavailable: a dependency (the backend, KMS, ...) failed
	// transiently after its client's own retries: throttling, a timeout, a
	// lost connection, a 5xx. The failed operation was applied whole or
	// not at all (a request that timed out after it was sent may have
	// landed), never half; retrying is safe, and the same call may succeed
	// later: retry, or answer "try again" (a 5xx to Slack, which retries).
	// An error never
	// matches both ErrUnavailable and a permanent class such as
	// crypto.ErrDecrypt or [ErrCorrupt].
	ErrUnavailable = errors.New("unavailable")
	// ErrCorrupt: a stored record is malformed (it does not decode, or it
	// names another tenant or user than its key). It is never handed out;
	// listings go past it and report it; deleting its tenant works.
	// Retrying does not help.
	ErrCorrupt = errors.New("corrupt record")
	// ErrHistoryOff: ListHistory or PutHistory on a store built without
	// installation history (each backend's WithHistory option turns it on).
	// It matches [ErrInvalid].
	ErrHistoryOff = fmt.Errorf("%w: installation history is off for this store (build it with its WithHistory option)", ErrInvalid)
)

// Store keeps installations, Bolt-style. It is what an app's code reads
// tokens through; [FullStore] is what a backend implements. Implementations
// are safe for concurrent use.
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
//     inst.Version and, when zero, inst.InstalledAt and inst.Bot.InstalledAt
//     (to inst.InstalledAt). Storing a workspace of an enterprise (E, T)
//     removes the standalone record (no enterprise, T) of the same team, if
//     any: the workspace joined the organization (a Grid migration).
//   - FetchInstallation with q.UserID returns that user's installation,
//     carrying the tenant's current bot; without, the latest installation.
//     A query for a workspace of an enterprise (E, T) with no record of its
//     own falls back, in this order, to the standalone record of the same
//     team (no enterprise, T: installed before the workspace joined the
//     organization; a team ID does not change in a migration) and to the
//     enterprise's org-wide installation. Nothing else ever crosses
//     tenants. A missing tenant or user gives [ErrNotFound].
//   - DeleteInstallation with q.UserID removes that user's installation
//     (and the user's tokens from the latest installation, when that user
//     installed last); without, everything of the tenant (app_uninstalled).
//     A user delete that leaves the tenant with no bot and no user
//     installation holding a token deletes the whole tenant, so that it
//     reads as [ErrNotFound] (a user-scopes-only install whose user left).
//     Deleting a workspace of an enterprise (E, T) also deletes the
//     standalone record (no enterprise, T) of the same team, for both forms.
//     Deleting what does not exist is not an error. Deleting works whatever
//     the stored items hold (a corrupt record is deleted too).
//   - Returned values are copies; the store never keeps the caller's pointers.
//   - Invalid input gives [ErrInvalid] and writes nothing. A transient
//     failure gives [ErrUnavailable]; a record that does not decode gives
//     [ErrCorrupt].
type Store interface {
	StoreInstallation(ctx context.Context, inst *Installation) error
	FetchInstallation(ctx context.Context, q Query) (*Installation, error)
	DeleteInstallation(ctx context.Context, q Query) error
}

// BotDeleter revokes a tenant's bot alone (a tokens_revoked event listing bot
// tokens). User installations stay.
type BotDeleter interface {
	DeleteBot(ctx context.Context, q Query) error
}

// Updater does conditional writes. The token refresher and key rotation rely
// on it.
type Updater interface {
	// UpdateInstallation replaces the record FetchInstallation(inst.Query())
	// returned (the user's installation, and the latest one when that user
	// installed last) and, when inst.Bot is non-nil, the tenant's bot; but only
	// if the tenant's Version still equals inst.Version, else [ErrConflict].
	// It never re-creates a deleted tenant or user installation
	// ([ErrNotFound]). On success it sets inst.Version to the new Version.
	// It addresses inst.Tenant() exactly: no fallback.
	UpdateInstallation(ctx context.Context, inst *Installation) error
}

// ConditionalDeleter deletes only what a caller has seen: the late-event
// check of app_uninstalled and tokens_revoked and its purge are one step, so
// an install landing between the check and the purge is never deleted.
type ConditionalDeleter interface {
	// DeleteInstallationIf deletes as DeleteInstallation(q) does, but only
	// while the Version of q.Tenant() (exactly: no fallback) still equals
	// version; else it deletes nothing and gives [ErrConflict]. A tenant
	// that no longer exists is not an error.
	DeleteInstallationIf(ctx context.Context, q Query, version int64) error
	// DeleteBotIf deletes as DeleteBot(q) does, under the same condition.
	DeleteBotIf(ctx context.Context, q Query, version int64) error
}

// Lister enumerates a store's records (for key rotation, backup and metrics).
type Lister interface {
	// ListInstallations calls fn once per stored record: each tenant's latest
	// installation (q.UserID == "") and each user's installation
	// (q.UserID != ""). inst is what FetchInstallation(q) would have returned
	// when the record was read, and fn may keep it. No order is guaranteed;
	// records written during the listing may or may not be seen. The first
	// error fn returns stops the listing and is returned.
	//
	// A record that cannot be decoded is never handed to fn and does not
	// stop the listing: the other records are listed, and the returned
	// error wraps [ErrCorrupt] and names every record skipped (tenant and
	// user, never its content). A failure of the backend itself stops the
	// listing with its error ([ErrUnavailable] when transient).
	ListInstallations(ctx context.Context, fn func(q Query, inst *Installation) error) error
}

// DueLister is the due index: it finds the records holding a rotating token
// that expires soon without reading the others.
type DueLister interface {
	// ListDue calls fn with the query of every record (as
	// [Lister.ListInstallations] defines records) whose refresh time is not
	// after before, and with that time. A record's refresh time is
	// [Installation.RefreshAt] of what it holds: a tenant's latest record
	// holds the tenant's bot and the latest installing user's tokens; a
	// user's record holds that user's tokens only (the bot is due through
	// the latest record). Records with no rotating token are not indexed.
	//
	// The index is unsealed metadata: listing it opens no secret. It may
	// lag writes briefly (DynamoDB's global secondary indexes are
	// eventually consistent): a record just refreshed may still be listed,
	// and one just stored may be missed until the next call. Callers
	// therefore fetch each record and check it. No order is guaranteed. The
	// first error fn returns stops the listing and is returned.
	ListDue(ctx context.Context, before time.Time, fn func(q Query, due time.Time) error) error
}

// NonceStore keeps single-use, expiring nonces (the OAuth state, event IDs).
// Consumption is atomic: across goroutines and replicas sharing the store,
// exactly one PutNonce of a nonce succeeds until it expires, and exactly one
// ConsumeNonce of a put nonce succeeds.
type NonceStore interface {
	// PutNonce records an unused nonce valid until expiresAt. Putting a nonce
	// that exists and has not expired gives [ErrConflict].
	PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error
	// ConsumeNonce uses the nonce up. An unknown, already consumed or expired
	// nonce gives [ErrNotFound].
	ConsumeNonce(ctx context.Context, nonce string) error
}

// Leaser grants named leases with an expiry (the cross-replica refresh lock).
type Leaser interface {
	// AcquireLease grants the lease to owner until now+ttl. It succeeds when
	// the lease is free, expired, or already owner's (which extends it);
	// otherwise it gives [ErrLeaseHeld].
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error
	// ReleaseLease frees the lease if owner holds it; otherwise it does
	// nothing and returns nil.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// History keeps every installation a tenant has had (Bolt's
// historical_data_enabled). It is opt-in per store: a backend built without
// its WithHistory option gives [ErrHistoryOff] from both methods and writes
// no history.
//
// With history on, every successful StoreInstallation also writes inst, as
// stored (Version, InstalledAt and Bot.InstalledAt set, with the bot it
// carried or none), as a history entry keyed by (inst.Tenant(), inst.User.ID,
// inst.InstalledAt): storing the same installation again replaces its entry,
// a re-install at a new time adds one. Updates (token refreshes, rewraps) and
// DeleteBot add or change no entry. Entries hold exactly what the record
// held: under an encryption layer, the same sealed values. Deleting a whole
// tenant deletes its history (for a workspace of an enterprise (E, T), also
// that of the standalone (no enterprise, T), as DeleteInstallation does); a
// user delete deletes that user's entries. History is addressed exactly:
// no Grid fallback; the Grid migration of StoreInstallation removes the
// standalone record but keeps its history (listed under the standalone
// tenant until the workspace is deleted under either form).
type History interface {
	// ListHistory calls fn with each history entry of q.Tenant() (with
	// q.UserID, that user's entries only), newest InstalledAt first (entries
	// of the same InstalledAt in no given order). fn may
	// keep inst. An entry that cannot be decoded is skipped, and the
	// returned error wraps [ErrCorrupt] naming it, as
	// [Lister.ListInstallations] does. The first error fn returns stops the
	// listing and is returned.
	ListHistory(ctx context.Context, q Query, fn func(inst *Installation) error) error
	// PutHistory writes inst as a history entry, replacing the entry of the
	// same key, without touching the tenant's records (backup restore, key
	// rotation). inst must be valid and have a non-zero InstalledAt
	// ([ErrInvalid]).
	PutHistory(ctx context.Context, inst *Installation) error
}

// AppScoped is implemented by a backend built for one Slack app among
// several sharing its table, keyspace or database (each backend's
// WithClientID option; Bolt keys its stores by client ID). Everything such a
// store keeps (records, history, nonces, leases, its due index) lives under
// the client ID: no call of the store reads, lists, deletes or overwrites
// another app's items or an unscoped store's, and an unscoped store of the
// same table sees no app's items. The encryption layer binds the client ID
// into what it seals, so a sealed value moved to another app's record does
// not open.
type AppScoped interface {
	// ClientID returns the Slack app's client ID the store is scoped to,
	// or "" for an unscoped store (the default: one app per table).
	ClientID() string
}

// CheckClientID reports whether id can scope a store: 1 to 64 characters of
// ASCII letters, digits, '.', '-' and '_' (Slack's client IDs look like
// "1234567890.0987654321"). A bad id gives [ErrInvalid].
func CheckClientID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: client ID %q: want 1 to 64 characters (Slack's look like 1234567890.0987654321)", ErrInvalid, id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%w: client ID %q: only ASCII letters, digits, '.', '-' and '_' may scope a store", ErrInvalid, id)
		}
	}
	return nil
}

// FullStore is the one backend contract: what every backend ([memory.Store],
// the DynamoDB, PostgreSQL, SQLite and Redis stores) and every layer
// (encryption, audit, metrics, residency) implements, checked by
// installstore/storetest. Layers take a FullStore and are one, so any
// stack of them is one too.
type FullStore interface {
	Store
	BotDeleter
	ConditionalDeleter
	Updater
	Lister
	DueLister
	NonceStore
	Leaser
	History
}
