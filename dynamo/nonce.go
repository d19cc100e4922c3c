package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/installstore"
)

// maxNonceLen bounds the nonces PutNonce accepts.
const maxNonceLen = 4096

// nonceKey keys a nonce by its SHA-256: the table never holds a usable
// OAuth state, and any nonce fits in a key.
func (sc scope) nonceKey(nonce string) map[string]av {
	sum := sha256.Sum256([]byte(nonce))
	return map[string]av{attrPK: sAV(string(sc) + pkNonce + hex.EncodeToString(sum[:])), attrSK: sAV(skNonce)}
}

// expiryAttrs sets the exact expiry (ms) checked by conditions, and the
// DynamoDB TTL attribute (epoch seconds, rounded up) that lets DynamoDB
// remove the item eventually.
func expiryAttrs(item map[string]av, exp time.Time) {
	item[attrExpMs] = nAV(exp.UnixMilli())
	sec := exp.Unix()
	if exp.Nanosecond() > 0 {
		sec++
	}
	item[attrTTL] = nAV(sec)
}

// PutNonce implements [installstore.NonceStore]: a PutItem that succeeds
// only if the nonce is absent or expired. The nonce is stored as its
// SHA-256, with its exact expiry and a TTL.
func (s *Store) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	if nonce == "" || len(nonce) > maxNonceLen {
		return fmt.Errorf("dynamo: put nonce: %w: empty or longer than %d bytes", installstore.ErrInvalid, maxNonceLen)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamo: put nonce: %w", err)
	}
	item := s.sc.nonceKey(nonce)
	expiryAttrs(item, expiresAt)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#exp": attrExpMs},
		ExpressionAttributeValues: map[string]av{":now": nAV(s.now().UnixMilli())},
	})
	if _, failed := conditionFailed(err); failed {
		return fmt.Errorf("dynamo: put nonce: %w: nonce exists", installstore.ErrConflict)
	}
	if err != nil {
		return wrapKey(ctx, "put nonce", err)
	}
	return nil
}

// ConsumeNonce implements [installstore.NonceStore]: a DeleteItem whose
// condition requires the nonce unexpired, so exactly one consumer wins. An
// expired nonce that DynamoDB's TTL sweeper has not removed yet is refused
// (and removed).
func (s *Store) ConsumeNonce(ctx context.Context, nonce string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamo: consume nonce: %w", err)
	}
	key := s.sc.nonceKey(nonce)
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key,
		ConditionExpression:                 aws.String("#exp > :now"),
		ExpressionAttributeNames:            map[string]string{"#exp": attrExpMs},
		ExpressionAttributeValues:           map[string]av{":now": nAV(s.now().UnixMilli())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailed(err); failed {
		if len(old) == 0 {
			return fmt.Errorf("dynamo: consume nonce: %w: unknown or already used", installstore.ErrNotFound)
		}
		// Expired: remove it now rather than wait for the TTL sweeper; only
		// if still expired, so a nonce re-put meanwhile stays.
		_, _ = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String(s.table),
			Key:                       key,
			ConditionExpression:       aws.String("#exp <= :now"),
			ExpressionAttributeNames:  map[string]string{"#exp": attrExpMs},
			ExpressionAttributeValues: map[string]av{":now": nAV(s.now().UnixMilli())},
		})
		return fmt.Errorf("dynamo: consume nonce: %w: expired", installstore.ErrNotFound)
	}
	if err != nil {
		return wrapKey(ctx, "consume nonce", err)
	}
	return nil
}
