package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/redistest"
)

// replyError is a Redis error reply, as go-redis returns it.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestErrorClasses(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name        string
		ctx         context.Context
		err         error
		unavailable bool
		corrupt     bool
	}{
		{"LOADING", ctx, replyError("LOADING Redis is loading the dataset in memory"), true, false},
		{"TRYAGAIN", ctx, replyError("TRYAGAIN Multiple keys request during rehashing of slot"), true, false},
		{"CLUSTERDOWN", ctx, replyError("CLUSTERDOWN The cluster is down"), true, false},
		{"MASTERDOWN", ctx, replyError("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true, false},
		{"READONLY", ctx, replyError("READONLY You can't write against a read only replica."), true, false},
		{"BUSY", ctx, replyError("BUSY Redis is busy running a script."), true, false},
		{"OOM", ctx, replyError("OOM command not allowed when used memory > 'maxmemory'."), true, false},
		{"NOREPLICAS", ctx, replyError("NOREPLICAS Not enough good replicas to write."), true, false},
		{"max clients", ctx, replyError("ERR max number of clients reached"), true, false},
		{"connection refused", ctx, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}, true, false},
		{"EOF", ctx, io.EOF, true, false},
		{"pool timeout", ctx, redis.ErrPoolTimeout, true, false},
		{"i/o timeout", ctx, fmt.Errorf("read: %w", context.DeadlineExceeded), true, false},
		{"WRONGTYPE", ctx, replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), false, true},
		{"script error", ctx, replyError("ERR user_script:1: Script attempted to access nonexistent global variable"), false, false},
		{"NOPERM", ctx, replyError("NOPERM this user has no permissions to run the 'evalsha' command"), false, false},
		{"caller cancelled", cancelled, fmt.Errorf("read: %w", context.Canceled), false, false},
		{"closed client", ctx, redis.ErrClosed, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrap(tt.ctx, "fetch", installstore.Tenant{TeamID: "T1"}, tt.err)
			require.Equal(t, tt.unavailable, errors.Is(err, installstore.ErrUnavailable), "%v", err)
			require.Equal(t, tt.corrupt, errors.Is(err, installstore.ErrCorrupt), "%v", err)
			require.Contains(t, err.Error(), "fetch tenant T1")
			require.ErrorIs(t, err, tt.err)
		})
	}
}

func newInternal(t *testing.T, client redis.UniversalClient) *Store {
	t.Helper()
	s, err := New(client, WithKeyPrefix(redistest.Prefix(t, client)), WithPlaintextSecrets())
	require.NoError(t, err)
	return s
}

// TestRetriedScriptsFindTheirOwnWrite: a script the client re-sent after a
// lost reply (same write token) succeeds again instead of reporting a
// conflict or a used nonce; another write with the same Version does not.
func TestRetriedScriptsFindTheirOwnWrite(t *testing.T) {
	ctx := context.Background()
	s := newInternal(t, redistest.Client(t))
	inst := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, s.StoreInstallation(ctx, inst))
	tn := inst.Tenant()
	ks, _ := s.tenantKeys(tn)
	update := func(token string) []string {
		res, err := updateScript.Run(ctx, s.client, ks[:4], tn.String(), token, fmt.Sprint(inst.Version), "U1",
			encodeRecord(inst), encodeUser(inst.User), 0, "1", "", 0).StringSlice()
		require.NoError(t, err)
		return res
	}
	first := update("tok-1")
	require.Equal(t, "ok", first[0])
	require.Equal(t, first, update("tok-1"), "the retried update finds its own write")
	require.Equal(t, "conflict", update("tok-2")[0], "another writer with the same Version loses")

	key := s.nonceKey("nonce-1")
	put := func(token string) int {
		n, err := putNonceScript.Run(ctx, s.client, []string{key}, token, 60000).Int()
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 1, put("p1"))
	require.Equal(t, 1, put("p1"), "a retried put finds its own nonce")
	require.Equal(t, 0, put("p2"), "another put of the nonce conflicts")
	consume := func(token string) int {
		n, err := consumeNonceScript.Run(ctx, s.client, []string{key, key + ":c:" + token}).Int()
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 1, consume("c1"))
	require.Equal(t, 1, consume("c1"), "a retried consumption succeeds again")
	require.Equal(t, 0, consume("c2"), "no other consumer does")
}

// teamsInGroup returns n team IDs that all fall in one key group.
func teamsInGroup(n int) []string {
	var teams []string
	g := -1
	for i := 0; len(teams) < n; i++ {
		team := fmt.Sprintf("TG%d", i)
		if g == -1 {
			g = groupOf(installstore.Tenant{TeamID: team})
		}
		if groupOf(installstore.Tenant{TeamID: team}) == g {
			teams = append(teams, team)
		}
	}
	return teams
}

// TestListingsPageThroughOneGroup: more than a page of tenants, users and
// due entries of the same refresh time in one group are each listed once.
func TestListingsPageThroughOneGroup(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{"standalone": redistest.Client(t), "cluster": redistest.ClusterClient(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := newInternal(t, client)
			due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			teams := teamsInGroup(2*pageSize + 17)
			for _, team := range teams {
				inst := storetest.Fixture("", team, "U1", "a")
				inst.Bot.ExpiresAt, inst.User.ExpiresAt = due, due
				require.NoError(t, s.StoreInstallation(ctx, inst))
			}
			users := 2*pageSize + 5
			for i := range users {
				inst := storetest.Fixture("", teams[0], fmt.Sprintf("UX%d", i), "b")
				inst.Bot.ExpiresAt, inst.User.ExpiresAt = due, due
				require.NoError(t, s.StoreInstallation(ctx, inst))
			}
			wantRecords := 2*len(teams) + users

			seen := map[installstore.Query]bool{}
			require.NoError(t, s.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
				require.False(t, seen[q], "listed twice: %+v", q)
				seen[q] = true
				return nil
			}))
			require.Len(t, seen, wantRecords)

			dueSeen := map[installstore.Query]bool{}
			require.NoError(t, s.ListDue(ctx, due, func(q installstore.Query, at time.Time) error {
				require.False(t, dueSeen[q], "due twice: %+v", q)
				require.True(t, at.Equal(due))
				dueSeen[q] = true
				return nil
			}))
			require.Len(t, dueSeen, wantRecords)
			require.NoError(t, s.ListDue(ctx, due.Add(-time.Millisecond), func(q installstore.Query, at time.Time) error {
				t.Fatalf("%+v is not due before %v", q, due)
				return nil
			}))
		})
	}
}

// TestSkippedCountsInWords: a listing's error says how many records it
// skipped and names each as its own ErrCorrupt, so that
// installstore.CountSkipped counts them.
func TestSkippedCountsInWords(t *testing.T) {
	var sk skipped
	require.NoError(t, sk.err("list"))
	sk.add("tenant %s", installstore.Tenant{TeamID: "T1"})
	err := sk.err("list")
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.EqualError(t, err, "redisstore: list: skipped 1 record: tenant T1: corrupt record")
	sk.add("tenant %s", installstore.Tenant{EnterpriseID: "E1"})
	err = sk.err("list")
	require.EqualError(t, err, "redisstore: list: skipped 2 records: tenant T1: corrupt record\ntenant E1 (org-wide): corrupt record")
	n, complete := installstore.CountSkipped(err)
	require.Equal(t, 2, n)
	require.True(t, complete)
}
