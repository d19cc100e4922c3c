package dynamo_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

type item = map[string]types.AttributeValue

func sv(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func nv(n int64) types.AttributeValue  { return &types.AttributeValueMemberN{Value: fmt.Sprint(n)} }
func mv(m item) types.AttributeValue   { return &types.AttributeValueMemberM{Value: m} }
func dueAttrs(it item, pk string, ms int64) item {
	it["due"], it["dueShard"] = nv(ms), sv("DUE#00")
	_ = pk
	return it
}

// canary is a fake token planted in corrupt items: no error may carry it.
const canary = "xoxb-test-canary-never-print"

// goodLatest returns a well-formed LATEST item of tenant ":team" whose
// record holds user uid.
func goodLatest(team, uid string) item {
	return item{
		"PK": sv("T#:" + team), "SK": sv("LATEST"), "v": nv(5),
		"rec": mv(item{"team": sv(team), "user": mv(item{"id": sv(uid), "tok": sv(canary)})}),
		"bot": mv(item{"id": sv("B1"), "tok": sv(canary)}),
	}
}

func userRec(team, uid string) item {
	return item{"PK": sv("T#:" + team), "SK": sv("USER#" + uid), "v": nv(5),
		"rec": mv(item{"team": sv(team), "user": mv(item{"id": sv(uid), "tok": sv(canary)})})}
}

// corruptShapes are malformed tenants, each as the items a table writer
// other than the store could leave, and the query whose fetch must fail.
func corruptShapes() []struct {
	name  string
	items []item
	query installstore.Query
} {
	with := func(it item, k string, v types.AttributeValue) item {
		if v == nil {
			delete(it, k)
		} else {
			it[k] = v
		}
		return it
	}
	q := func(team, uid string) installstore.Query { return installstore.Query{TeamID: team, UserID: uid} }
	return []struct {
		name  string
		items []item
		query installstore.Query
	}{
		{"version is a string", []item{with(goodLatest("C1", "U1"), "v", sv("12")), userRec("C1", "U1")}, q("C1", "")},
		{"version missing", []item{with(goodLatest("C2", "U1"), "v", nil)}, q("C2", "")},
		{"record missing", []item{with(goodLatest("C3", "U1"), "rec", nil), userRec("C3", "U1")}, q("C3", "U1")},
		{"record of another tenant", []item{with(goodLatest("C4", "U1"), "rec", mv(item{"team": sv("T1"), "user": mv(item{"id": sv("U1"), "tok": sv(canary)})}))}, q("C4", "")},
		{"bot token is a number", []item{with(goodLatest("C5", "U1"), "bot", mv(item{"tok": nv(1)}))}, q("C5", "")},
		{"user is a string", []item{with(goodLatest("C6", "U1"), "rec", mv(item{"team": sv("C6"), "user": sv(canary)}))}, q("C6", "")},
		{"install time unparsable", []item{with(goodLatest("C7", "U1"), "rec", mv(item{"team": sv("C7"), "at": sv("yesterday")}))}, q("C7", "")},
		{"tombstone mark not a bool", []item{with(goodLatest("C8", "U1"), "tomb", sv("yes"))}, q("C8", "")},
		{"user item holds another user's record", []item{goodLatest("C9", "U1"), with(userRec("C9", "U2"), "rec", userRec("C9", "U1")["rec"])}, q("C9", "U2")},
		{"user item holds another tenant's record", []item{goodLatest("C10", "U1"), with(userRec("C10", "U2"), "rec", userRec("T1", "U2")["rec"])}, q("C10", "U2")},
		{"user item without record", []item{goodLatest("C11", "U1"), with(userRec("C11", "U2"), "rec", nil)}, q("C11", "U2")},
		{"user item version is a string", []item{goodLatest("C12", "U1"), with(userRec("C12", "U2"), "v", sv("x"))}, q("C12", "U2")},
		{"sealed webhook is a map", []item{goodLatest("C13", "U1"), with(userRec("C13", "U2"), "rec", mv(item{"team": sv("C13"), "user": mv(item{"id": sv("U2")}), "hook": mv(item{"url": mv(item{"x": sv(canary)})})}))}, q("C13", "U2")},
	}
}

// fingerprint is how reports name a key part the store did not write.
func fingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("sha256:%x (%d bytes)", sum[:4], len(s))
}

func putItems(t *testing.T, client *dynamodb.Client, table string, items ...item) {
	t.Helper()
	for _, it := range items {
		_, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
		require.NoError(t, err)
	}
}

func partitionSize(t *testing.T, client *dynamodb.Client, table, pk string) int {
	t.Helper()
	out, err := client.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: item{":pk": sv(pk)},
		ConsistentRead:            aws.Bool(true),
		Select:                    types.SelectCount,
	})
	require.NoError(t, err)
	return int(out.Count)
}

// Malformed items are contained: a fetch gives ErrCorrupt and never another
// tenant's data, listings go past them and name them, and deleting the
// tenant removes every item.
func TestCorruptRecordsContained(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	good := storetest.Fixture("", "T1", "U1", "good")
	good.Bot.ExpiresAt = time.Now().Add(time.Minute)
	require.NoError(t, s.StoreInstallation(ctx, good))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T2", "U1", "good")))
	shapes := corruptShapes()
	for _, c := range shapes {
		putItems(t, client, table, c.items...)
	}
	// Keys that name no record, in the table and in the due index.
	putItems(t, client, table,
		dueAttrs(item{"PK": sv("T#nocolon"), "SK": sv("LATEST"), "v": nv(1), "rec": mv(item{})}, "", 1),
		dueAttrs(item{"PK": sv("T#:T1"), "SK": sv("USER#bad id"), "v": nv(1)}, "", 1),
	)

	for _, c := range shapes {
		t.Run("fetch/"+c.name, func(t *testing.T) {
			got, err := s.FetchInstallation(ctx, c.query)
			require.Nil(t, got, "never handed out")
			require.ErrorIs(t, err, installstore.ErrCorrupt)
			require.ErrorIs(t, err, dynamo.ErrMalformedItem)
			require.False(t, errors.Is(err, installstore.ErrUnavailable))
			require.ErrorContains(t, err, c.query.Tenant().String())
			require.NotContains(t, err.Error(), canary)
		})
	}

	// Listing goes past every bad record, hands out every good one, and
	// names what it skipped.
	listed := map[installstore.Query]string{}
	err := s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		require.Equal(t, q.Tenant(), inst.Tenant(), "never another tenant's record")
		listed[q] = inst.Bot.Token.Reveal()
		return nil
	})
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.NotContains(t, err.Error(), canary)
	require.NotContains(t, err.Error(), "nocolon")
	require.Equal(t, map[installstore.Query]string{
		{TeamID: "T1"}: "xoxb-test-T1-good", {TeamID: "T1", UserID: "U1"}: "xoxb-test-T1-good",
		{TeamID: "T2"}: "xoxb-test-T2-good", {TeamID: "T2", UserID: "U1"}: "xoxb-test-T2-good",
		// Tenants with a good LATEST item and a bad user item keep the good records.
		{TeamID: "C9"}: canary, {TeamID: "C10"}: canary, {TeamID: "C11"}: canary, {TeamID: "C12"}: canary, {TeamID: "C13"}: canary,
	}, listed)
	for _, name := range []string{"tenant C1 ", "tenant C2 ", "tenant C3 ", "tenant C3 user U1", "tenant C4 ", "tenant C5 ", "tenant C6 ", "tenant C7 ", "tenant C8 ",
		"tenant C9 user U2", "tenant C10 user U2", "tenant C11 user U2", "tenant C12 user U2", "tenant C13 user U2", fingerprint("T#nocolon"), fingerprint("USER#bad id")} {
		require.Contains(t, err.Error(), name, "the error names every skipped record")
	}
	n, complete := installstore.CountSkipped(err)
	require.True(t, complete, "the listing went to its end")
	require.Equal(t, 17, n, "each skipped record is its own ErrCorrupt, so CountSkipped counts them")
	require.ErrorContains(t, err, "skipped 17 records")

	// The due index goes past entries whose key names no record.
	var due []installstore.Query
	err = s.ListDue(ctx, time.Now().Add(time.Hour), func(q installstore.Query, _ time.Time) error {
		due = append(due, q)
		return nil
	})
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.ErrorContains(t, err, fingerprint("T#nocolon"))
	require.ErrorContains(t, err, fingerprint("USER#bad id"))
	require.NotContains(t, err.Error(), "nocolon", "a malformed key is named by its fingerprint, never its text")
	require.ElementsMatch(t, []installstore.Query{{TeamID: "T1"}}, due)

	// Writes refuse to build on a LATEST item that does not decode, and a
	// conditional delete cannot compare its version.
	err = s.StoreInstallation(ctx, storetest.Fixture("", "C1", "U1", "x"))
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.ErrorIs(t, s.DeleteInstallationIf(ctx, installstore.Query{TeamID: "C1"}, 12), installstore.ErrCorrupt)
	require.Equal(t, 2, partitionSize(t, client, table, "T#:C1"), "nothing deleted")

	// Revoking the bot of a tenant whose LATEST item does not decode removes
	// the bot token all the same; the record stays unreadable.
	require.ErrorIs(t, s.DeleteBotIf(ctx, installstore.Query{TeamID: "C1"}, 12), installstore.ErrCorrupt)
	require.NoError(t, s.DeleteBot(ctx, installstore.Query{TeamID: "C1"}))
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: item{"PK": sv("T#:C1"), "SK": sv("LATEST")}, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	raw := out.Item
	require.NotContains(t, raw, "bot", "the revoked bot token is gone")
	require.Equal(t, sv("12"), raw["v"], "nothing else changed")
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "C1"})
	require.ErrorIs(t, err, installstore.ErrCorrupt)

	// Deleting the tenant removes every item, whatever it holds; a user
	// delete of a tenant whose LATEST item does not decode purges it too.
	for _, c := range shapes {
		t.Run("delete/"+c.name, func(t *testing.T) {
			pk := "T#" + c.query.Tenant().String()
			q := installstore.Query{TeamID: c.query.TeamID}
			if c.query.UserID != "" && c.name == "record missing" {
				q = c.query
			}
			require.NoError(t, s.DeleteInstallation(ctx, q))
			require.Zero(t, partitionSize(t, client, table, pk))
			_, err := s.FetchInstallation(ctx, c.query)
			require.ErrorIs(t, err, installstore.ErrNotFound)
			require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", c.query.TeamID, "U1", "fresh")), "installable again")
		})
	}
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T2", UserID: "U1"})
	require.NoError(t, err)
	require.Equal(t, installstore.NewSecret("xoxb-test-T2-good"), got.Bot.Token, "other tenants untouched")
}

// A user delete that removes a corrupt user item leaves the rest.
func TestDeleteCorruptUserItem(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	putItems(t, client, table, item{"PK": sv("T#:T1"), "SK": sv("USER#U2"), "rec": sv(canary)})
	_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"})
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.NotContains(t, err.Error(), canary)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"}))
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(got.Bot.Token.Reveal(), "xoxb-test-T1"))
}

// Deleting a tenant, its bot or a user works whatever type its version
// attribute has.
func TestDeleteWhateverTheVersionHolds(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	for i, v := range []types.AttributeValue{
		mv(item{"x": sv("y")}),
		&types.AttributeValueMemberL{Value: []types.AttributeValue{sv("a")}},
		&types.AttributeValueMemberBOOL{Value: true},
		&types.AttributeValueMemberNULL{Value: true},
		&types.AttributeValueMemberB{Value: []byte{1}},
		&types.AttributeValueMemberSS{Value: []string{"a"}},
		&types.AttributeValueMemberN{Value: "1.5"},
	} {
		team := "W" + itoa(int64(i))
		putItems(t, client, table, item{"PK": sv("T#:" + team), "SK": sv("LATEST"), "v": v, "rec": mv(item{"team": sv(team)})},
			userRec(team, "U1"))
		require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: team}), "%T", v)
		require.Zero(t, partitionSize(t, client, table, "T#:"+team))
		putItems(t, client, table, item{"PK": sv("T#:" + team), "SK": sv("LATEST"), "v": v, "bot": mv(item{"tok": sv(canary)}), "rec": mv(item{"team": sv(team)})})
		require.NoError(t, s.DeleteBot(ctx, installstore.Query{TeamID: team}), "%T", v)
		require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: team, UserID: "U1"}), "%T", v)
		require.Zero(t, partitionSize(t, client, table, "T#:"+team))
	}
}
