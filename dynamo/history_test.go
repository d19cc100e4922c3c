package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

func TestHistoryConformance(t *testing.T) {
	storetest.RunHistory(t, func(t *testing.T) installstore.FullStore {
		s, _ := newPlain(t, dynamo.WithHistory())
		return s
	})
}

// The whole contract holds with history on too (history adds items to
// every tenant's partition, which sweeps, listings and user deletes must
// handle).
func TestConformanceWithHistory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) installstore.FullStore {
		s, _ := newPlain(t, dynamo.WithHistory(), dynamo.WithClientID("1234567890.0987654321"))
		return s
	})
}

func TestBehavesAsMemoryWithHistory(t *testing.T) {
	storetest.BehavesAsMemory(t, 1, 60, func(t *testing.T, now func() time.Time) installstore.FullStore {
		s, _ := newPlain(t, dynamo.WithClock(now), dynamo.WithHistory())
		return s
	})
}

// historyKeys returns the sort keys of the history items in partition pk.
func historyKeys(t *testing.T, client *dynamodb.Client, table, pk string) []string {
	t.Helper()
	out, err := client.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :h)"),
		ExpressionAttributeValues: item{":pk": sv(pk), ":h": sv("H#")},
		ConsistentRead:            aws.Bool(true),
	})
	require.NoError(t, err)
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, it["SK"].(*types.AttributeValueMemberS).Value)
	}
	return sks
}

// Off by default: both methods give ErrHistoryOff, and a store writes
// exactly the items it always wrote.
func TestHistoryOffByDefault(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t)
	client := dynamotest.Client(t)
	inst := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, s.StoreInstallation(ctx, inst.Clone()))
	err := s.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error { return nil })
	require.ErrorIs(t, err, installstore.ErrHistoryOff)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorContains(t, err, "tenant T1")
	require.ErrorIs(t, s.PutHistory(ctx, inst), installstore.ErrHistoryOff)
	require.Equal(t, 2, countItems(t, client, table), "LATEST and USER#U1, nothing else")
	require.Empty(t, historyKeys(t, client, table, "T#:T1"))
}

// The stored layout: one H#<install time>#<user> item per install, in the
// tenant's partition, holding the record (and its bot) as the LATEST item
// does, and no due index attributes.
func TestHistoryItemLayout(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t, dynamo.WithHistory())
	client := dynamotest.Client(t)
	inst := storetest.Fixture("", "T1", "U1", "a")
	inst.InstalledAt = time.Date(2027, 5, 6, 7, 8, 9, 10, time.UTC)
	inst.Bot.ExpiresAt = inst.InstalledAt.Add(time.Hour)
	require.NoError(t, s.StoreInstallation(ctx, inst))
	botOnly := storetest.Fixture("", "T1", "", "b")
	botOnly.InstalledAt = inst.InstalledAt.Add(time.Second)
	require.NoError(t, s.StoreInstallation(ctx, botOnly))

	require.Equal(t, []string{"H#2027-05-06T07:08:09.000000010Z#U1", "H#2027-05-06T07:08:10.000000010Z#"}, historyKeys(t, client, table, "T#:T1"))
	raw := rawItem(t, client, table, "T#:T1", "H#2027-05-06T07:08:09.000000010Z#U1")
	require.Equal(t, fmt.Sprint(inst.Version), raw["v"].(*types.AttributeValueMemberN).Value, "v is the Version the store set")
	require.NotContains(t, raw, "hv", "hv only when the entry's Version is not its v")
	require.Contains(t, raw, "rec")
	require.Contains(t, raw, "bot")
	require.NotContains(t, raw, "due", "history is not in the due index")
	require.NotContains(t, raw, "dueShard")

	hs := storetest.History(t, s, installstore.Query{TeamID: "T1"})
	require.Len(t, hs, 2)
	require.Empty(t, hs[0].User.ID)
	storetest.Equal(t, inst, hs[1])
	require.True(t, hs[1].InstalledAt.Equal(inst.InstalledAt), "full precision")

	far := storetest.Fixture("", "T1", "U1", "far")
	far.InstalledAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	require.ErrorIs(t, s.PutHistory(ctx, far), installstore.ErrInvalid)
	require.ErrorIs(t, s.StoreInstallation(ctx, far), installstore.ErrInvalid, "no key for the entry: nothing is stored")
	plain, err := dynamo.New(client, table, dynamo.WithHistory())
	require.NoError(t, err)
	require.ErrorIs(t, plain.PutHistory(ctx, storetest.Fixture("", "T1", "U1", "p")), installstore.ErrInvalid, "PutHistory refuses plaintext secrets as a store does")
	require.Len(t, historyKeys(t, client, table, "T#:T1"), 2)
}

// A fault during a store with history on leaves neither the entry nor the
// record: they are one TransactWriteItems.
func TestHistoryFaultDuringStore(t *testing.T) {
	ctx := context.Background()
	fp, s, check, direct, table := faultyStores(t, dynamo.WithHistory())
	before := snapshot(t, direct, table)
	for _, kind := range []string{fault500, faultThrottle, faultDrop} {
		for _, inst := range []*installstore.Installation{storetest.Fixture("", "T1", "U1", kind), storetest.Fixture("", "T2", "", kind)} {
			fp.set("TransactWriteItems", kind, -1)
			err := s.StoreInstallation(ctx, inst)
			require.ErrorIs(t, err, installstore.ErrUnavailable, kind)
			require.Equal(t, before, snapshot(t, direct, table), "%s: nothing written", kind)
		}
	}
	fp.set("", "", 0)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "ok")))
	require.Equal(t, 1, len(storetest.History(t, check, installstore.Query{TeamID: "T1"})), "a stored install has its entry")
}

// A tenant delete cut short after its tombstone: the tenant and its history
// read as deleted at once, and the retried delete removes every item.
func TestHistoryDeleteCutShort(t *testing.T) {
	ctx := context.Background()
	fp, s, check, direct, table := faultyStores(t, dynamo.WithHistory())
	base := storetest.Fixture("", "T1", "U1", "a").InstalledAt
	for i := range 30 {
		inst := storetest.Fixture("", "T1", fmt.Sprintf("U%d", i%3), fmt.Sprint(i))
		inst.InstalledAt = base.Add(time.Duration(i) * time.Minute)
		require.NoError(t, check.StoreInstallation(ctx, inst))
	}
	require.Equal(t, 30, len(storetest.History(t, check, installstore.Query{TeamID: "T1"})))
	fp.set("DeleteItem", fault500, -1)
	err := s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.ErrorContains(t, err, "reads as deleted")
	require.Equal(t, 0, len(storetest.History(t, check, installstore.Query{TeamID: "T1"})), "a tombstoned tenant's history reads as deleted")
	_, err = check.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	require.Greater(t, partitionSize(t, direct, table, "T#:T1"), 1, "items remain to sweep")

	fp.set("", "", 0)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.Zero(t, partitionSize(t, direct, table, "T#:T1"), "the retried delete removes everything")
}

// A long history (more than one TransactWriteItems' worth of entries, and
// more than one Query page) is deleted whole, by a tenant delete and by a
// user delete reaching the history a Grid migration kept.
func TestHistoryLongDeletes(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t, dynamo.WithHistory())
	client := dynamotest.Client(t)
	const n = 1200 // entries of about 1 KB: more than one 1 MB Query page
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	putAll := func(team string, users ...string) {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i := range n {
			g.Go(func() error {
				e := realisticSealed(team, users[i%len(users)], fmt.Sprint(i), base.Add(48*time.Hour))
				e.InstalledAt = base.Add(time.Duration(i) * time.Second)
				e.Version = int64(i + 1)
				return s.PutHistory(gctx, e)
			})
		}
		require.NoError(t, g.Wait())
	}
	// T1: a tenant with a long history of two users.
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "live")))
	putAll("T1", "U1", "U2")
	out, err := client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: item{":pk": sv("T#:T1")},
		ConsistentRead:            aws.Bool(true),
	})
	require.NoError(t, err)
	require.NotEmpty(t, out.LastEvaluatedKey, "the history takes more than one Query page")
	require.Equal(t, n+1, len(storetest.History(t, s, installstore.Query{TeamID: "T1"})))
	require.Equal(t, n/2, len(storetest.History(t, s, installstore.Query{TeamID: "T1", UserID: "U2"})))
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U2"}))
	require.Equal(t, 0, len(storetest.History(t, s, installstore.Query{TeamID: "T1", UserID: "U2"})), "a user delete deletes every entry of the user")
	require.Equal(t, n/2+1, len(storetest.History(t, s, installstore.Query{TeamID: "T1"})))
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.Zero(t, partitionSize(t, client, table, "T#:T1"))

	// T5: standalone, migrated to E1, its history kept; a user delete naming
	// the enterprise deletes the user's standalone entries (over several
	// transactions), a tenant delete the rest.
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T5", "U1", "standalone")))
	putAll("T5", "U1", "U1", "U2")
	joined := storetest.Fixture("E1", "T5", "U1", "joined")
	joined.InstalledAt = base.Add(time.Hour)
	require.NoError(t, s.StoreInstallation(ctx, joined))
	require.Equal(t, n+1, len(storetest.History(t, s, installstore.Query{TeamID: "T5"})), "kept by the migration")
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T5", UserID: "U1"}))
	left := storetest.History(t, s, installstore.Query{TeamID: "T5"})
	require.Equal(t, n/3, len(left), "only U2's entries are left")
	for _, h := range left {
		require.Equal(t, "U2", h.User.ID)
	}
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T5"}))
	require.Zero(t, partitionSize(t, client, table, "T#:T5"))
	require.Zero(t, partitionSize(t, client, table, "T#E1:T5"))
}

// A history item that does not decode is skipped and named (tenant, user,
// install time), never its content; the others are listed; deleting the
// tenant removes it.
func TestHistoryCorruptEntry(t *testing.T) {
	ctx := context.Background()
	s, table := newPlain(t, dynamo.WithHistory())
	client := dynamotest.Client(t)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	good := storetest.Fixture("", "T1", "U1", "b")
	good.InstalledAt = good.InstalledAt.Add(time.Hour)
	require.NoError(t, s.StoreInstallation(ctx, good))
	rec := func(team, uid string) types.AttributeValue {
		return mv(item{"team": sv(team), "at": sv("2026-02-01T00:00:00Z"), "user": mv(item{"id": sv(uid), "tok": sv(canary)})})
	}
	putItems(t, client, table,
		item{"PK": sv("T#:T1"), "SK": sv("H#2026-02-01T00:00:00.000000000Z#U1"), "v": nv(3), "rec": rec("T2", "U1")},   // another tenant's record
		item{"PK": sv("T#:T1"), "SK": sv("H#2026-02-01T00:00:00.000000000Z#U2"), "v": sv("3"), "rec": rec("T1", "U2")}, // version not a number
		item{"PK": sv("T#:T1"), "SK": sv("H#2026-02-01T00:00:00.000000000Z#U3"), "v": nv(3), "rec": rec("T1", "U9")},   // another user's
		item{"PK": sv("T#:T1"), "SK": sv("H#2026-03-01T00:00:00.000000000Z#U1"), "v": nv(3), "rec": rec("T1", "U1")},   // another install time
		item{"PK": sv("T#:T1"), "SK": sv("H#yesterday#" + canary), "v": nv(3), "rec": rec("T1", "U1")},                 // a key naming nothing
		item{"PK": sv("T#:T1"), "SK": sv("H#2026-02-01T00:00:00.000000000Z#U4"), "v": nv(3), "rec": sv(canary)},        // record not a map
	)
	var got []*installstore.Installation
	err := s.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(inst *installstore.Installation) error {
		got = append(got, inst)
		return nil
	})
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.ErrorIs(t, err, dynamo.ErrMalformedItem)
	skippedN, _ := installstore.CountSkipped(err)
	require.Equal(t, 6, skippedN, "each bad entry named: %v", err)
	require.NotContains(t, err.Error(), canary)
	for _, name := range []string{"user U1", "user U2", "user U3", "user U4", "tenant T1", fingerprint("H#yesterday#" + canary)} {
		require.ErrorContains(t, err, name)
	}
	require.Equal(t, 2, len(got), "the good entries are listed")
	storetest.Equal(t, good, got[0])

	err = s.ListHistory(ctx, installstore.Query{TeamID: "T1", UserID: "U2"}, func(*installstore.Installation) error { return nil })
	skippedN, _ = installstore.CountSkipped(err)
	require.Equal(t, 2, skippedN, "a user's listing reports that user's bad entries, and the one whose key names no user (it may be theirs): %v", err)

	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1"}))
	require.Zero(t, partitionSize(t, client, table, "T#:T1"))
}

// A fn error stops ListHistory at once and is returned as is.
func TestHistoryStopsOnFnError(t *testing.T) {
	ctx := context.Background()
	s, _ := newPlain(t, dynamo.WithHistory())
	for i := range 5 {
		inst := storetest.Fixture("", "T1", "U1", fmt.Sprint(i))
		inst.InstalledAt = inst.InstalledAt.Add(time.Duration(i) * time.Minute)
		require.NoError(t, s.StoreInstallation(ctx, inst))
	}
	stop := errors.New("stop")
	n := 0
	err := s.ListHistory(ctx, installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	require.Same(t, stop, err)
	require.Equal(t, 2, n)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, s.ListHistory(cancelled, installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error { return nil }), context.Canceled)
}

// Faults part-way: a user delete whose history purge fails has deleted the
// user's records and says so, and its retry removes the entries; a Grid
// migration whose sweep of the standalone records fails keeps the
// standalone history readable (its tombstone keeps it), and a later
// uninstall purges it all.
func TestHistoryFaultsPartWay(t *testing.T) {
	ctx := context.Background()
	fp, s, check, direct, table := faultyStores(t, dynamo.WithHistory())
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T1", "U2", "b")))

	fp.set("DeleteItem", fault500, -1)
	err := s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.ErrorContains(t, err, "the user's records are deleted")
	_, err = check.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.ErrorIs(t, err, installstore.ErrNotFound)
	fp.set("", "", 0)
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"}))
	require.Equal(t, 0, len(storetest.History(t, check, installstore.Query{TeamID: "T1", UserID: "U1"})), "the retry removes the entries")
	require.Equal(t, 1, len(storetest.History(t, check, installstore.Query{TeamID: "T1", UserID: "U2"})))

	require.NoError(t, check.StoreInstallation(ctx, storetest.Fixture("", "T5", "U1", "standalone")))
	fp.set("DeleteItem", fault500, -1)
	joined := storetest.Fixture("E1", "T5", "U1", "joined")
	joined.InstalledAt = joined.InstalledAt.Add(time.Hour)
	require.NoError(t, s.StoreInstallation(ctx, joined), "the sweep of the superseded record is best effort")
	fp.set("", "", 0)
	tomb := rawItem(t, direct, table, "T#:T5", "LATEST")
	require.Contains(t, tomb, "tomb")
	require.Contains(t, tomb, "keepHist", "the migration's tombstone keeps the history")
	require.Equal(t, 1, len(storetest.History(t, check, installstore.Query{TeamID: "T5"})), "the standalone history reads as kept")
	_, err = check.FetchInstallation(ctx, installstore.Query{TeamID: "T5", UserID: "U1"})
	require.ErrorIs(t, err, installstore.ErrNotFound, "the superseded record reads as gone")
	require.NoError(t, s.DeleteInstallation(ctx, installstore.Query{TeamID: "T5"}))
	require.Zero(t, partitionSize(t, direct, table, "T#:T5"), "an uninstall of the standalone form purges records and history")
	require.Equal(t, 1, len(storetest.History(t, check, installstore.Query{EnterpriseID: "E1", TeamID: "T5"})))
}
