package oauth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
	"github.com/installvault/installvault/oauth"
)

type ddbItem = map[string]types.AttributeValue

func ddbS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func ddbN(n int64) types.AttributeValue  { return &types.AttributeValueMemberN{Value: fmt.Sprint(n)} }
func ddbM(m ddbItem) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: m}
}

// ddbCanary is a fake token planted in malformed items: no log line or
// answer may carry it.
const ddbCanary = "xoxb-test-canary-never-print"

// TestEventsPurgeCorruptTenantsOnDynamoDB (issue 12, point 7): on DynamoDB
// Local, under the encryption layer, a tenant whose items another writer
// left malformed is purged by its signed app_uninstalled (or its user by
// tokens_revoked), at once and whatever the event's time, instead of
// answering 500 on every retry; well-formed tenants stay.
func TestEventsPurgeCorruptTenantsOnDynamoDB(t *testing.T) {
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	backend, err := dynamo.New(client, table)
	require.NoError(t, err)
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, "k1")
	require.NoError(t, err)
	sealed, err := crypto.NewStore(backend, keys)
	require.NoError(t, err)
	e := newEnv(t, func(c *oauth.Config) { c.Store = sealed })
	bg := context.Background()
	good := storetest.Fixture("", "T1", "U1", "good")
	require.NoError(t, sealed.StoreInstallation(bg, good.Clone()))

	latest := func(team string, mutate func(ddbItem)) ddbItem {
		it := ddbItem{"PK": ddbS("T#:" + team), "SK": ddbS("LATEST"), "v": ddbN(5),
			"rec": ddbM(ddbItem{"team": ddbS(team), "user": ddbM(ddbItem{"id": ddbS("U1"), "tok": ddbS(ddbCanary)})}),
			"bot": ddbM(ddbItem{"id": ddbS("B1"), "tok": ddbS(ddbCanary)})}
		if mutate != nil {
			mutate(it)
		}
		return it
	}
	user := func(team, uid string, rec types.AttributeValue) ddbItem {
		return ddbItem{"PK": ddbS("T#:" + team), "SK": ddbS("USER#" + uid), "v": ddbN(5), "rec": rec}
	}
	shapes := []struct {
		name  string
		items []ddbItem
		event string
	}{
		{"VersionIsAString", []ddbItem{latest("C1", func(it ddbItem) { it["v"] = ddbS("12") })}, uninstalled},
		{"RecordOfAnotherTenant", []ddbItem{latest("C2", func(it ddbItem) {
			it["rec"] = ddbM(ddbItem{"team": ddbS("T1"), "user": ddbM(ddbItem{"id": ddbS("U1"), "tok": ddbS(ddbCanary)})})
		})}, uninstalled},
		{"BotTokenIsANumber", []ddbItem{latest("C3", func(it ddbItem) { it["bot"] = ddbM(ddbItem{"tok": ddbN(1)}) })}, uninstalled},
		{"InstallTimeUnparsable", []ddbItem{latest("C4", func(it ddbItem) {
			it["rec"] = ddbM(ddbItem{"team": ddbS("C4"), "at": ddbS("yesterday")})
		})}, uninstalled},
		{"UserItemHoldsAnotherUsersRecord", []ddbItem{latest("C5", nil),
			user("C5", "U1", ddbM(ddbItem{"team": ddbS("C5"), "user": ddbM(ddbItem{"id": ddbS("U2"), "tok": ddbS(ddbCanary)})}))}, revokeU1},
		{"UserItemWithoutRecord", []ddbItem{latest("C6", nil), {"PK": ddbS("T#:C6"), "SK": ddbS("USER#U1"), "v": ddbN(5)}}, revokeU1},
	}
	for _, c := range shapes {
		t.Run(c.name, func(t *testing.T) {
			for _, it := range c.items {
				_, err := client.PutItem(bg, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
				require.NoError(t, err)
			}
			team := c.items[0]["PK"].(*types.AttributeValueMemberS).Value[3:]
			q := installstore.Query{TeamID: team}
			if c.event == revokeU1 {
				q.UserID = "U1"
			}
			_, err := sealed.FetchInstallation(bg, q)
			require.ErrorIs(t, err, installstore.ErrCorrupt)
			require.NotErrorIs(t, err, installstore.ErrUnavailable)

			rec := e.post(callbackBody("", team, false, c.event, t0.Add(-24*time.Hour)))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			_, err = backend.FetchInstallation(bg, q)
			require.ErrorIs(t, err, installstore.ErrNotFound, "the corrupt records stay")
		})
	}
	got, err := sealed.FetchInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	storetest.Equal(t, good, got)
	require.NotContains(t, e.logs.String(), ddbCanary)
	require.NotContains(t, e.bodies.String(), ddbCanary)
}

// TestEventDeduplicationOnDynamoDB: two replicas sharing a DynamoDB table
// hand each event_id to the app once, and a delivery the app failed is
// delivered again.
func TestEventDeduplicationOnDynamoDB(t *testing.T) {
	client := dynamotest.Client(t)
	backend, err := dynamo.New(client, dynamotest.NewTable(t, client))
	require.NoError(t, err)
	next := &recorder{}
	replicas := make([]*oauth.Handler, 2)
	for i := range replicas {
		cfg := validConfig()
		cfg.Store, cfg.Next = backend, next
		cfg.Logger = slog.New(slog.DiscardHandler)
		replicas[i], err = oauth.New(cfg)
		require.NoError(t, err)
	}
	deliver := func(h *oauth.Handler, body string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signed(t, body, testSigningSecret, time.Now()))
		return rec.Code
	}
	body := mentionBody("A0APP", "T1", "Ev-ddb-1")
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i] = deliver(replicas[i%2], body) })
	}
	wg.Wait()
	require.Equal(t, 1, next.count(), "codes %v", codes)

	failing := mentionBody("A0APP", "T1", "Ev-ddb-2")
	next.status.Store(http.StatusInternalServerError)
	require.Equal(t, http.StatusInternalServerError, deliver(replicas[0], failing))
	next.status.Store(0)
	require.Equal(t, http.StatusOK, deliver(replicas[1], failing))
	require.Equal(t, http.StatusOK, deliver(replicas[0], failing))
	require.Equal(t, 3, next.count())
}

// TestCheckAndPurgeAreOneStepOnDynamoDB: on DynamoDB Local, a re-install
// landing between the late-event check and the purge survives.
func TestCheckAndPurgeAreOneStepOnDynamoDB(t *testing.T) {
	client := dynamotest.Client(t)
	backend, err := dynamo.New(client, dynamotest.NewTable(t, client), dynamo.WithPlaintextSecrets())
	require.NoError(t, err)
	rs := &raceStore{Passthrough: installstore.Passthrough{Inner: backend}}
	e := newEnv(t, func(c *oauth.Config) { c.Store = rs })
	bg := context.Background()
	old := storetest.Fixture("", "T1", "U1", "old")
	old.InstalledAt, old.Bot.InstalledAt = t0, t0
	require.NoError(t, backend.StoreInstallation(bg, old))
	again := storetest.Fixture("", "T1", "U1", "new")
	again.InstalledAt, again.Bot.InstalledAt = t0.Add(2*time.Minute), t0.Add(2*time.Minute)
	rs.before = func() { require.NoError(t, backend.StoreInstallation(bg, again.Clone())) }
	rec := e.post(callbackBody("", "T1", false, uninstalled, t0.Add(time.Minute)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got, err := backend.FetchInstallation(bg, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err, "the re-install was deleted")
	storetest.Equal(t, again, got)
}
