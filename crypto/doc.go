// Package crypto is installvault's envelope-encryption layer: [Store], an
// [installstore.FullStore] that seals every [installstore.Secret] of an
// installation (bot and user tokens, refresh tokens, the incoming-webhook
// URL) before it reaches the backend, and opens it on the way out.
//
// # Where it goes
//
//	handler → rotation.Refresher → audit / metrics → crypto.Store → backend
//
// or, with data residency, either crypto over the router (one key provider
// for all regions) or the router over one crypto.Store per region (each
// region's own keys). Nothing that must never see plaintext goes above it;
// it refuses to go over another crypto.Store (values would be sealed
// twice). [Rewrap] finds every crypto.Store of a stack through
// [installstore.Walk].
//
// Each write uses a 256-bit data key from a [KeyProvider] — AWS KMS
// ([NewKMS]) or a local keyring for development and tests
// ([NewLocalKeyring]) — and seals each secret with AES-256-GCM under it. The
// data key is stored only wrapped (encrypted) by the provider's master key,
// inside the sealed value.
//
// # Fail closed
//
// A record that cannot be opened — wrong tenant, tampered, truncated, an
// unknown, disabled or deleted key, or a secret that is not sealed at all —
// fails the request with an error wrapping [ErrDecrypt] that names the
// tenant and the field. When the key provider does not answer (KMS
// throttling past the SDK's retries, timeouts, 5xx, lost connections) the
// error wraps [installstore.ErrUnavailable] instead: the record may open
// later, so callers retry (and never treat it as gone). No error matches
// both. A write whose data key could not be made wraps [ErrSeal] (and
// ErrUnavailable when transient) and writes nothing. The store never
// returns the sealed value, a stale value or a cached plaintext token
// instead of failing, and refuses to seal a value that is already sealed
// ([installstore.ErrInvalid]): backups are restored to the backend below
// this layer.
//
// # Sealed value format (version 1)
//
// A sealed value is one ASCII string:
//
//	ivsealed:1.<provider>.<key-id>.<wrapped-key>.<nonce>.<ciphertext>
//
// where:
//
//   - "ivsealed:" is [installstore.SealedPrefix]; backends may check it.
//   - "1" is the format version.
//   - provider names the [KeyProvider] ("aws-kms", "local"): [a-z0-9-], at
//     most 32 bytes.
//   - key-id is the master key that wrapped the data key (a KMS key ARN, a
//     keyring key name), base64url without padding: KMS ARNs contain ':'
//     and '/', base64url never contains '.'.
//   - wrapped-key is the data key as the provider wrapped it (for KMS the
//     CiphertextBlob of GenerateDataKey), base64url without padding.
//   - nonce is the 12-byte AES-GCM nonce, random per value, base64url.
//   - ciphertext is the AES-256-GCM ciphertext and 16-byte tag, base64url.
//
// Every base64url field is decoded strictly (no padding, no stray bits), so
// changing any one character of a sealed value makes it fail to open.
//
// # Associated data
//
// The GCM associated data is the SHA-256 of the header
// "1.<provider>.<key-id>.<wrapped-key>" exactly as stored, then, each
// prefixed by its length as a uvarint, the record's enterprise ID, team ID,
// the bound user ID, and the field name
// ([installstore.Installation.Secrets]: "bot.token", "user.refresh_token", ...).
// The tenant is always the record's own ([installstore.Installation.Tenant]),
// so an org-wide install served to a workspace through the enterprise fallback
// opens as the organization's record. The user is bound for the user's own
// fields ("user.token", "user.refresh_token") and is empty for the bot's and
// the incoming webhook's: the bot is the tenant's, the same whichever user's
// installation carries it, and the webhook stays on the tenant's latest
// installation after its installer is removed. So moving a sealed value to
// another tenant, another user, or another field fails with [ErrDecrypt].
//
// Data keys are bound to their tenant too: the local keyring wraps them with
// the tenant as associated data, and KMS with an encryption context naming the
// tenant ("enterprise_id", "team_id"; empty IDs are left out), which also makes
// CloudTrail show whose key was opened.
//
// # Caching
//
// Without options every write asks the KeyProvider for a new data key and
// every read unwraps the record's data key (once per distinct data key per
// operation). [WithDataKeyCache] bounds reuse like the AWS Encryption SDK's
// caching materials manager: one data key per tenant seals at most maxUses
// records and lives at most maxAge; unwrapped data keys are reused for reads
// for at most maxAge; the cache holds at most [WithDataKeyCacheCapacity]
// entries of each kind, least recently used evicted first. A revoked KMS key
// therefore stops reads within maxAge. [WithRecordCache] adds an opt-in
// cache of opened installations, bounded the same way and invalidated by
// every write through the layer; see its documentation for what it means
// across replicas.
//
// # Key rotation
//
// Make a new primary key (a new keyring primary, or a new KMS key for the
// tenant), then run [Rewrap] online over the whole stack: it opens every
// record of every encryption layer and re-seals what is not under the
// current key, with conditional updates, so a concurrent write is never
// overwritten. After it returns no error the old key can be retired.
//
// The KMS provider uses the ordinary aws-sdk-go-v2 client: the same code runs
// unchanged against AWS KMS and against the package kmstest server the tests
// use.
package crypto
