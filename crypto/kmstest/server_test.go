package kmstest_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto/kmstest"
)

var tenantCtx = map[string]string{"enterprise_id": "E1", "team_id": "T1"}

func newServer(t *testing.T) (*kmstest.Server, *kms.Client) {
	t.Helper()
	srv := kmstest.NewServer()
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

func TestKeysThroughSDK(t *testing.T) {
	ctx := context.Background()
	srv, c := newServer(t)
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("tenant key")})
	require.NoError(t, err)
	md := created.KeyMetadata
	require.True(t, md.Enabled)
	require.Equal(t, types.KeyStateEnabled, md.KeyState)
	require.Equal(t, types.KeyUsageTypeEncryptDecrypt, md.KeyUsage)
	require.Equal(t, "tenant key", aws.ToString(md.Description))
	require.Contains(t, aws.ToString(md.Arn), "arn:aws:kms:us-east-1:111122223333:key/"+aws.ToString(md.KeyId))
	require.WithinDuration(t, time.Now(), aws.ToTime(md.CreationDate), time.Hour)

	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/tenants"), TargetKeyId: md.KeyId})
	require.NoError(t, err)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/tenants"), TargetKeyId: md.KeyId})
	var exists *types.AlreadyExistsException
	require.ErrorAs(t, err, &exists)

	for _, id := range []string{aws.ToString(md.KeyId), aws.ToString(md.Arn), "alias/tenants", "arn:aws:kms:us-east-1:111122223333:alias/tenants"} {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		require.NoError(t, err, id)
		require.Equal(t, aws.ToString(md.KeyId), aws.ToString(d.KeyMetadata.KeyId), id)
	}
	var nf *types.NotFoundException
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/missing")})
	require.ErrorAs(t, err, &nf)
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("11111111-2222-4333-8444-555555555555")})
	require.ErrorAs(t, err, &nf)
	require.Equal(t, map[string]int{"CreateKey": 1, "CreateAlias": 2, "DescribeKey": 6}, srv.CallCounts())
}

func TestDataKeysAndContext(t *testing.T) {
	ctx := context.Background()
	srv, c := newServer(t)
	k := srv.CreateKey("k")
	require.NoError(t, srv.CreateAlias("alias/k", k.ID))

	gen, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/k"), KeySpec: types.DataKeySpecAes256, EncryptionContext: tenantCtx})
	require.NoError(t, err)
	require.Len(t, gen.Plaintext, 32)
	require.Equal(t, k.ARN, aws.ToString(gen.KeyId))
	require.NotContains(t, string(gen.CiphertextBlob), string(gen.Plaintext))

	// Decrypt with the same context (any order), with or without the key ID.
	for _, keyID := range []*string{nil, aws.String(k.ARN), aws.String(k.ID), aws.String("alias/k")} {
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, KeyId: keyID, EncryptionContext: map[string]string{"team_id": "T1", "enterprise_id": "E1"}})
		require.NoError(t, err)
		require.Equal(t, gen.Plaintext, dec.Plaintext)
		require.Equal(t, k.ARN, aws.ToString(dec.KeyId))
	}

	// Another tenant's context, a missing context, an extra pair: refused.
	var invalid *types.InvalidCiphertextException
	for _, ec := range []map[string]string{
		{"enterprise_id": "E1", "team_id": "T2"},
		nil,
		{"enterprise_id": "E1", "team_id": "T1", "x": "y"},
		{"enterprise_idteam_id": "E1T1"},
	} {
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: ec})
		require.ErrorAs(t, err, &invalid, "%v", ec)
	}
	// Every corrupted byte is refused.
	for i := range gen.CiphertextBlob {
		bad := bytes.Clone(gen.CiphertextBlob)
		bad[i] ^= 0x01
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: bad, EncryptionContext: tenantCtx})
		require.Error(t, err, "byte %d", i)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob[:20], EncryptionContext: tenantCtx})
	require.ErrorAs(t, err, &invalid)

	// The wrong key ID.
	other := srv.CreateKey("other")
	var incorrect *types.IncorrectKeyException
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, KeyId: aws.String(other.ARN), EncryptionContext: tenantCtx})
	require.ErrorAs(t, err, &incorrect)

	// Validation.
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID)})
	require.Error(t, err)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "ValidationException", apiErr.ErrorCode())

	n, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), NumberOfBytes: aws.Int32(64)})
	require.NoError(t, err)
	require.Len(t, n.Plaintext, 64)
	w, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes128})
	require.NoError(t, err)
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: w.CiphertextBlob})
	require.NoError(t, err)
	require.Len(t, dec.Plaintext, 16)
}

func TestEncryptReEncrypt(t *testing.T) {
	ctx := context.Background()
	srv, c := newServer(t)
	a, b := srv.CreateKey("a"), srv.CreateKey("b")
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(a.ID), Plaintext: []byte("hello"), EncryptionContext: tenantCtx})
	require.NoError(t, err)
	require.Equal(t, a.ARN, aws.ToString(enc.KeyId))

	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: tenantCtx,
		DestinationKeyId: aws.String(b.ARN), DestinationEncryptionContext: map[string]string{"team_id": "T9"},
	})
	require.NoError(t, err)
	require.Equal(t, a.ARN, aws.ToString(re.SourceKeyId))
	require.Equal(t, b.ARN, aws.ToString(re.KeyId))
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"team_id": "T9"}})
	require.NoError(t, err)
	require.Equal(t, "hello", string(dec.Plaintext))
	require.Equal(t, b.ARN, aws.ToString(dec.KeyId))

	var invalid *types.InvalidCiphertextException
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: aws.String(b.ID)})
	require.ErrorAs(t, err, &invalid, "source context is checked")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(a.ID), Plaintext: make([]byte, 4097)})
	require.Error(t, err)
}

func TestDisableEnableRotate(t *testing.T) {
	ctx := context.Background()
	srv, c := newServer(t)
	k, other := srv.CreateKey("k"), srv.CreateKey("other")
	gen, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256, EncryptionContext: tenantCtx})
	require.NoError(t, err)

	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k.ARN)})
	require.NoError(t, err)
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.ID)})
	require.NoError(t, err)
	require.Equal(t, types.KeyStateDisabled, d.KeyMetadata.KeyState)
	var disabled *types.DisabledException
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: tenantCtx})
	require.ErrorAs(t, err, &disabled)
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	require.ErrorAs(t, err, &disabled)
	// Other keys are unaffected.
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(other.ID), KeySpec: types.DataKeySpecAes256})
	require.NoError(t, err)

	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(k.ID)})
	require.NoError(t, err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: tenantCtx})
	require.NoError(t, err)

	// Helpers act the same way.
	require.NoError(t, srv.DisableKey(k.ID))
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: tenantCtx})
	require.ErrorAs(t, err, &disabled)
	require.NoError(t, srv.EnableKey(k.ARN))
	require.Error(t, srv.DisableKey("alias/none"))

	// Rotation: new blobs differ in material, old blobs still decrypt.
	require.NoError(t, srv.RotateKey(k.ID))
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(k.ID)})
	require.NoError(t, err)
	gen2, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256, EncryptionContext: tenantCtx})
	require.NoError(t, err)
	for _, g := range []*kms.GenerateDataKeyOutput{gen, gen2} {
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: g.CiphertextBlob, EncryptionContext: tenantCtx})
		require.NoError(t, err)
		require.Equal(t, g.Plaintext, dec.Plaintext)
	}
}

func TestThrottlingIsRetriedAndCounted(t *testing.T) {
	ctx := context.Background()
	srv, c := newServer(t)
	k := srv.CreateKey("k")
	srv.ResetCalls()

	// Two throttled attempts, then success: the SDK's standard retryer (3 attempts) gets through.
	srv.Throttle(2)
	_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	require.NoError(t, err)
	require.Equal(t, 3, srv.Calls("GenerateDataKey"), "two throttled attempts and one success")
	require.Equal(t, 2, srv.Throttled())

	// Throttled beyond the retry budget: the error is ThrottlingException.
	srv.ResetCalls()
	srv.Throttle(3)
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "ThrottlingException", apiErr.ErrorCode())
	require.Equal(t, 3, srv.Calls("GenerateDataKey"))
	require.Equal(t, map[string]int{"GenerateDataKey": 3}, srv.CallCounts())
}

func TestLatency(t *testing.T) {
	srv := kmstest.NewServer(kmstest.WithLatency(time.Minute))
	defer srv.Close()
	k := srv.CreateKey("k")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := srv.Client().GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	srv.SetLatency(0)
	_, err = srv.Client().GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	require.NoError(t, err)
}

func TestRawProtocolErrors(t *testing.T) {
	srv := kmstest.NewServer()
	defer srv.Close()
	post := func(target, auth, body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String()
	}
	code, body := post("", "x", "{}")
	require.Equal(t, 400, code)
	require.Contains(t, body, `"__type":"UnknownOperationException"`)
	_, body = post("TrentService.Sign", "x", "{}")
	require.Contains(t, body, "UnknownOperationException")
	_, body = post("TrentService.CreateKey", "", "{}")
	require.Contains(t, body, "MissingAuthenticationTokenException")
	_, body = post("TrentService.CreateKey", "x", "{not json")
	require.Contains(t, body, "SerializationException")
	code, body = post("TrentService.CreateKey", "x", `{"Description":"raw"}`)
	require.Equal(t, 200, code)
	require.Contains(t, body, `"KeyState":"Enabled"`)
	require.Equal(t, 3, srv.Calls("CreateKey"), "requests naming an operation are counted, failed ones too")
}

func TestPendingDeletion(t *testing.T) {
	ctx := context.Background()
	srv, c := newServer(t)
	k := srv.CreateKey("k")
	gen, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256, EncryptionContext: tenantCtx})
	require.NoError(t, err)
	require.NoError(t, srv.ScheduleKeyDeletion(k.ARN))
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.ID)})
	require.NoError(t, err)
	require.Equal(t, types.KeyStatePendingDeletion, d.KeyMetadata.KeyState)
	var invalidState *types.KMSInvalidStateException
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: tenantCtx})
	require.ErrorAs(t, err, &invalidState)
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	require.ErrorAs(t, err, &invalidState)

	require.NoError(t, srv.CancelKeyDeletion(k.ID))
	var disabled *types.DisabledException
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: tenantCtx})
	require.ErrorAs(t, err, &disabled, "a canceled deletion leaves the key disabled, as in KMS")
	require.NoError(t, srv.EnableKey(k.ID))
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: tenantCtx})
	require.NoError(t, err)
}

func TestFailNext(t *testing.T) {
	ctx := context.Background()
	srv, c := newServer(t)
	k := srv.CreateKey("k")
	srv.ResetCalls()
	srv.FailNext(1, 500, "KMSInternalException")
	srv.FailNext(1, 400, "AccessDeniedException")
	// The retryer retries the 500, then gets the 400, which it does not retry.
	_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "AccessDeniedException", apiErr.ErrorCode())
	require.Equal(t, 2, srv.Calls("GenerateDataKey"))
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	require.NoError(t, err, "the queue is used up")
}
