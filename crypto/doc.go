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
// ([NewLocalKeyring]) — and seals each group of secrets with AES-256-GCM
// under it. The data key is stored only wrapped (encrypted) by the
// provider's master key, inside the sealed value.
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
// # Sealed format (version 2)
//
// Secrets are sealed per group, the secrets a backend stores and deletes
// together, with one AES-256-GCM seal each: the bot's token and refresh
// token (the tenant's bot), the installing user's token and refresh token,
// and the incoming webhook's URL. A fully populated fetch opens three
// groups, not five values. The group's first non-empty field holds its
// sealed value:
//
//	ivsealed:2.<provider>.<key-id>.<wrapped-key>.<body>
//
// and each other non-empty field of the group holds the marker
//
//	ivsealed:2.<provider>.<key-id>
//
// so that a backend still sees which secrets exist (the due index, "holds
// a user token") and that every non-empty secret it stores starts with
// [installstore.SealedPrefix]. [SealedKey] reads a value or a marker.
//
//   - "ivsealed:" is [installstore.SealedPrefix]; "2" the format version.
//   - provider names the [KeyProvider] ("aws-kms", "local"): [a-z0-9-], at
//     most 32 bytes.
//   - key-id is the master key that wrapped the data key (a KMS key ARN, a
//     keyring key name), base64url without padding (ARNs contain ':' and
//     '/'; base64url never contains '.').
//   - wrapped-key is the data key as the provider wrapped it (for KMS the
//     CiphertextBlob of GenerateDataKey), base64url.
//   - body is base64url of the 12-byte random nonce, the ciphertext and the
//     16-byte tag. The plaintext is a presence byte (bit i: the group's
//     field i is present), the owner (the installing user for the user's
//     and the webhook's groups, empty for the bot's), then each present
//     field's value; the owner and each value prefixed by its uvarint
//     length. The decoder refuses anything the encoder does not make.
//
// Every base64url field is decoded strictly (no padding, no stray bits, no
// line breaks), so changing any one character of a sealed value makes it
// fail to open; so does moving the sealed value to another field of its
// group, dropping or adding a marker, or a marker of another key.
//
// # Associated data
//
// A group's GCM associated data is the SHA-256 of its header
// "2.<provider>.<key-id>.<wrapped-key>" exactly as stored, then, each
// prefixed by its length as a uvarint: the Slack app's client ID (empty for
// an unscoped store; see [NewStore]), the record's enterprise ID and team
// ID ([installstore.Installation.Tenant]: an org-wide install served to a
// workspace through the enterprise fallback opens as the organization's
// record), the bound user (the installing user for the user's tokens, empty
// for the bot's and the webhook's), and the group's name ("bot", "user",
// "incoming_webhook"). The webhook is bound to its user through its
// authenticated owner: it opens in a record of that user, or in a record
// whose installing user was removed (a user delete of the tenant's latest
// installer clears User.ID and keeps the webhook), never in another user's
// record. The bot has no owner: it is the tenant's, the same whichever
// user's installation carries it. So a sealed value moved to another app,
// tenant, user or group fails with [ErrDecrypt].
//
// Data keys are bound to their tenant (and app) too: the local keyring
// wraps them with the tenant (and the client ID, when set) as associated
// data, and KMS with an encryption context naming the tenant
// ("enterprise_id", "team_id"; empty IDs are left out) and the app
// ("client_id", only when set), which also makes CloudTrail show whose key
// was opened.
//
// # Format 1
//
// Values written before format 2 ("ivsealed:1.<provider>.<key-id>.<wrapped-key>.<nonce>.<ciphertext>",
// one per secret field, each bound to the tenant, the field's name and, for
// the user's tokens, the user) keep opening, group by group: a group whose
// first value is in format 1 opens value by value. [Rewrap] counts a record
// holding any format 1 value as not current and re-seals it in format 2.
// Format 1 never bound the app or the webhook's user.
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
