package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/audit"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) installstore.FullStore {
		s, err := audit.NewStore(memory.New(), slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		return s
	})
}

func newAudited(t *testing.T, inner installstore.FullStore) (*audit.Store, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s, err := audit.NewStore(inner, slog.New(slog.NewJSONHandler(&buf, nil)), audit.WithClock(func() time.Time { return at }))
	require.NoError(t, err)
	return s, &buf
}

func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

func TestFetchIsAuditedWithoutSecrets(t *testing.T) {
	ctx := context.Background()
	s, buf := newAudited(t, memory.New())
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("E1", "T1", "U1", "secret-tag")))
	require.Empty(t, buf.String(), "writes are not token reads")

	_, err := s.FetchInstallation(installstore.WithCaller(ctx, "events"), installstore.Query{EnterpriseID: "E1", TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	_, err = s.FetchInstallation(ctx, installstore.Query{TeamID: "T404"})
	require.ErrorIs(t, err, installstore.ErrNotFound)

	recs := records(t, buf)
	require.Len(t, recs, 2)
	ok := recs[0]
	require.Equal(t, audit.Message, ok["msg"])
	require.Equal(t, "INFO", ok["level"])
	require.Equal(t, "fetch", ok["op"])
	require.Equal(t, "E1", ok["enterprise_id"])
	require.Equal(t, "T1", ok["team_id"])
	require.Equal(t, "U1", ok["user_id"])
	require.Equal(t, "E1/T1", ok["tenant"])
	require.Equal(t, "events", ok["caller"])
	require.Equal(t, "ok", ok["outcome"])
	require.Equal(t, "2026-11-23T12:00:00Z", ok["at"])
	require.Equal(t, []any{"bot.token", "bot.refresh_token", "user.token", "user.refresh_token", "incoming_webhook.url"}, ok["secrets"])

	miss := recs[1]
	require.Equal(t, "not_found", miss["outcome"])
	require.Equal(t, "unknown", miss["caller"])
	require.Equal(t, "T404", miss["team_id"])
	require.Contains(t, miss["error"], "not found")

	require.NotContains(t, buf.String(), "secret-tag")
	require.NotContains(t, buf.String(), "xox")
}

func TestFallbackNamesTheServingTenant(t *testing.T) {
	ctx := context.Background()
	s, buf := newAudited(t, memory.New())
	require.NoError(t, s.StoreInstallation(ctx, storetest.OrgFixture("E1", "U1", "a")))
	_, err := s.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: "T9"})
	require.NoError(t, err)
	rec := records(t, buf)[0]
	require.Equal(t, "T9", rec["team_id"])
	require.Equal(t, "E1 (org-wide)", rec["tenant"], "the record came from the org-wide install")
}

// failing is a store whose fetch fails with an error of the layer below
// (say, a decrypt failure).
type failing struct{ installstore.FullStore }

var errBelow = errors.New("crypto: cannot open bot.token of tenant T1")

func (failing) FetchInstallation(context.Context, installstore.Query) (*installstore.Installation, error) {
	return nil, errBelow
}

func TestFailuresAreAudited(t *testing.T) {
	s, buf := newAudited(t, failing{memory.New()})
	_, err := s.FetchInstallation(context.Background(), installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, errBelow)
	rec := records(t, buf)[0]
	require.Equal(t, "error", rec["outcome"])
	require.Equal(t, errBelow.Error(), rec["error"])
	require.Nil(t, rec["secrets"])
}

func TestListIsAudited(t *testing.T) {
	ctx := context.Background()
	s, buf := newAudited(t, memory.New())
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	n := 0
	require.NoError(t, s.ListInstallations(installstore.WithCaller(ctx, "cli:export"), func(installstore.Query, *installstore.Installation) error {
		n++
		return nil
	}))
	recs := records(t, buf)
	require.Len(t, recs, n)
	require.Equal(t, 2, n) // latest + U1
	for _, r := range recs {
		require.Equal(t, "list", r["op"])
		require.Equal(t, "cli:export", r["caller"])
	}
}

func TestHistoryConformance(t *testing.T) {
	storetest.RunHistory(t, func(*testing.T) installstore.FullStore {
		s, err := audit.NewStore(memory.New(memory.WithHistory()), slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		return s
	})
}

func TestHistoryIsAudited(t *testing.T) {
	ctx := context.Background()
	s, buf := newAudited(t, memory.New(memory.WithHistory()))
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "secret-tag")))
	n := 0
	require.NoError(t, s.ListHistory(installstore.WithCaller(ctx, "support"), installstore.Query{TeamID: "T1"}, func(*installstore.Installation) error {
		n++
		return nil
	}))
	recs := records(t, buf)
	require.Equal(t, 1, n)
	require.Len(t, recs, 1)
	require.Equal(t, "history", recs[0]["op"])
	require.Equal(t, "support", recs[0]["caller"])
	require.Equal(t, "T1", recs[0]["team_id"])
	require.NotContains(t, buf.String(), "secret-tag", "no token in the audit log")

	buf.Reset()
	err := s.ListHistory(ctx, installstore.Query{}, func(*installstore.Installation) error { return nil })
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.Equal(t, "error", records(t, buf)[0]["outcome"], "a failed listing is audited")
}

func TestUnwrapGivesTheStoreBelow(t *testing.T) {
	inner := memory.New()
	s, _ := newAudited(t, inner)
	var seen []installstore.FullStore
	installstore.Walk(s, func(x installstore.FullStore) bool { seen = append(seen, x); return true })
	require.Equal(t, []installstore.FullStore{s, inner}, seen)
}

// corruptOne lists its inner store but reports one record as corrupt, as a
// backend does for an item that does not decode.
type corruptOne struct{ installstore.FullStore }

func (c corruptOne) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	if err := c.FullStore.ListInstallations(ctx, fn); err != nil {
		return err
	}
	return fmt.Errorf("memory: list tenant T0BAD: %w", installstore.ErrCorrupt)
}

func TestListRecordsSkippedRecords(t *testing.T) {
	ctx := context.Background()
	s, buf := newAudited(t, corruptOne{memory.New()})
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
	n := 0
	err := s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { n++; return nil })
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	recs := records(t, buf)
	require.Len(t, recs, n+1)
	last := recs[n]
	require.Equal(t, "list", last["op"])
	require.Equal(t, "error", last["outcome"])
	require.Contains(t, last["error"], "tenant T0BAD")

	// An error of fn is the caller's: not recorded as the listing's.
	buf.Reset()
	stop := errors.New("stop")
	require.ErrorIs(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return stop }), stop)
	require.Len(t, records(t, buf), 1)
}

// unavailable fails every fetch transiently.
type unavailable struct{ installstore.FullStore }

func (unavailable) FetchInstallation(context.Context, installstore.Query) (*installstore.Installation, error) {
	return nil, fmt.Errorf("dynamo: fetch tenant T1: %w", installstore.ErrUnavailable)
}

func TestTransientFailureIsItsOwnOutcome(t *testing.T) {
	s, buf := newAudited(t, unavailable{memory.New()})
	_, err := s.FetchInstallation(context.Background(), installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.Equal(t, "unavailable", records(t, buf)[0]["outcome"])
}

func TestBelowTheEncryptionLayerWarnsOnce(t *testing.T) {
	ctx := context.Background()
	backend := memory.New()
	inst := storetest.Fixture("", "T1", "U1", "a")
	inst.Bot.Token = installstore.NewSecret(installstore.SealedPrefix + "stand-in")
	require.NoError(t, backend.StoreInstallation(ctx, inst))
	s, buf := newAudited(t, backend)
	for range 3 {
		_, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
		require.NoError(t, err)
	}
	require.Equal(t, 1, strings.Count(buf.String(), "below the encryption layer"))
	require.NotContains(t, buf.String(), "stand-in")
}

func TestNewRejectsNil(t *testing.T) {
	_, err := audit.NewStore(nil, slog.Default())
	require.ErrorIs(t, err, installstore.ErrInvalid)
	_, err = audit.NewStore(memory.New(), nil)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	_, err = audit.NewStore(memory.New(), slog.Default(), audit.WithClock(nil))
	require.ErrorIs(t, err, installstore.ErrInvalid)
}

func Example() {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "at" {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	}))
	// Above the encryption layer in production: audit.NewStore(crypto store, logger).
	store, err := audit.NewStore(memory.New(), logger)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := store.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0001",
		Bot:    &installstore.Bot{Token: installstore.NewSecret("xoxb-test-example")},
		User:   installstore.User{ID: "U0001"},
	}); err != nil {
		fmt.Println(err)
		return
	}
	inst, err := store.FetchInstallation(installstore.WithCaller(ctx, "events"), installstore.Query{TeamID: "T0001"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("token:", inst.Bot.Token)
	// Output:
	// level=INFO msg="installvault token read" op=fetch enterprise_id="" team_id=T0001 user_id="" is_enterprise_install=false tenant=T0001 secrets=[bot.token] caller=events outcome=ok
	// token: [REDACTED]
}
