package scaletest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/dynamotest"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/rotation"
)

// scaleEnv adds cases at this many tenants (e.g. 100000) to the default
// 2 000, for a run by hand.
const scaleEnv = "INSTALLVAULT_SCALE_TENANTS"

// Token lifetimes at load: far from the refresh margin (rotation's
// default 2 hours), or inside it but valid beyond the safety margin.
const (
	notDueTTL = 10 * time.Hour
	dueTTL    = 30 * time.Minute
)

// TestTickCostFollowsDue: one background refresh tick (Refresher.RefreshDue,
// what Run does every interval on every replica) from a fresh replica of
// the production stack (rotation over crypto with KMS and a cold data-key
// cache over dynamo) costs what is due, not what is stored. With nothing
// due it opens no record, calls neither KMS nor Slack and writes nothing;
// with D tenants due it reads each due record at most twice (the tick's
// read and the lease holder's re-read), unwraps at most D data keys and
// makes exactly D refreshes. Its DynamoDB calls do not change with the
// number of tenants. Four replicas ticking at the same moment still make
// exactly D refreshes (the lease); each unwraps at most 2D data keys (a
// replica that waited for another's lease reads the record again, sealed
// under the writer's new data key). With the KMS key disabled the tick
// fails closed: each due record read once and named in the error, one
// refused unwrap each, no Slack call, nothing written. Print the table
// with
//
//	go test -run TestTickCostFollowsDue -v ./internal/scaletest/
//
// and add the 100 000-tenant cases with INSTALLVAULT_SCALE_TENANTS=100000.
func TestTickCostFollowsDue(t *testing.T) {
	// Each fleet is loaded once; its cases tick in order, each making its
	// due tenants due first (the previous case's are refreshed by then).
	ticks := []tickCase{{due: 0, replicas: 1}, {due: 20, replicas: 1}, {due: 20, replicas: 4}, {due: 20, replicas: 1, keyDisabled: true}}
	fleets := []fleetCase{{tenants: 2000, ticks: ticks}}
	if n, err := strconv.Atoi(os.Getenv(scaleEnv)); err == nil && n > 2000 {
		fleets = append(fleets, fleetCase{tenants: n, users: true, ticks: ticks})
	} else if s := os.Getenv(scaleEnv); s != "" {
		t.Fatalf("%s=%q: want a number of tenants above 2000", scaleEnv, s)
	}
	client := dynamotest.Client(t) // skips, or fails under CI=true, without DynamoDB Local
	kms := kmstest.NewServer()
	t.Cleanup(kms.Close)
	key := kms.CreateKey("tenants")
	slack := newFakeSlack(t)

	var rows []tickCost
	for _, fc := range fleets {
		t.Run(fmt.Sprintf("%d tenants", fc.tenants), func(t *testing.T) {
			f := loadFleet(t, client, kms, key.ID, fc)
			for _, tc := range fc.ticks {
				due, replicas := tc.due, tc.replicas
				t.Run(tc.String(), func(t *testing.T) {
					teams := f.makeDue(t, due)
					got, err := f.tick(t, kms, key.ID, slack, tc)
					rows = append(rows, got)
					t.Logf("%s", got.row())
					t.Logf("capacity by operation: %s", got.unitsByOp())

					if tc.keyDisabled {
						// KMS refuses the key: each due record is read once,
						// fails closed and is named; nothing is refreshed,
						// written, deleted or marked for re-install.
						require.ErrorIs(t, err, crypto.ErrDecrypt)
						require.NotErrorIs(t, err, rotation.ErrReinstallRequired)
						for _, team := range teams {
							require.Contains(t, err.Error(), installstore.Query{TeamID: team}.Tenant().String())
						}
						require.Equal(t, due, got.listed)
						require.Zero(t, got.refreshes, "no Slack call with a record that does not open")
						require.Zero(t, got.writes(), "a failed read writes nothing (no lease, no intent)")
						require.Equal(t, due, got.recordReads(), "each due record read once, not retried in the tick")
						require.LessOrEqual(t, got.kms["Decrypt"], due, "one refused unwrap per due record (DisabledException is not retried)")
						f.checkUntouched(t, teams)
						return
					}
					require.NoError(t, err)
					require.Equal(t, replicas*due, got.listed, "the due index lists the latest record of each due tenant (no user token rotates), to every replica")
					require.Equal(t, due, got.refreshes, "one Slack refresh per due token, however many replicas tick")
					require.Zero(t, got.rejected, "no refresh token sent twice")
					require.Zero(t, got.calls["Scan"], "a tick never scans the table")
					if replicas == 1 {
						require.LessOrEqual(t, got.kms["Decrypt"], due, "at most one unwrap per due tenant on a cold replica")
						require.LessOrEqual(t, got.recordReads(), 2*due, "each due record read at most twice: by the tick, and under the lease")
					} else {
						// A replica that lost the lease reads the record
						// again once the holder wrote it, sealed under the
						// holder's new data key: a second unwrap.
						require.LessOrEqual(t, got.kms["Decrypt"], 2*replicas*due, "at most two unwraps (the key before and after the refresh) per due tenant on each cold replica")
					}
					if due == 0 {
						require.Zero(t, got.recordReads(), "a tick with nothing due reads no record")
						require.Zero(t, got.kmsTotal(), "a tick with nothing due makes no KMS call")
						require.Zero(t, got.writes(), "a tick with nothing due writes nothing")
						require.Zero(t, got.items, "a tick with nothing due examines no item")
						require.Zero(t, got.units.Write)
					}
					f.checkRefreshed(t, teams)
				})
			}
		})
	}

	// Cost follows D, not N: the same calls at every scale for the same D.
	for i, a := range rows {
		for _, b := range rows[i+1:] {
			if a.due == b.due && a.replicas == 1 && b.replicas == 1 && !a.keyDisabled && !b.keyDisabled && a.tenants != b.tenants {
				require.Equal(t, a.calls, b.calls, "a tick with %d due makes the same DynamoDB calls at %d and %d tenants", a.due, a.tenants, b.tenants)
			}
		}
	}
	t.Logf("one RefreshDue on each fresh replica, at once (rotation → crypto[KMS via kmstest, cold data-key cache] → dynamo on DynamoDB Local):\n%s\n%s",
		tickHeader, strings.Join(func() []string {
			out := make([]string, len(rows))
			for i, r := range rows {
				out[i] = r.row()
			}
			return out
		}(), "\n"))
}

// fleetCase is a fleet to load and the due counts to tick it with.
type fleetCase struct {
	tenants int
	// users also records each tenant's installing user (a user record
	// beside the latest one, as a real install has). Each such install is a
	// TransactWriteItems, which DynamoDB Local runs about ten times slower
	// than the single UpdateItem of an install without a user, so the fast
	// default fleet leaves them out. It changes nothing a tick sees: a user
	// record without a user token holds no rotating token and is not in the
	// due index, and due tenants are always re-installed with their user.
	users bool
	ticks []tickCase
}

// tickCase is one measured tick: due tenants made due first, then
// replicas fresh replicas ticking at once, with the KMS key disabled
// during the tick when keyDisabled.
type tickCase struct {
	due, replicas int
	keyDisabled   bool
}

func (tc tickCase) String() string {
	s := fmt.Sprintf("%d due, %d replicas", tc.due, tc.replicas)
	if tc.keyDisabled {
		s += ", KMS key disabled"
	}
	return s
}

// fleet is N tenants loaded in one fresh table, and the writer that loaded
// them (its own client and data-key cache, never the measured replica's).
type fleet struct {
	tenants int
	users   bool
	dueUser map[string]bool // tenants given a user record by makeDue (when !users)
	table   string
	raw     *dynamo.Store
	writer  *crypto.Store
	round   int // how many makeDue calls so far: with tenants, refresh tokens never repeat
}

func teamID(i int) string { return fmt.Sprintf("T%07d", i) }

// installation is a tenant's install as oauth.v2.access returns it with
// token rotation on: a rotating bot token, the installing user (no user
// scopes) unless !user, and an incoming webhook. Tokens are obviously fake.
func installation(team, tag string, ttl time.Duration, user bool) *installstore.Installation {
	inst := &installstore.Installation{
		AppID: "A0TEST", TeamID: team, TeamName: "Workspace " + team, TokenType: "bot",
		Bot: &installstore.Bot{
			ID: "B0" + team, UserID: "U0BOT" + team,
			Token:        installstore.NewSecret("xoxb-test-" + tag + "-" + team),
			RefreshToken: installstore.NewSecret("xoxe-test-bot-" + tag + "-" + team),
			ExpiresAt:    time.Now().Add(ttl),
			Scopes:       []string{"chat:write", "commands", "channels:read", "users:read"},
		},
		User: installstore.User{ID: "U0INSTALLER"},
		IncomingWebhook: &installstore.IncomingWebhook{
			URL: installstore.NewSecret("https://hooks.slack.example/services/" + team + "/test"), Channel: "#general", ChannelID: "C0GENERAL",
		},
	}
	if !user {
		inst.User = installstore.User{}
	}
	return inst
}

// loadFleet stores fc.tenants installations, none due, through the
// crypto layer (so every record is sealed, each tenant under its own data
// key) on a fresh table, 16 at a time.
func loadFleet(t *testing.T, client *dynamodb.Client, kms *kmstest.Server, keyID string, fc fleetCase) *fleet {
	t.Helper()
	table := dynamotest.NewTable(t, client)
	raw, err := dynamo.New(client, table)
	require.NoError(t, err)
	p, err := crypto.NewKMS(kms.Client(), keyID)
	require.NoError(t, err)
	writer, err := crypto.NewStore(raw, p, crypto.WithDataKeyCache(time.Hour, 1<<20))
	require.NoError(t, err)

	ctx := context.Background()
	tenants := fc.tenants
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	var mu sync.Mutex
	done := 0
	for i := range tenants {
		g.Go(func() error {
			if err := writer.StoreInstallation(gctx, installation(teamID(i), "load", notDueTTL, fc.users)); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if done++; done%25000 == 0 {
				t.Logf("loaded %d of %d tenants in %v", done, tenants, time.Since(start).Round(time.Second))
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	d := time.Since(start)
	records := tenants
	if fc.users {
		records *= 2
	}
	t.Logf("loaded %d tenants (%d records, sealed through crypto with KMS) in %v: %.0f tenants/s",
		tenants, records, d.Round(time.Millisecond), float64(tenants)/d.Seconds())
	return &fleet{tenants: tenants, users: fc.users, dueUser: map[string]bool{}, table: table, raw: raw, writer: writer}
}

// makeDue re-installs due tenants, spread over the fleet, with bot tokens
// inside the refresh margin, and waits until the due index lists exactly
// them (it is eventually consistent). It returns their team IDs.
func (f *fleet) makeDue(t *testing.T, due int) []string {
	t.Helper()
	f.round++
	ctx := context.Background()
	var teams []string
	for i := range due {
		team := teamID(i * (f.tenants / due))
		teams = append(teams, team)
		f.dueUser[team] = true
		require.NoError(t, f.writer.StoreInstallation(ctx, installation(team, f.dueTag(), dueTTL, true)))
	}
	require.Eventually(t, func() bool {
		n := 0
		err := f.raw.ListDue(ctx, time.Now().Add(rotation.DefaultRefreshBefore), func(installstore.Query, time.Time) error { n++; return nil })
		return err == nil && n == due
	}, time.Minute, 50*time.Millisecond, "the due index lists the %d due records", due)
	return teams
}

// dueTag names the tokens of the last makeDue: unique per fleet and round,
// so that no refresh token is ever sent to the fake Slack twice.
func (f *fleet) dueTag() string { return fmt.Sprintf("n%d-due%d", f.tenants, f.round) }

// records is how many installation records the table holds.
func (f *fleet) records() int {
	if f.users {
		return 2 * f.tenants
	}
	return f.tenants + len(f.dueUser)
}

// checkRefreshed reads each due tenant through the writer: its bot token
// is the one the fake Slack issued, expiring beyond the margin.
func (f *fleet) checkRefreshed(t *testing.T, teams []string) {
	t.Helper()
	for _, team := range teams {
		got, err := f.writer.FetchInstallation(context.Background(), installstore.Query{TeamID: team})
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(got.Bot.Token.Reveal(), "xoxb-test-bot-"), "%s refreshed", team)
		require.Greater(t, time.Until(got.Bot.ExpiresAt), rotation.DefaultRefreshBefore, "%s no longer due", team)
	}
}

// checkUntouched reads each due tenant through the writer: it still holds
// the due tokens makeDue stored.
func (f *fleet) checkUntouched(t *testing.T, teams []string) {
	t.Helper()
	for _, team := range teams {
		got, err := f.writer.FetchInstallation(crypto.WithFreshRead(context.Background()), installstore.Query{TeamID: team})
		require.NoError(t, err)
		require.Equal(t, "xoxb-test-"+f.dueTag()+"-"+team, got.Bot.Token.Reveal(), "%s untouched", team)
		require.Equal(t, "xoxe-test-bot-"+f.dueTag()+"-"+team, got.Bot.RefreshToken.Reveal(), "%s untouched", team)
	}
}

// tick builds tc.replicas fresh replicas on the fleet's table (each with
// its own DynamoDB and KMS clients, a cold data-key cache, a new
// Refresher), makes one RefreshDue on each at once, waits for their
// background work, and returns what they cost together and the ticks'
// errors.
func (f *fleet) tick(t *testing.T, kms *kmstest.Server, keyID string, slack *fakeslack.Server, tc tickCase) (tickCost, error) {
	t.Helper()
	ctx := context.Background()
	var (
		calls    dynamotest.Counter
		capacity dynamotest.Capacity
		items    itemCounter
	)
	refreshers := make([]*rotation.Refresher, tc.replicas)
	for i := range refreshers {
		client := dynamotest.Client(t, calls.Option(), capacity.Option(), items.option())
		inner, err := dynamo.New(client, f.table)
		require.NoError(t, err)
		p, err := crypto.NewKMS(kms.Client(), keyID)
		require.NoError(t, err)
		store, err := crypto.NewStore(inner, p, crypto.WithDataKeyCache(10*time.Minute, 1000))
		require.NoError(t, err)
		refreshers[i], err = rotation.New(store,
			rotation.WithClientCredentials(testClientID, installstore.NewSecret(testClientSecret)),
			rotation.WithSlackAPIURL(slack.APIURL()),
			rotation.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
	}

	if tc.keyDisabled {
		require.NoError(t, kms.DisableKey(keyID))
		defer func() { require.NoError(t, kms.EnableKey(keyID)) }()
	}
	kms.ResetCalls()
	before := slack.Stats()
	listed := make([]int, len(refreshers))
	tickErrs := make([]error, len(refreshers))
	waitErrs := make([]error, len(refreshers))
	var wg sync.WaitGroup
	for i, r := range refreshers {
		wg.Go(func() {
			listed[i], tickErrs[i] = r.RefreshDue(ctx)
			waitErrs[i] = r.Wait(ctx)
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(waitErrs...))
	got := tickCost{
		tenants: f.tenants, records: f.records(), due: tc.due, replicas: tc.replicas, keyDisabled: tc.keyDisabled,
		calls: calls.Calls(), items: items.total(), units: capacity.Total(), unitsOp: capacity.ByOperation(), kms: kms.CallCounts(),
		refreshes: slack.Stats().Refreshes - before.Refreshes, rejected: slack.Stats().Rejected - before.Rejected,
	}
	for i, r := range refreshers {
		got.listed += listed[i]
		stats := r.Stats()
		require.Zero(t, stats.WriteBackRetried+stats.ReinstallRequired+stats.Failed+stats.Rejected, "replica %d: stats %+v", i, stats)
	}
	return got, errors.Join(tickErrs...)
}

// tickCost is what one tick cost.
type tickCost struct {
	tenants, due, listed int
	keyDisabled          bool
	replicas             int            // replicas ticking at once; the counts are their sums
	records              int            // installation records in the table
	calls                map[string]int // DynamoDB calls by operation
	items                int            // items DynamoDB examined (Query/Scan ScannedCount, items read by key)
	units                dynamotest.Units
	unitsOp              map[string]dynamotest.Units
	kms                  map[string]int
	refreshes, rejected  int
}

// recordReads counts the calls that read records by key.
func (c tickCost) recordReads() int {
	return c.calls["GetItem"] + c.calls["TransactGetItems"] + c.calls["BatchGetItem"]
}

func (c tickCost) writes() int {
	return c.calls["PutItem"] + c.calls["UpdateItem"] + c.calls["DeleteItem"] + c.calls["TransactWriteItems"] + c.calls["BatchWriteItem"]
}

func (c tickCost) kmsTotal() int {
	n := 0
	for _, v := range c.kms {
		n += v
	}
	return n
}

func (c tickCost) unitsByOp() string {
	ops := make([]string, 0, len(c.unitsOp))
	for op, u := range c.unitsOp {
		ops = append(ops, fmt.Sprintf("%s %.1f RCU %.1f WCU", op, u.Read, u.Write))
	}
	sort.Strings(ops)
	return strings.Join(ops, ", ")
}

const tickHeader = "| tenants (records) | due | replicas (KMS) | DynamoDB calls | items examined | RCU | WCU | KMS Decrypt | KMS GenerateDataKey | Slack refreshes |\n|---|---|---|---|---|---|---|---|---|---|"

func (c tickCost) row() string {
	ops := make([]string, 0, len(c.calls))
	for op, n := range c.calls {
		ops = append(ops, fmt.Sprintf("%d %s", n, op))
	}
	sort.Strings(ops)
	kms := ""
	if c.keyDisabled {
		kms = " (key disabled)"
	}
	return fmt.Sprintf("| %d (%d) | %d | %d%s | %s | %d | %.1f | %.1f | %d | %d | %d |", c.tenants, c.records, c.due, c.replicas, kms, strings.Join(ops, " + "),
		c.items, c.units.Read, c.units.Write, c.kms["Decrypt"], c.kms["GenerateDataKey"], c.refreshes)
}

// itemCounter adds up the items DynamoDB examined to answer reads: a
// Query's or Scan's ScannedCount (before any filter), and each item a
// GetItem, BatchGetItem or TransactGetItems returned.
type itemCounter struct {
	mu sync.Mutex
	n  int
}

func (c *itemCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *itemCounter) option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("scaletestItems",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					if err == nil {
						c.add(examined(out.Result))
					}
					return out, md, err
				}), middleware.After)
		})
	}
}

func (c *itemCounter) add(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += n
}

func examined(result any) int {
	switch r := result.(type) {
	case *dynamodb.QueryOutput:
		return int(r.ScannedCount)
	case *dynamodb.ScanOutput:
		return int(r.ScannedCount)
	case *dynamodb.GetItemOutput:
		if r.Item != nil {
			return 1
		}
	case *dynamodb.BatchGetItemOutput:
		n := 0
		for _, items := range r.Responses {
			n += len(items)
		}
		return n
	case *dynamodb.TransactGetItemsOutput:
		n := 0
		for _, resp := range r.Responses {
			if resp.Item != nil {
				n++
			}
		}
		return n
	}
	return 0
}
