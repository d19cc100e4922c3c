package rotation

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slack-go/slack"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/benchcpu"
	"github.com/installvault/installvault/internal/fakeslack"
	"github.com/installvault/installvault/memory"
)

// BenchmarkStorm1000 is the storm: 1 000 concurrent requests for
// one installation whose token enters the margin. "rotation" is Authorize
// with the token still valid for 10 minutes (served at once, refreshed in
// the background); "rotation-expired" is Authorize with the token expired
// (every request waits for the one refresh); "naive" is the baseline
// measured in the same run: every request refreshes on its own, as
// @slack/oauth 4.0.0 does. Metrics per storm: oauth.v2.access calls
// (background refreshes included) and distinct tokens handed out; ns/op is
// the storm's wall time.
func BenchmarkStorm1000(b *testing.B) {
	const n = 1000
	fake := newFakeSlack(b)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
	for _, mode := range []string{"rotation", "rotation-expired", "naive"} {
		b.Run(mode, func(b *testing.B) {
			var calls, distinct int64
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				team := fmt.Sprintf("T%d", i)
				store := memory.New()
				refresh := "xoxe-test-bot-storm-" + team
				exp := time.Now().Add(10 * time.Minute)
				if mode == "rotation-expired" {
					exp = time.Now().Add(-time.Minute)
				}
				inst := &installstore.Installation{TeamID: team, Bot: &installstore.Bot{
					ID: "B1", Token: installstore.NewSecret("xoxb-test-old"), RefreshToken: installstore.NewSecret(refresh), ExpiresAt: exp,
				}}
				if err := store.StoreInstallation(context.Background(), inst); err != nil {
					b.Fatal(err)
				}
				fake.AddToken(fakeslack.Token{Team: team, Refresh: refresh})
				// naive is @slack/oauth: each request reads the installation
				// and, the token being near expiry, refreshes it itself. Slack
				// rotates refresh tokens, so the fake accepts this one 1 000
				// times there.
				fake.ReuseRefreshTokens(mode == "naive")
				r, err := New(store, WithClientCredentials(testClientID, installstore.NewSecret(testClientSecret)), WithSlackAPIURL(fake.url()), WithHTTPClient(hc))
				if err != nil {
					b.Fatal(err)
				}
				before := fake.calls.Load()
				tokens := make([]string, n)
				var wg sync.WaitGroup
				b.StartTimer()
				for j := range n {
					wg.Go(func() {
						q := installstore.Query{TeamID: team}
						if mode == "naive" {
							got, err := store.FetchInstallation(context.Background(), q)
							if err != nil {
								b.Error(err)
								return
							}
							resp, err := slack.RefreshOAuthV2TokenContext(context.Background(), hc, testClientID, testClientSecret,
								got.Bot.RefreshToken.Reveal(), slack.OAuthOptionAPIURL(fake.url()))
							if err != nil {
								b.Error(err)
								return
							}
							tokens[j] = resp.AccessToken
							return
						}
						got, err := r.Authorize(context.Background(), q)
						if err != nil {
							b.Error(err)
							return
						}
						tokens[j] = got.Bot.Token.Reveal()
					})
				}
				wg.Wait()
				b.StopTimer()
				if err := r.Wait(context.Background()); err != nil {
					b.Fatal(err)
				}
				calls += fake.calls.Load() - before
				seen := map[string]bool{}
				for _, t := range tokens {
					seen[t] = true
				}
				distinct += int64(len(seen))
				b.StartTimer()
			}
			b.ReportMetric(float64(calls)/float64(b.N), "refresh-calls/op")
			b.ReportMetric(float64(distinct)/float64(b.N), "distinct-tokens/op")
		})
	}
}

// BenchmarkAuthorizeHot is the hot path: Authorize of installations whose
// tokens are far from expiry, over 1 000 tenants drawn from a fixed random
// sequence, as scripts/bolt-authorize.js runs @slack/oauth's authorize.
// "bot" installations hold a bot token only; "full" ones a rotating bot and
// user token and a webhook. Stacks: memory (plaintext), crypto over memory
// with a warm data-key cache, and the same with crypto's record cache.
func BenchmarkAuthorizeHot(b *testing.B) {
	const tenants = 1000
	ctx := context.Background()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	queries := make([]installstore.Query, 1<<16)
	for i := range queries {
		queries[i] = installstore.Query{TeamID: fmt.Sprintf("T%07d", r.IntN(tenants))}
	}
	far := time.Now().Add(365 * 24 * time.Hour)
	fixture := map[string]func(team string) *installstore.Installation{
		"bot": func(team string) *installstore.Installation {
			return &installstore.Installation{TeamID: team, TokenType: "bot", User: installstore.User{ID: "U1"},
				Bot: &installstore.Bot{ID: "B" + team, UserID: "UB" + team, Token: installstore.NewSecret("xoxb-test-" + team), Scopes: []string{"chat:write", "commands"}}}
		},
		"full": func(team string) *installstore.Installation {
			inst := storetest.Fixture("", team, "U1", "hot")
			inst.Bot.ExpiresAt, inst.User.ExpiresAt = far, far
			return inst
		},
	}
	for _, kind := range []string{"bot", "full"} {
		for _, stack := range []string{"memory", "crypto", "crypto+recordcache"} {
			var store installstore.FullStore = memory.New()
			switch stack {
			case "crypto":
				store, err = crypto.NewStore(store, keys, crypto.WithDataKeyCache(time.Hour, 1<<20))
			case "crypto+recordcache":
				store, err = crypto.NewStore(store, keys, crypto.WithDataKeyCache(time.Hour, 1<<20), crypto.WithRecordCache(time.Minute, 10_000))
			}
			if err != nil {
				b.Fatal(err)
			}
			for i := range tenants {
				if err := store.StoreInstallation(ctx, fixture[kind](fmt.Sprintf("T%07d", i))); err != nil {
					b.Fatal(err)
				}
			}
			ref, err := New(store, WithClientCredentials(testClientID, installstore.NewSecret(testClientSecret)), WithSlackAPIURL("http://127.0.0.1:1/api/"))
			if err != nil {
				b.Fatal(err)
			}
			name := "tenants=1000/" + kind + "/" + stack
			b.Run(name+"/fetch-baseline", func(b *testing.B) {
				b.ReportAllocs()
				cpu := benchcpu.Now()
				for i := 0; b.Loop(); i++ {
					if _, err := store.FetchInstallation(ctx, queries[i%len(queries)]); err != nil {
						b.Fatal(err)
					}
				}
				cpu.Report(b)
			})
			b.Run(name+"/authorize", func(b *testing.B) {
				b.ReportAllocs()
				cpu := benchcpu.Now()
				for i := 0; b.Loop(); i++ {
					if _, err := ref.Authorize(ctx, queries[i%len(queries)]); err != nil {
						b.Fatal(err)
					}
				}
				cpu.Report(b)
				if s := ref.Stats(); s != (Stats{}) {
					b.Fatalf("the hot path refreshed: %+v", s)
				}
			})
		}
	}
}

// TestAuthorizeHotReturnsCopies guards what BenchmarkAuthorizeHot measures:
// over the record cache, each Authorize hands out its own copy, so a caller
// writing into the installation it got (tokens, scopes, webhook) changes
// nothing for the next caller.
func TestAuthorizeHotReturnsCopies(t *testing.T) {
	ctx := context.Background()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	store, err := crypto.NewStore(memory.New(), keys, crypto.WithDataKeyCache(time.Hour, 100), crypto.WithRecordCache(time.Minute, 100))
	if err != nil {
		t.Fatal(err)
	}
	inst := storetest.Fixture("", "T1", "U1", "hot")
	inst.Bot.ExpiresAt = time.Now().Add(365 * 24 * time.Hour)
	inst.User.ExpiresAt = inst.Bot.ExpiresAt
	if err := store.StoreInstallation(ctx, inst); err != nil {
		t.Fatal(err)
	}
	ref, err := New(store, WithClientCredentials(testClientID, installstore.NewSecret(testClientSecret)), WithSlackAPIURL("http://127.0.0.1:1/api/"))
	if err != nil {
		t.Fatal(err)
	}
	q := installstore.Query{TeamID: "T1"}
	want, err := ref.Authorize(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, err := ref.Authorize(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		storetest.Equal(t, want, got, "every caller gets the same installation")
		got.Bot.Token, got.User.Token = installstore.NewSecret("xoxb-test-mutated"), installstore.NewSecret("xoxp-test-mutated")
		got.Bot.ExpiresAt = time.Time{}
		got.Bot.Scopes[0], got.User.Scopes[0] = "mutated", "mutated"
		got.Bot.Scopes = append(got.Bot.Scopes, "appended")
		got.IncomingWebhook.URL = installstore.NewSecret("https://hooks.slack.invalid/mutated")
		got.Bot = nil
	}
	if s := ref.Stats(); s != (Stats{}) {
		t.Fatalf("the hot path refreshed: %+v", s)
	}
}

// TestAuthorizeHotStillRefreshes: on the benchmark's stack (the record
// cache, the default clock read through hotClock), a token entering the
// refresh margin is served and refreshed in the background, and the next
// Authorize gets the new one; an expired token makes Authorize wait for its
// refresh.
func TestAuthorizeHotStillRefreshes(t *testing.T) {
	ctx := context.Background()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	fake := newFakeSlack(t)
	for _, tc := range []struct {
		name    string
		expires time.Duration
		waits   bool
	}{
		{"entering the margin", 30 * time.Minute, false},
		{"expired", -time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := crypto.NewStore(memory.New(), keys, crypto.WithDataKeyCache(time.Hour, 100), crypto.WithRecordCache(time.Minute, 100))
			if err != nil {
				t.Fatal(err)
			}
			refresh := "xoxe-test-hot-" + strings.ReplaceAll(tc.name, " ", "-")
			fake.AddToken(fakeslack.Token{Team: "T1", Refresh: refresh})
			fake.ReuseRefreshTokens(false)
			inst := &installstore.Installation{TeamID: "T1", Bot: &installstore.Bot{
				ID: "B1", Token: installstore.NewSecret("xoxb-test-old"), RefreshToken: installstore.NewSecret(refresh), ExpiresAt: time.Now().Add(tc.expires),
			}}
			if err := store.StoreInstallation(ctx, inst); err != nil {
				t.Fatal(err)
			}
			r, err := New(store, WithClientCredentials(testClientID, installstore.NewSecret(testClientSecret)), WithSlackAPIURL(fake.url()))
			if err != nil {
				t.Fatal(err)
			}
			q := installstore.Query{TeamID: "T1"}
			if _, err := store.FetchInstallation(ctx, q); err != nil { // the record cache holds the old token
				t.Fatal(err)
			}
			before := fake.calls.Load()
			got, err := r.Authorize(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if old := got.Bot.Token.Reveal() == "xoxb-test-old"; old == tc.waits {
				t.Fatalf("Authorize handed out %s (waits for the refresh: %t)", got.Bot.Token.Reveal(), tc.waits)
			}
			if err := r.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if n := fake.calls.Load() - before; n != 1 {
				t.Fatalf("%d refresh calls, want 1", n)
			}
			got, err = r.Authorize(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if got.Bot.Token.Reveal() == "xoxb-test-old" || got.Bot.RefreshToken.Reveal() == refresh {
				t.Fatal("the next Authorize still got the old token: the write-back did not reach the record cache")
			}
		})
	}
}

// TestHotClockIsTimeNow: in a synctest bubble (one clock for wall and
// monotonic readings), hotClock reads exactly what time.Now does, across
// rebases.
func TestHotClockIsTimeNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c hotClock
		for _, d := range []time.Duration{0, time.Millisecond, hotClockRebase - time.Millisecond, time.Millisecond, 0, time.Hour, hotClockRebase, 3 * time.Millisecond} {
			time.Sleep(d)
			if got, want := c.now(), time.Now(); !got.Equal(want) {
				t.Fatalf("after sleeping %v: hotClock %v, time.Now %v", d, got, want)
			}
		}
	})
}
