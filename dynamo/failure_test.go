package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
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
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// Fault kinds the proxy injects.
const (
	faultThrottle = "throttle" // 400 ProvisionedThroughputExceededException
	fault500      = "500"      // 500 InternalServerError
	faultDrop     = "drop"     // the connection is closed without an answer
	faultHang     = "hang"     // no answer before the client's timeout
	faultConflict = "conflict" // 400 TransactionCanceledException: a conflict with another transaction
)

// faultProxy is a loopback proxy in front of DynamoDB Local that answers
// chosen operations with a fault, and can run a hook before forwarding one.
type faultProxy struct {
	mu       sync.Mutex
	op       string // operation to fail, e.g. "TransactWriteItems"; "*" for all
	kind     string
	failures int // how many of its requests to fail; <0: all
	attempts int // requests of op seen
	hook     func(op string)
}

func newFaultProxy(t *testing.T) (*faultProxy, string) {
	target, err := url.Parse(dynamotest.Endpoint(t))
	require.NoError(t, err)
	fp := &faultProxy{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		fp.mu.Lock()
		kind, hook := "", fp.hook
		if fp.op == op || (fp.op == "*" && op != "DescribeTable") {
			fp.attempts++
			if fp.failures != 0 {
				kind = fp.kind
				fp.failures--
			}
		}
		fp.mu.Unlock()
		if hook != nil {
			hook(op)
		}
		switch kind {
		case faultThrottle:
			answer(w, http.StatusBadRequest, "ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded.")
		case fault500:
			answer(w, http.StatusInternalServerError, "InternalServerError", "Internal server error")
		case faultDrop:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		case faultConflict:
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"},{"Code":"None"}]}`))
		case faultHang:
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return fp, srv.URL
}

func answer(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":%q}`, typ, msg)
}

func (fp *faultProxy) set(op, kind string, failures int) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.op, fp.kind, fp.failures, fp.attempts = op, kind, failures, 0
}

func (fp *faultProxy) setHook(h func(op string)) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.hook = h
}

func (fp *faultProxy) seen() int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.attempts
}

// faultyStores returns a store whose client goes through a fault proxy
// (3 attempts, 1ms backoff, a 300ms HTTP timeout), a store on the same
// table that does not, the direct client and the table. Both stores get
// opts.
func faultyStores(t *testing.T, opts ...dynamo.Option) (*faultProxy, *dynamo.Store, *dynamo.Store, *dynamodb.Client, string) {
	t.Helper()
	direct := dynamotest.Client(t)
	table := dynamotest.NewTable(t, direct)
	fp, proxyURL := newFaultProxy(t)
	client := dynamotest.NewClient(proxyURL, func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.RateLimiter = ratelimit.None
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
	opts = append([]dynamo.Option{dynamo.WithPlaintextSecrets()}, opts...)
	s, err := dynamo.New(client, table, opts...)
	require.NoError(t, err)
	check, err := dynamo.New(direct, table, opts...)
	require.NoError(t, err)
	return fp, s, check, direct, table
}

// snapshot returns every item of the table, rendered, sorted: two equal
// snapshots mean nothing was written.
func snapshot(t *testing.T, client *dynamodb.Client, table string) []string {
	t.Helper()
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	var items []string
	for _, item := range out.Items {
		items = append(items, render(item))
	}
	sort.Strings(items)
	return items
}

func render(v any) string {
	switch v := v.(type) {
	case map[string]types.AttributeValue:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%s;", k, render(v[k]))
		}
		return "{" + b.String() + "}"
	case *types.AttributeValueMemberM:
		return render(v.Value)
	case *types.AttributeValueMemberL:
		parts := make([]string, len(v.Value))
		for i, e := range v.Value {
			parts[i] = render(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprint("B:", v.Value)
	default:
		return fmt.Sprintf("%T", v)
	}
}

func TestThrottlingRetriedThenSurfaced(t *testing.T) {
	ctx := context.Background()
	fp, s, check, direct, table := faultyStores(t)

	// Transient: two throttles, then the retryer's third attempt lands.
	fp.set("TransactWriteItems", faultThrottle, 2)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	require.Equal(t, 3, fp.seen(), "retried by the SDK retryer")

	// Persistent: the caller gets a wrapped, typed error, and nothing is written.
	fp.set("TransactWriteItems", faultThrottle, -1)
	err := s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "b"))
	require.Equal(t, 3, fp.seen(), "MaxAttempts attempts, then give up")
	require.ErrorIs(t, err, dynamo.ErrUnavailable)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	var pte *types.ProvisionedThroughputExceededException
	require.ErrorAs(t, err, &pte)
	require.ErrorContains(t, err, "store tenant T2")
	require.NotContains(t, err.Error(), "xox")
	_, err = check.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "no partial write")
	_, err = check.FetchInstallation(ctx, installstore.Query{TeamID: "T2", UserID: "U1"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "no partial write")
	fp.set("", "", 0)
	require.Len(t, snapshot(t, direct, table), 2, "T1's LATEST and USER# items only")
}

// Transaction conflicts are retried by the client's retryer; when they
// persist, the caller gets ErrUnavailable and nothing is written.
func TestTransactionConflictsAfterRetries(t *testing.T) {
	ctx := context.Background()
	fp, s, check, direct, table := faultyStores(t)
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	before := snapshot(t, direct, table)

	fp.set("TransactWriteItems", faultConflict, 2)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "b")), "two conflicts, then the third attempt lands")
	require.Equal(t, 3, fp.seen())
	require.NoError(t, check.DeleteInstallation(ctx, installstore.Query{TeamID: "T2"}))

	fp.set("TransactWriteItems", faultConflict, -1)
	err := s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "c"))
	require.Equal(t, 3, fp.seen(), "retried by the retryer")
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.ErrorIs(t, err, dynamo.ErrUnavailable)
	require.False(t, errors.Is(err, installstore.ErrConflict), "a conflict with another transaction is not a lost condition")
	var tce *types.TransactionCanceledException
	require.ErrorAs(t, err, &tce)

	fp.set("TransactGetItems", faultConflict, -1)
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	fp.set("", "", 0)
	require.Equal(t, before, snapshot(t, direct, table))
}

// Every operation, under every kind of transient fault on every request,
// fails with ErrUnavailable (never ErrNotFound, ErrConflict or ErrCorrupt)
// and changes nothing in the table.
func TestFaultsChangeNothing(t *testing.T) {
	ctx := context.Background()
	fp, s, check, direct, table := faultyStores(t)
	rot := storetest.Fixture("", "T1", "U1", "a")
	rot.Bot.ExpiresAt = time.Now().Add(time.Hour)
	require.NoError(t, check.StoreInstallation(ctx, rot))
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "b")))
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T5", "U1", "c")))
	require.NoError(t, check.PutNonce(ctx, "nonce-1", time.Now().Add(time.Hour)))
	require.NoError(t, check.AcquireLease(ctx, "lease-1", "owner-a", time.Hour))
	cur, err := check.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"})
	require.NoError(t, err)
	before := snapshot(t, direct, table)

	q1 := installstore.Query{TeamID: "T1"}
	ops := map[string]func() error{
		"store":      func() error { return s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U3", "new")) },
		"store grid": func() error { return s.StoreInstallation(ctx, storetest.Fixture("E1", "T1", "U1", "grid")) },
		"store user-only": func() error {
			i := storetest.Fixture("", "T1", "U1", "x")
			i.Bot = nil
			return s.StoreInstallation(ctx, i)
		},
		"fetch": func() error { _, err := s.FetchInstallation(ctx, q1); return err },
		"fetch user": func() error {
			_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
			return err
		},
		"fetch fallback": func() error {
			_, err := s.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T1"})
			return err
		},
		"update":      func() error { return s.UpdateInstallation(ctx, cur.Clone()) },
		"delete":      func() error { return s.DeleteInstallation(ctx, q1) },
		"delete grid": func() error { return s.DeleteInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T1"}) },
		"delete if":   func() error { return s.DeleteInstallationIf(ctx, q1, cur.Version) },
		"delete user": func() error { return s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}) },
		"delete user if": func() error {
			return s.DeleteInstallationIf(ctx, installstore.Query{TeamID: "T1", UserID: "U2"}, cur.Version)
		},
		"delete bot":    func() error { return s.DeleteBot(ctx, q1) },
		"delete bot if": func() error { return s.DeleteBotIf(ctx, q1, cur.Version) },
		"list": func() error {
			return s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil })
		},
		"list due": func() error {
			return s.ListDue(ctx, time.Now().Add(24*time.Hour), func(installstore.Query, time.Time) error { return nil })
		},
		"put nonce":     func() error { return s.PutNonce(ctx, "nonce-2", time.Now().Add(time.Hour)) },
		"consume nonce": func() error { return s.ConsumeNonce(ctx, "nonce-1") },
		"acquire lease": func() error { return s.AcquireLease(ctx, "lease-1", "owner-b", time.Hour) },
		"release lease": func() error { return s.ReleaseLease(ctx, "lease-1", "owner-a") },
	}
	// A hang costs the client's timeout per attempt: a few operations show it.
	slow := map[string]bool{"store": true, "fetch user": true, "delete": true, "list due": true, "consume nonce": true}
	for _, kind := range []string{faultThrottle, fault500, faultDrop, faultHang} {
		for name, op := range ops {
			if kind == faultHang && !slow[name] {
				continue
			}
			t.Run(kind+"/"+name, func(t *testing.T) {
				fp.set("*", kind, -1)
				err := op()
				fp.set("", "", 0)
				require.Error(t, err)
				require.ErrorIs(t, err, installstore.ErrUnavailable)
				require.ErrorIs(t, err, dynamo.ErrUnavailable)
				for _, class := range []error{installstore.ErrNotFound, installstore.ErrConflict, installstore.ErrCorrupt, installstore.ErrInvalid, context.Canceled, context.DeadlineExceeded} {
					if kind != faultHang || class != context.DeadlineExceeded {
						require.False(t, errors.Is(err, class), "%v also matches %v", err, class)
					}
				}
				require.NotContains(t, err.Error(), "xox", "no secret in errors")
				require.Equal(t, before, snapshot(t, direct, table), "a failed operation writes nothing")
			})
		}
	}

	// The caller's own deadline is not ErrUnavailable.
	fp.set("*", faultHang, -1)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.FetchInstallation(short, q1)
	fp.set("", "", 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, errors.Is(err, installstore.ErrUnavailable), "%v", err)
}

// A fault in the middle of a multi-step operation: each step that failed
// wrote nothing, and what an earlier step committed is never undone nor
// resurrected.
func TestFaultsPartWay(t *testing.T) {
	ctx := context.Background()
	fp, s, check, direct, table := faultyStores(t)
	q := func(team, user string) installstore.Query { return installstore.Query{TeamID: team, UserID: user} }

	// A tenant delete whose sweep fails: the tenant already reads as
	// deleted, the error says ErrUnavailable, a retry removes the rest.
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "a")))
	fp.set("DeleteItem", fault500, -1)
	err := s.DeleteInstallation(ctx, q("T1", ""))
	fp.set("", "", 0)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	for _, query := range []installstore.Query{q("T1", ""), q("T1", "U1"), q("T1", "U2")} {
		_, err := check.FetchInstallation(ctx, query)
		require.ErrorIs(t, err, installstore.ErrNotFound, "%+v", query)
	}
	// A re-install before the retry gets nothing of the tenant's earlier life.
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "again")))
	_, err = check.FetchInstallation(ctx, q("T1", "U2"))
	require.ErrorIs(t, err, installstore.ErrNotFound, "a swept user never comes back with a re-install")
	got, err := check.FetchInstallation(ctx, q("T1", "U1"))
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T1-again"), got.Bot.Token)
	require.NoError(t, s.DeleteInstallation(ctx, q("T1", "")))
	require.Empty(t, snapshot(t, direct, table), "nothing left behind")

	// A user delete whose transaction fails changes nothing.
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "b")))
	before := snapshot(t, direct, table)
	fp.set("TransactWriteItems", faultDrop, -1)
	require.ErrorIs(t, s.DeleteInstallation(ctx, q("T2", "U1")), installstore.ErrUnavailable)
	fp.set("", "", 0)
	require.Equal(t, before, snapshot(t, direct, table))

	// A Grid store whose write fails keeps the standalone record.
	fp.set("TransactWriteItems", faultThrottle, -1)
	require.ErrorIs(t, s.StoreInstallation(ctx, storetest.Fixture("E1", "T2", "U1", "grid")), installstore.ErrUnavailable)
	fp.set("", "", 0)
	require.Equal(t, before, snapshot(t, direct, table))
	got, err = check.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T2"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T2-b"), got.Bot.Token, "still served by the standalone record")

	// A Grid store whose sweep of the standalone record fails: the store
	// succeeded, the standalone record reads as gone, and the next delete
	// of the team finishes it.
	fp.set("DeleteItem", fault500, -1)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("E1", "T2", "U1", "grid")))
	fp.set("", "", 0)
	_, err = check.FetchInstallation(ctx, q("T2", "U1"))
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.NoError(t, check.DeleteInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T2"}))
	require.Empty(t, snapshot(t, direct, table), "nothing left behind")
}
