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
	storetest.Run(t, func(*testing.T) installstore.Store {
		s, err := audit.NewStore(memory.New(), slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		return s
	})
}

func newAudited(t *testing.T, inner installstore.Store) (installstore.Store, *bytes.Buffer) {
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
	require.Equal(t, "E1:T1", ok["tenant"])
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
	require.Equal(t, "E1:", rec["tenant"], "the record came from the org-wide install")
}

// failing is a store whose fetch fails with an error of the layer below
// (say, a decrypt failure).
type failing struct{ installstore.Store }

var errBelow = errors.New("crypto: cannot open bot.token of tenant :T1")

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
	require.NoError(t, s.(installstore.Lister).ListInstallations(installstore.WithCaller(ctx, "cli:export"), func(installstore.Query, *installstore.Installation) error {
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

func TestCapabilitiesMirrorInner(t *testing.T) {
	s, _ := newAudited(t, struct{ installstore.Store }{memory.New()})
	_, isLister := s.(installstore.Lister)
	require.False(t, isLister, "must not claim capabilities the inner store lacks")
	s, _ = newAudited(t, memory.New())
	_, isFull := s.(installstore.FullStore)
	require.True(t, isFull)
}

func TestNewRejectsNil(t *testing.T) {
	_, err := audit.NewStore(nil, slog.Default())
	require.Error(t, err)
	_, err = audit.NewStore(memory.New(), nil)
	require.Error(t, err)
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
	store, _ := audit.NewStore(memory.New(), logger)
	_ = store.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0001",
		Bot:    &installstore.Bot{Token: "xoxb-test-example"},
		User:   installstore.User{ID: "U0001"},
	})
	inst, _ := store.FetchInstallation(installstore.WithCaller(ctx, "events"), installstore.Query{TeamID: "T0001"})
	fmt.Println("token:", inst.Bot.Token)
	// Output:
	// level=INFO msg="installvault token read" op=fetch enterprise_id="" team_id=T0001 user_id="" is_enterprise_install=false tenant=:T0001 secrets=[bot.token] caller=events outcome=ok
	// token: [REDACTED]
}
