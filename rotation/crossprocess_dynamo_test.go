package rotation

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/dynamotest"
)

// The production stack shared by the replicas: crypto.NewStore over one
// DynamoDB Local table. Needs INSTALLVAULT_DYNAMODB_ENDPOINT (see
// dynamotest): without it the test fails with instructions, or skips when
// INSTALLVAULT_SKIP_DYNAMODB=1.

const envXprocTable = "ROTATION_XPROC_DYNAMO_TABLE"

func init() {
	// The fault tests' DynamoDB Local backend: crypto over a fresh table.
	testBackends["crypto+dynamodb-local"] = func(e *env) installstore.FullStore {
		client := dynamotest.Client(e.t)
		inner, err := dynamo.New(client, dynamotest.NewTable(e.t, client), dynamo.WithClock(e.clock.now))
		require.NoError(e.t, err)
		keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": bytes.Repeat([]byte{7}, 32)}, "k")
		require.NoError(e.t, err)
		store, err := crypto.NewStore(inner, keys)
		require.NoError(e.t, err)
		return store
	}
	sharedBackends["crypto+dynamodb-local"] = func(t testing.TB) *sharedBackend {
		var table string
		if os.Getenv(envXprocChild) == "1" {
			table = os.Getenv(envXprocTable)
		} else {
			table = dynamotest.NewTable(t, dynamotest.Client(t))
		}
		return &sharedBackend{
			env: []string{envXprocTable + "=" + table},
			open: func(t testing.TB) installstore.FullStore {
				inner, err := dynamo.New(dynamotest.Client(t), table)
				if err != nil {
					t.Fatal(err)
				}
				// A fixed test key, the same in every replica.
				keys, err := crypto.NewLocalKeyring(map[string][]byte{"xproc": bytes.Repeat([]byte{7}, 32)}, "xproc")
				if err != nil {
					t.Fatal(err)
				}
				store, err := crypto.NewStore(inner, keys)
				if err != nil {
					t.Fatal(err)
				}
				return store
			},
		}
	}
}

// TestDynamoCrashedLeaseHolderIsTakenOver: on DynamoDB Local, a replica that
// took the refresh lease and died blocks refreshes until the lease expires;
// then another replica refreshes.
func TestDynamoCrashedLeaseHolderIsTakenOver(t *testing.T) {
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	e := newEnv(t)
	// Start the clock at the real time: DynamoDB Local's TTL sweeper may
	// delete a lease whose "ttl" attribute is in the real past.
	e.clock.t = time.Now()
	inner, err := dynamo.New(client, table, dynamo.WithClock(e.clock.now))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k": bytes.Repeat([]byte{7}, 32)}, "k")
	if err != nil {
		t.Fatal(err)
	}
	store, err := crypto.NewStore(inner, keys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inst := &installstore.Installation{TeamID: "T0ACME", Bot: &installstore.Bot{
		ID: "B1", Token: installstore.NewSecret("xoxb-test-expired"), RefreshToken: installstore.NewSecret("xoxe-test-bot-dyn"), ExpiresAt: e.clock.now().Add(-time.Minute),
	}}
	require.NoError(t, store.StoreInstallation(ctx, inst))
	e.allow("T0ACME", "xoxe-test-bot-dyn")
	const ttl = 30 * time.Second
	require.NoError(t, store.AcquireLease(ctx, leaseName(acme, partBot), "killed-replica", ttl))

	r := e.refresher(store, WithLeaseTTL(ttl))
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	got, err := r.Authorize(short, acme)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Nil(t, got, "no expired token while the lease is held")
	require.Zero(t, e.slack.calls.Load())

	e.clock.advance(ttl + time.Second)
	got, err = r.Authorize(ctx, acme)
	require.NoError(t, err)
	require.Equal(t, "xoxb-test-bot-1", got.Bot.Token.Reveal())
	require.Equal(t, int64(1), e.slack.calls.Load())
}
