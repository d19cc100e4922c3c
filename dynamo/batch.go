package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/installstore"
)

const (
	batchSize = 25 // BatchWriteItem's limit
	// unprocessedAttempts bounds the BatchWriteItem calls spent on one
	// chunk's unprocessed items.
	unprocessedAttempts = 8
)

// batchDelete deletes the items with the given keys, 25 a request,
// re-sending unprocessed items with exponential backoff and jitter.
func (s *Store) batchDelete(ctx context.Context, t installstore.Tenant, keys []map[string]av) error {
	for start := 0; start < len(keys); start += batchSize {
		chunk := keys[start:min(start+batchSize, len(keys))]
		reqs := make([]types.WriteRequest, len(chunk))
		for i, k := range chunk {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
		}
		for attempt := 0; len(reqs) > 0; attempt++ {
			if attempt == unprocessedAttempts {
				return fmt.Errorf("dynamo: delete tenant %s: %w: %d items still unprocessed after %d BatchWriteItem calls", t, ErrUnavailable, len(reqs), attempt)
			}
			if attempt > 0 {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return fmt.Errorf("dynamo: delete tenant %s: %w", t, err)
				}
			}
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: reqs},
			})
			if err != nil {
				return wrap("delete (batch write)", t, err)
			}
			reqs = out.UnprocessedItems[s.table]
		}
	}
	return nil
}

// backoff returns the wait before the attempt-th re-send: exponential from
// 25ms, capped at 2s, with full jitter.
func backoff(attempt int) time.Duration {
	d := min(25*time.Millisecond<<attempt, 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
