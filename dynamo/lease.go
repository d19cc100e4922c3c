package dynamo

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/installvault/installvault/installstore"
)

// maxLeaseNameLen bounds lease names and owners.
const maxLeaseNameLen = 1024

func (sc scope) leaseKey(name string) map[string]av {
	return map[string]av{attrPK: sAV(string(sc) + pkLease + name), attrSK: sAV(skLease)}
}

// AcquireLease implements [installstore.Leaser]: a PutItem whose condition
// requires the lease to be free, expired (by its exact expiry, whatever
// DynamoDB's TTL sweeper has done), or already owner's.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	if name == "" || owner == "" || ttl <= 0 || len(name) > maxLeaseNameLen || len(owner) > maxLeaseNameLen ||
		!utf8.ValidString(name) || !utf8.ValidString(owner) {
		return fmt.Errorf("dynamo: acquire lease: %w: need a name and an owner (valid UTF-8, at most %d bytes) and a positive ttl", installstore.ErrInvalid, maxLeaseNameLen)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamo: acquire lease %q: %w", name, err)
	}
	now := s.now()
	item := s.sc.leaseKey(name)
	item[attrOwner] = sAV(owner)
	expiryAttrs(item, now.Add(ttl))
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #owner = :owner OR #exp <= :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#owner": attrOwner, "#exp": attrExpMs},
		ExpressionAttributeValues: map[string]av{":owner": sAV(owner), ":now": nAV(now.UnixMilli())},
	})
	if _, failed := conditionFailed(err); failed {
		return fmt.Errorf("dynamo: acquire lease %q: %w", name, installstore.ErrLeaseHeld)
	}
	if err != nil {
		return wrapKey(ctx, fmt.Sprintf("acquire lease %q", name), err)
	}
	return nil
}

// ReleaseLease implements [installstore.Leaser]: a DeleteItem conditioned
// on the owner.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if name == "" || owner == "" || len(name) > maxLeaseNameLen || !utf8.ValidString(name) {
		return nil // no such lease can exist, or be held by owner
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamo: release lease %q: %w", name, err)
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       s.sc.leaseKey(name),
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": attrOwner},
		ExpressionAttributeValues: map[string]av{":owner": sAV(owner)},
	})
	if _, failed := conditionFailed(err); failed {
		return nil
	}
	if err != nil {
		return wrapKey(ctx, fmt.Sprintf("release lease %q", name), err)
	}
	return nil
}
