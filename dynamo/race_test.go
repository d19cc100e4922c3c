package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// Concurrent installs, uninstalls (plain and conditional), user deletes,
// bot revocations and refreshes of one tenant never leave it half there:
// once they settle, the tenant is either gone without a trace or whole
// (every user item current, the latest record matching its user's), and no
// read ever returned another tenant's token. With history on, every live
// record has its history entry, and a deleted tenant leaves no entry.
func TestConcurrentLifecycleKeepsTenantWhole(t *testing.T) {
	t.Run("HistoryOff", func(t *testing.T) { testLifecycleRace(t, false) })
	t.Run("HistoryOn", func(t *testing.T) { testLifecycleRace(t, true) })
}

func testLifecycleRace(t *testing.T, history bool) {
	ctx := context.Background()
	var opts []dynamo.Option
	if history {
		opts = append(opts, dynamo.WithHistory())
	}
	s, table := newPlain(t, opts...)
	client := dynamotest.Client(t)
	const workers, rounds = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for r := range rounds {
				team := []string{"T1", "T2"}[rng.IntN(2)]
				user := fmt.Sprintf("U%d", 1+rng.IntN(3))
				q := installstore.Query{TeamID: team}
				tag := fmt.Sprintf("w%dr%d", w, r)
				var err error
				switch rng.IntN(7) {
				case 0, 1:
					err = s.StoreInstallation(ctx, storetest.Fixture("", team, user, tag))
				case 2:
					inst := storetest.Fixture("", team, user, tag)
					inst.Bot = nil
					err = s.StoreInstallation(ctx, inst)
				case 3:
					err = s.DeleteInstallation(ctx, q)
				case 4:
					q.UserID = user
					err = s.DeleteInstallation(ctx, q)
				case 5:
					var cur *installstore.Installation
					if cur, err = s.FetchInstallation(ctx, q); err == nil {
						if rng.IntN(2) == 0 {
							err = s.DeleteInstallationIf(ctx, q, cur.Version)
						} else {
							err = s.DeleteBotIf(ctx, q, cur.Version)
						}
					}
				case 6:
					q.UserID = user
					var cur *installstore.Installation
					if cur, err = s.FetchInstallation(ctx, q); err == nil {
						if !strings.Contains(cur.User.Token.Reveal(), team+"-"+user) {
							err = fmt.Errorf("fetch %+v returned another record's user token", q)
							break
						}
						cur.User.Token = installstore.NewSecret("xoxp-test-" + team + "-" + user + "-refreshed-" + tag)
						err = s.UpdateInstallation(ctx, cur)
					}
				}
				if err != nil && !errors.Is(err, installstore.ErrConflict) && !errors.Is(err, installstore.ErrNotFound) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	for _, team := range []string{"T1", "T2"} {
		out, err := client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(table),
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: item{":pk": sv("T#:" + team)},
			ConsistentRead:            aws.Bool(true),
		})
		require.NoError(t, err)
		latest, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team})
		if errors.Is(err, installstore.ErrNotFound) {
			require.Empty(t, out.Items, "a deleted tenant leaves nothing (no tombstone, no user item)")
			continue
		}
		require.NoError(t, err)
		for _, it := range out.Items {
			sk := it["SK"].(*types.AttributeValueMemberS).Value
			require.NotContains(t, it, "tomb")
			uid, ok := strings.CutPrefix(sk, "USER#")
			if !ok {
				continue
			}
			got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team, UserID: uid})
			require.NoError(t, err, "every user item of a live tenant is fetchable")
			require.Equal(t, latest.Version, got.Version)
			require.True(t, strings.HasPrefix(got.User.Token.Reveal(), "xoxp-test-"+team+"-"+uid+"-"))
			if history {
				requireEntry(t, s, got)
			}
			if latest.User.ID == uid {
				require.Equal(t, latest.User.Token, got.User.Token, "the latest record matches its user's record")
			}
		}
		if latest.User.ID != "" {
			_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: team, UserID: latest.User.ID})
			require.NoError(t, err, "the latest installer has a user record")
			if history {
				requireEntry(t, s, latest)
			}
		}
	}
}

// requireEntry checks that rec's install has its history entry.
func requireEntry(t *testing.T, s installstore.History, rec *installstore.Installation) {
	t.Helper()
	found := false
	for _, h := range storetest.History(t, s, rec.Query()) {
		found = found || h.InstalledAt.Equal(rec.InstalledAt)
	}
	require.True(t, found, "the install of %+v has its history entry", rec.Query())
}
