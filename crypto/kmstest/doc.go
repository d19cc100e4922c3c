// Package kmstest is an AWS KMS server for tests: it speaks KMS's JSON 1.1
// protocol (POST /, X-Amz-Target: TrentService.<Operation>) on 127.0.0.1, so
// the real aws-sdk-go-v2 KMS client talks to it unchanged and decodes its
// errors into the SDK's typed errors (*types.NotFoundException,
// *types.DisabledException, *types.InvalidCiphertextException, ...).
//
// It implements CreateKey, CreateAlias, DescribeKey, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, ReEncrypt, EnableKey,
// DisableKey and RotateKeyOnDemand for symmetric keys, with real AES-256-GCM:
// a ciphertext blob names its key and key-material version in clear (as
// KMS's do), and authenticates them with the canonical (sorted) encryption
// context, so a wrong context or a tampered blob is refused and rotated keys
// still decrypt old blobs. Keys, aliases and material live in memory; the
// material never leaves the server except as data keys it generates.
//
// Tests drive it directly too: [Server.CreateKey], [Server.DisableKey],
// [Server.EnableKey], [Server.ScheduleKeyDeletion] (KMSInvalidStateException
// until [Server.CancelKeyDeletion]), [Server.RotateKey], [Server.Throttle]
// (answer the next requests with ThrottlingException, which the SDK's
// standard retryer retries), [Server.FailNext] (any status and error code,
// such as KMSInternalException or DependencyTimeoutException),
// [Server.SetLatency], and per-operation call counters ([Server.Calls]).
// [Server.Client] builds a kms.Client pointed at it.
//
// Not implemented: asymmetric and HMAC keys, grants, key policies, deletion,
// multi-region keys, and request signature verification (a request only needs
// an Authorization header).
package kmstest
