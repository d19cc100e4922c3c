// Package dynamotest connects tests to the DynamoDB Local server that
// scripts/dynamodb-local.sh starts, and gives each test a fresh table.
//
// Tests read the server's address from INSTALLVAULT_DYNAMODB_ENDPOINT. When
// it is missing they are skipped, and one line per test binary says how to
// start the server; under CI=true (or with INSTALLVAULT_SKIP_DYNAMODB=0)
// they fail instead, so that a CI run never passes without them.
//
// [Capacity] records the read and write capacity units DynamoDB reports for
// each call (ReturnConsumedCapacity=TOTAL), for tests that measure what an
// operation costs.
package dynamotest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/installvault/installvault/dynamo"
)

// Environment variables the helpers read.
const (
	// EndpointEnv holds DynamoDB Local's URL, e.g. http://127.0.0.1:18000.
	EndpointEnv = "INSTALLVAULT_DYNAMODB_ENDPOINT"
	// SkipEnv decides what a missing EndpointEnv does: "1" skips, "0"
	// fails; unset, tests skip unless CI=true.
	SkipEnv = "INSTALLVAULT_SKIP_DYNAMODB"
)

const startHint = `eval "$(scripts/dynamodb-local.sh start)"`

var skipOnce sync.Once

// Endpoint returns DynamoDB Local's URL. When EndpointEnv is missing it
// fails the test with instructions under CI=true (or SkipEnv=0); otherwise
// it skips the test, printing the reason once per test binary.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv(EndpointEnv)
	if ep != "" {
		return ep
	}
	skip := os.Getenv(SkipEnv)
	if skip == "0" || (skip != "1" && os.Getenv("CI") == "true") {
		t.Fatalf("%s is not set: start DynamoDB Local from the repository root with\n\t%s\n(stop it with scripts/dynamodb-local.sh stop)", EndpointEnv, startHint)
	}
	skipOnce.Do(func() {
		fmt.Fprintf(os.Stderr, "dynamotest: %s is not set: skipping the DynamoDB Local tests (start it with %s)\n", EndpointEnv, startHint)
	})
	t.SkipNow()
	return ""
}

// Client returns a client of DynamoDB Local at [Endpoint]: region
// us-east-1, static fake credentials, and the SDK's standard retryer
// without a retry quota (tests hammer the server on purpose). optFns adjust
// the client's options further (a counting middleware, another endpoint).
func Client(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	return NewClient(Endpoint(t), optFns...)
}

// NewClient is [Client] for an explicit endpoint, for programs (such as a
// re-executed test binary) that have no testing.TB.
func NewClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 8
			o.RateLimiter = ratelimit.None
		}),
	}
	return dynamodb.New(opts, optFns...)
}

var seq atomic.Int64

// TableName returns a table name unique to this process and call.
func TableName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d-%d", prefix, os.Getpid(), time.Now().UnixNano(), seq.Add(1))
}

// NewTable creates a fresh table with [dynamo.CreateTable] and deletes it
// when the test ends. It returns the table's name.
func NewTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	name := TableName("installvault")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamo.CreateTable(ctx, client, name); err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	return name
}

// Counter counts DynamoDB API calls by operation name (GetItem,
// TransactWriteItems, ...): one per call, however many attempts the
// retryer made. Add it to a client with [Counter.Option].
type Counter struct {
	mu    sync.Mutex
	calls map[string]int
}

// Option returns the client option that makes the client count its calls.
func (c *Counter) Option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("installvaultCount",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					c.add(middleware.GetOperationName(ctx))
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

func (c *Counter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
}

// Calls returns a copy of the counts so far.
func (c *Counter) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// Total returns the number of calls so far.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// Reset forgets the counts.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = nil
}
