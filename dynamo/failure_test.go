package dynamo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/dynamo/dynamotest"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

// throttler is a loopback proxy in front of DynamoDB Local that answers
// chosen operations with ProvisionedThroughputExceededException.
type throttler struct {
	mu       sync.Mutex
	op       string // operation to throttle, e.g. "TransactWriteItems"
	failures int    // how many of its requests to throttle; <0: all
	attempts int    // requests of op seen
}

func newThrottler(t *testing.T) (*throttler, string) {
	target, err := url.Parse(dynamotest.Endpoint(t))
	require.NoError(t, err)
	th := &throttler{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		th.mu.Lock()
		throttle := false
		if op == th.op {
			th.attempts++
			if th.failures != 0 {
				throttle = true
				th.failures--
			}
		}
		th.mu.Unlock()
		if throttle {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return th, srv.URL
}

func (th *throttler) set(op string, failures int) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.op, th.failures, th.attempts = op, failures, 0
}

func (th *throttler) seen() int {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.attempts
}

func TestThrottlingRetriedThenSurfaced(t *testing.T) {
	ctx := context.Background()
	direct := dynamotest.Client(t)
	table := dynamotest.NewTable(t, direct)
	th, proxyURL := newThrottler(t)
	client := dynamotest.NewClient(proxyURL, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.RateLimiter = ratelimit.None
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
	s, err := dynamo.New(client, table, dynamo.WithPlaintextSecrets())
	require.NoError(t, err)
	check, err := dynamo.New(direct, table, dynamo.WithPlaintextSecrets())
	require.NoError(t, err)

	// Transient: two throttles, then the retryer's third attempt lands.
	th.set("TransactWriteItems", 2)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	require.Equal(t, 3, th.seen(), "retried by the SDK retryer")

	// Persistent: the caller gets a wrapped, typed error, and nothing is written.
	th.set("TransactWriteItems", -1)
	err = s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "b"))
	require.Error(t, err)
	require.Equal(t, 3, th.seen(), "MaxAttempts attempts, then give up")
	require.ErrorIs(t, err, dynamo.ErrUnavailable)
	var pte *types.ProvisionedThroughputExceededException
	require.ErrorAs(t, err, &pte)
	require.ErrorContains(t, err, "store tenant :T2")
	require.NotContains(t, err.Error(), "xox")
	_, err = check.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "no partial write")
	_, err = check.FetchInstallation(ctx, installstore.Query{TeamID: "T2", UserID: "U1"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "no partial write")

	// Reads too.
	th.set("GetItem", -1)
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, dynamo.ErrUnavailable)
	require.ErrorContains(t, err, "fetch tenant :T1")
	require.False(t, errors.Is(err, installstore.ErrNotFound))

	// A tenant delete whose batch writes fail leaves the tenant whole (its
	// LATEST item goes last) for a retry to finish.
	th.set("BatchWriteItem", -1)
	err = s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, dynamo.ErrUnavailable)
	got, err := check.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	require.Equal(t, installstore.Secret("xoxb-test-T1-a"), got.Bot.Token)
	th.set("", 0)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	_, err = check.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.Zero(t, countItems(t, direct, table), "nothing left behind")
}

func TestMalformedItemsGiveErrors(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	put := func(item map[string]types.AttributeValue) {
		t.Helper()
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
		require.NoError(t, err)
	}
	// A LATEST item whose version is a string, and whose bot token is a number.
	put(map[string]types.AttributeValue{
		"PK": S("T#:T1"), "SK": S("LATEST"), "v": S("12"),
		"rec": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"team": S("T1")}},
	})
	q := installstore.Query{TeamID: "T1"}
	_, err := s.FetchInstallation(ctx, q)
	require.ErrorIs(t, err, dynamo.ErrMalformedItem)
	require.ErrorContains(t, err, "fetch tenant :T1")
	require.ErrorContains(t, err, "attribute v: want N, got S")
	require.ErrorIs(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")), dynamo.ErrMalformedItem)
	require.ErrorIs(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }), dynamo.ErrMalformedItem)
	require.ErrorIs(t, s.DeleteInstallation(ctx, q), dynamo.ErrMalformedItem)

	// A record that claims another tenant is refused, not served.
	put(map[string]types.AttributeValue{
		"PK": S("T#:T2"), "SK": S("LATEST"), "v": &types.AttributeValueMemberN{Value: "5"},
		"rec": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"team": S("T3")}},
		"bot": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"tok": &types.AttributeValueMemberN{Value: "1"}}},
	})
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
	require.ErrorIs(t, err, dynamo.ErrMalformedItem)
	// A USER# item without its record.
	put(map[string]types.AttributeValue{
		"PK": S("T#:T4"), "SK": S("LATEST"), "v": &types.AttributeValueMemberN{Value: "5"},
		"rec": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"team": S("T4")}},
	})
	put(map[string]types.AttributeValue{"PK": S("T#:T4"), "SK": S("USER#U1")})
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T4", UserID: "U1"})
	require.ErrorIs(t, err, dynamo.ErrMalformedItem)
	require.ErrorContains(t, err, "attribute rec: missing")
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T4"})
	require.NoError(t, err, "the tenant's LATEST item is fine")
	require.Equal(t, int64(5), got.Version)
	// Deleting the tenant removes the malformed user item too.
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T4"}))
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T4", UserID: "U1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
}

func TestDeleteTenantWithManyUsersPaginates(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	const users = 130 // six BatchWriteItem chunks of 25; two TransactGetItems chunks of 99 users
	for i := range users {
		require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U"+itoa(int64(i)), "x")))
	}
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "y")))
	n := 0
	require.NoError(t, s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		n++
		require.Equal(t, q.TeamID, inst.TeamID)
		return nil
	}))
	require.Equal(t, users+1+2, n)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.Equal(t, 2, countItems(t, client, table), "only T2's LATEST and USER# items stay")
}
