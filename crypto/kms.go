package crypto

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/installvault/installvault/installstore"
)

// kmsProviderName is the KMS provider's name in sealed values.
const kmsProviderName = "aws-kms"

// Encryption-context keys naming the tenant in every KMS call.
const (
	ContextEnterpriseID = "enterprise_id"
	ContextTeamID       = "team_id"
	// ContextClientID names the Slack app in the encryption context of
	// the data keys of an app-scoped store ([installstore.AppScoped]).
	ContextClientID = "client_id"
)

// KMSOption configures [NewKMS].
type KMSOption func(*kmsProvider)

// WithTenantKey chooses the KMS key per tenant (customer-managed keys, EKM):
// keyFor returns a key ID, key ARN, alias name or alias ARN, or "" for the
// default key. Disabling or revoking a tenant's key then makes only that
// tenant's tokens unreadable (within the cache's maxAge). When keyFor starts
// returning another key for a tenant, [Rewrap] moves its records to it.
func WithTenantKey(keyFor func(t installstore.Tenant) string) KMSOption {
	return func(p *kmsProvider) { p.keyFor = keyFor }
}

type kmsProvider struct {
	client *kms.Client
	keyID  string
	keyFor func(installstore.Tenant) string
}

// NewKMS returns a [KeyProvider] on AWS KMS: data keys come from
// GenerateDataKey (AES_256) under keyID (a key ID, key ARN, alias name or
// alias ARN) and are unwrapped with Decrypt, naming the key that wrapped
// them. Both calls carry an encryption context naming the tenant
// ([ContextEnterpriseID], [ContextTeamID]; empty IDs are left out) and, for
// an app-scoped store, the app ([ContextClientID]; the provider is an
// [AppKeyProvider]), so CloudTrail shows whose key was opened and a wrapped
// key moved to another tenant or app cannot be unwrapped. Sealed values record the key ARN KMS returns.
//
// client is an ordinary aws-sdk-go-v2 KMS client: the same code runs against
// AWS KMS and against the kmstest server. Its retryer retries throttling.
//
// Errors keep their class, decided from KMS's exception code as gocloud's
// awskms does: what KMS did not answer (throttling past the retries,
// DependencyTimeoutException, KMSInternalException, LimitExceededException,
// a 5xx, a lost connection, a timeout) or refused the app's role
// (AccessDeniedException: an IAM or key-policy mistake, fixed by an operator,
// never a reason to drop a record) wraps [installstore.ErrUnavailable]; a
// Decrypt that KMS refuses for the record (NotFoundException,
// DisabledException, KMSInvalidStateException, InvalidCiphertextException,
// IncorrectKeyException) wraps [ErrDecrypt]. The
// SDK's typed error stays wrapped for [errors.As].
func NewKMS(client *kms.Client, keyID string, opts ...KMSOption) (KeyProvider, error) {
	if client == nil || keyID == "" {
		return nil, fmt.Errorf("crypto: new kms provider: %w: a client and a key ID are required", installstore.ErrInvalid)
	}
	p := &kmsProvider{client: client, keyID: keyID}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Name implements [KeyProvider].
func (p *kmsProvider) Name() string { return kmsProviderName }

// key returns the KMS key for a tenant.
func (p *kmsProvider) key(t installstore.Tenant) string {
	if p.keyFor != nil {
		if k := p.keyFor(t); k != "" {
			return k
		}
	}
	return p.keyID
}

// encryptionContext names the tenant, and the app when clientID is set.
func encryptionContext(t installstore.Tenant, clientID string) map[string]string {
	ec := make(map[string]string, 3)
	if clientID != "" {
		ec[ContextClientID] = clientID
	}
	if t.EnterpriseID != "" {
		ec[ContextEnterpriseID] = t.EnterpriseID
	}
	if t.TeamID != "" {
		ec[ContextTeamID] = t.TeamID
	}
	return ec
}

// GenerateDataKey implements [KeyProvider].
func (p *kmsProvider) GenerateDataKey(ctx context.Context, t installstore.Tenant) (*DataKey, error) {
	return p.GenerateAppDataKey(ctx, t, "")
}

// UnwrapDataKey implements [KeyProvider].
func (p *kmsProvider) UnwrapDataKey(ctx context.Context, t installstore.Tenant, keyID string, wrapped []byte) ([]byte, error) {
	return p.UnwrapAppDataKey(ctx, t, "", keyID, wrapped)
}

// GenerateAppDataKey implements [AppKeyProvider]: the encryption context
// also names the app ([ContextClientID]).
func (p *kmsProvider) GenerateAppDataKey(ctx context.Context, t installstore.Tenant, clientID string) (*DataKey, error) {
	key := p.key(t)
	out, err := p.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(key),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encryptionContext(t, clientID),
	})
	if err != nil {
		return nil, kmsError("GenerateDataKey", key, err)
	}
	if len(out.Plaintext) != dataKeySize || len(out.CiphertextBlob) == 0 || aws.ToString(out.KeyId) == "" {
		wipe(out.Plaintext)
		return nil, fmt.Errorf("crypto: kms GenerateDataKey under %s for tenant %s: malformed response", key, t)
	}
	return &DataKey{KeyID: aws.ToString(out.KeyId), Wrapped: out.CiphertextBlob, Plaintext: NewKeyMaterial(out.Plaintext)}, nil
}

// UnwrapAppDataKey implements [AppKeyProvider].
func (p *kmsProvider) UnwrapAppDataKey(ctx context.Context, t installstore.Tenant, clientID, keyID string, wrapped []byte) ([]byte, error) {
	out, err := p.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:      wrapped,
		KeyId:               aws.String(keyID),
		EncryptionContext:   encryptionContext(t, clientID),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	})
	if err != nil {
		return nil, kmsError("Decrypt", keyID, err)
	}
	return out.Plaintext, nil
}

var _ AppKeyProvider = (*kmsProvider)(nil)
