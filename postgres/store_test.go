package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/pgtest"
	"github.com/installvault/installvault/postgres"
)

func q(ent, team, user string) installstore.Query {
	return installstore.Query{EnterpriseID: ent, TeamID: team, UserID: user}
}

func TestNewRefusesBadArguments(t *testing.T) {
	_, err := postgres.New(nil)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorIs(t, postgres.Migrate(context.Background(), nil), installstore.ErrInvalid)
}

func TestRefusesPlaintextSecretsByDefault(t *testing.T) {
	ctx := context.Background()
	s, pool := pgtest.Store(t)
	inst := storetest.Fixture("", "T1", "U1", "plain")
	err := s.StoreInstallation(ctx, inst)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.NotContains(t, err.Error(), "xox")
	require.Contains(t, err.Error(), "tenant T1")

	// Only one secret in the clear is enough to refuse the whole record.
	sealed := storetest.Fixture("", "T1", "U1", "x")
	require.NoError(t, sealed.Secrets(func(_ string, sec *installstore.Secret) error {
		*sec = installstore.NewSecret(installstore.SealedPrefix + "test")
		return nil
	}))
	sealed.IncomingWebhook.URL = installstore.NewSecret("https://hooks.slack.invalid/services/T1/plain")
	err = s.StoreInstallation(ctx, sealed)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.Contains(t, err.Error(), installstore.FieldIncomingWebhookURL)
	require.NotContains(t, err.Error(), "hooks.slack")
	require.ErrorIs(t, s.UpdateInstallation(ctx, sealed), installstore.ErrInvalid)

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM installvault_tenants`).Scan(&n))
	require.Zero(t, n, "nothing written")

	sealed.IncomingWebhook.URL = installstore.NewSecret(installstore.SealedPrefix + "test")
	require.NoError(t, s.StoreInstallation(ctx, sealed), "sealed values are stored")
}

// corruptions are rows that do not decode, each applied with raw SQL to a
// stored fixture's rows. None may leak a value into an error.
var corruptions = []struct {
	name, team, user, sql string
}{
	{"record is a JSON string", "T1", "", `UPDATE installvault_tenants SET record = '"xoxb-test-leak"' WHERE tenant = ':T1'`},
	{"install time is a number", "T2", "", `UPDATE installvault_tenants SET record = record || '{"at": 5}' WHERE tenant = ':T2'`},
	{"install time is not a time", "T3", "", `UPDATE installvault_tenants SET record = record || '{"at": "xoxb-test-leak"}' WHERE tenant = ':T3'`},
	{"record of another tenant", "T4", "", `UPDATE installvault_tenants SET record = record || '{"team": "T9"}' WHERE tenant = ':T4'`},
	{"user row holds another user", "T5", "U1", `UPDATE installvault_users SET record = jsonb_set(record, '{user,id}', '"U9"') WHERE tenant = ':T5'`},
	{"bot is an array", "T6", "", `UPDATE installvault_tenants SET bot = '["xoxb-test-leak"]' WHERE tenant = ':T6'`},
	{"bot tokens without a bot", "T7", "", `UPDATE installvault_tenants SET bot = NULL WHERE tenant = ':T7'`},
	{"scopes are not strings", "T8", "U1", `UPDATE installvault_users SET record = jsonb_set(record, '{user,scopes}', '[1]') WHERE tenant = ':T8'`},
}

func TestCorruptRecordsAreContained(t *testing.T) {
	ctx := context.Background()
	s, pool := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithListPageSize(3))
	for _, c := range corruptions {
		require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", c.team, "U1", "a")))
		_, err := pool.Exec(ctx, c.sql)
		require.NoError(t, err, c.name)
	}
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T0GOOD", "U1", "a")))

	for _, c := range corruptions {
		_, err := s.FetchInstallation(ctx, q("", c.team, c.user))
		require.ErrorIs(t, err, installstore.ErrCorrupt, c.name)
		require.NotErrorIs(t, err, installstore.ErrUnavailable, c.name)
		require.Contains(t, err.Error(), "tenant "+c.team, c.name)
		require.NotContains(t, err.Error(), "xox", c.name)
	}

	// Listing goes past every corrupt record and names each.
	listed := map[installstore.Query]bool{}
	err := s.ListInstallations(ctx, func(lq installstore.Query, inst *installstore.Installation) error {
		listed[lq] = true
		return nil
	})
	require.ErrorIs(t, err, installstore.ErrCorrupt)
	require.NotContains(t, err.Error(), "xox")
	n, complete := installstore.CountSkipped(err)
	require.True(t, complete, "the listing went to its end")
	// A corrupt bot spoils the tenant's user records too (they carry it).
	require.Equal(t, len(corruptions)+2, n, "skipped records: %v", err)
	require.True(t, listed[q("", "T0GOOD", "")])
	require.True(t, listed[q("", "T0GOOD", "U1")])
	for _, c := range corruptions {
		require.False(t, listed[q("", c.team, c.user)], c.name)
		require.Contains(t, err.Error(), "tenant "+c.team, c.name)
	}
	// The due index opens no record: every tenant is listed.
	due := 0
	require.NoError(t, s.ListDue(ctx, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), func(installstore.Query, time.Time) error { due++; return nil }))
	require.Equal(t, 2*(len(corruptions)+1), due)

	// A corrupt tenant can be uninstalled, and its user deleted.
	for _, c := range corruptions {
		require.NoError(t, s.DeleteInstallation(ctx, q("", c.team, "U1")), c.name)
		require.NoError(t, s.DeleteInstallation(ctx, q("", c.team, "")), c.name)
		_, err := s.FetchInstallation(ctx, q("", c.team, ""))
		require.ErrorIs(t, err, installstore.ErrNotFound, c.name)
	}
	require.NoError(t, s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }))
}

func TestListingsPaginate(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.Store(t, postgres.WithPlaintextSecrets(), postgres.WithListPageSize(2))
	base := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	want := map[installstore.Query]bool{}
	wantDue := map[installstore.Query]time.Time{}
	for i := range 7 {
		team := fmt.Sprintf("T%d", i)
		for u := range i % 4 {
			inst := storetest.Fixture("", team, fmt.Sprintf("U%d", u), "a")
			inst.Bot.ExpiresAt = base.Add(time.Duration(i) * time.Minute) // ties across records on purpose
			inst.User.ExpiresAt = base.Add(time.Duration(u) * time.Minute)
			require.NoError(t, s.StoreInstallation(ctx, inst))
			want[q("", team, inst.User.ID)] = true
			wantDue[q("", team, inst.User.ID)] = inst.User.ExpiresAt
			want[q("", team, "")] = true
			wantDue[q("", team, "")] = base.Add(min(time.Duration(i), time.Duration(u)) * time.Minute)
		}
	}
	got := map[installstore.Query]bool{}
	require.NoError(t, s.ListInstallations(ctx, func(lq installstore.Query, inst *installstore.Installation) error {
		require.False(t, got[lq], "listed twice: %+v", lq)
		got[lq] = true
		fetched, err := s.FetchInstallation(ctx, lq)
		require.NoError(t, err)
		storetest.Equal(t, fetched, inst)
		return nil
	}))
	require.Equal(t, want, got)

	gotDue := map[installstore.Query]time.Time{}
	require.NoError(t, s.ListDue(ctx, base.Add(time.Hour), func(lq installstore.Query, at time.Time) error {
		_, dup := gotDue[lq]
		require.False(t, dup, "listed twice: %+v", lq)
		gotDue[lq] = at
		return nil
	}))
	require.Equal(t, wantDue, gotDue)
}

// TestDueQueriesUseThePartialIndexes: the due listing's queries can be
// answered from the partial indexes alone (so a tick costs what is due,
// not what is stored).
func TestDueQueriesUseThePartialIndexes(t *testing.T) {
	ctx := context.Background()
	_, pool := pgtest.Store(t)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	defer func() { _, _ = conn.Exec(ctx, `RESET enable_seqscan; RESET enable_bitmapscan`) }()
	_, err = conn.Exec(ctx, `SET enable_seqscan = off; SET enable_bitmapscan = off`)
	require.NoError(t, err)
	for index, sql := range map[string]string{
		"installvault_tenants_app_due": `EXPLAIN ` + strings.NewReplacer("$1", "5", "$2", "1", "$3", "''", "$4", "500", "$5", "'app.1'").Replace(postgres.DueTenantsSQL),
		"installvault_users_app_due":   `EXPLAIN ` + strings.NewReplacer("$1", "5", "$2", "1", "$3", "''", "$4", "''", "$5", "500", "$6", "'app.1'").Replace(postgres.DueUsersSQL),
	} {
		rows, err := conn.Query(ctx, sql)
		require.NoError(t, err)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		text := strings.Join(plan, "\n")
		require.Regexp(t, "Index (Only )?Scan using "+index, text)
		require.NotContains(t, text, "Sort", "the index gives the keyset's order")
	}
}

func TestMigrateIsIdempotentAndVersioned(t *testing.T) {
	ctx := context.Background()
	_, pool := pgtest.Store(t) // migrated once already
	require.NoError(t, postgres.Migrate(ctx, pool))
	require.NoError(t, postgres.Migrate(ctx, pool))
	require.NoError(t, postgres.CheckSchema(ctx, pool))
	var versions []int
	rows, err := pool.Query(ctx, `SELECT version FROM installvault_schema_migrations ORDER BY version`)
	require.NoError(t, err)
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, versions)
	require.Equal(t, postgres.SchemaVersion, versions[len(versions)-1])

	// A database migrated by a newer release is left alone.
	_, err = pool.Exec(ctx, `INSERT INTO installvault_schema_migrations (version) VALUES (99)`)
	require.NoError(t, err)
	require.NoError(t, postgres.Migrate(ctx, pool))
	require.NoError(t, postgres.CheckSchema(ctx, pool))

	empty := pgtest.Pool(t, pgtest.NewSchemaUnmigrated(t))
	require.ErrorIs(t, postgres.CheckSchema(ctx, empty), installstore.ErrInvalid)
	s, err := postgres.New(empty)
	require.NoError(t, err)
	_, err = s.FetchInstallation(ctx, q("", "T1", ""))
	require.Error(t, err)
	require.Contains(t, err.Error(), "run postgres.Migrate")
	require.NotErrorIs(t, err, installstore.ErrUnavailable, "a missing schema is not transient")
}

func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.NewSchemaUnmigrated(t)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			pool, err := pgtest.OpenPool(ctx, pgtest.URL(t), schema)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- postgres.Migrate(ctx, pool)
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
	s, err := postgres.New(pgtest.Pool(t, schema), postgres.WithPlaintextSecrets())
	require.NoError(t, err)
	require.NoError(t, s.StoreInstallation(ctx, storetest.Fixture("", "T1", "U1", "a")))
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	ctx := context.Background()
	// A port nothing listens on (the server's, plus one, then closed).
	pool, err := pgtest.OpenPool(ctx, "postgres://postgres:pw@127.0.0.1:1/none?connect_timeout=2", "")
	require.NoError(t, err)
	defer pool.Close()
	s, err := postgres.New(pool, postgres.WithPlaintextSecrets())
	require.NoError(t, err)
	inst := storetest.Fixture("", "T1", "U1", "a")
	ops := map[string]error{
		"store":   s.StoreInstallation(ctx, inst),
		"fetch":   func() error { _, err := s.FetchInstallation(ctx, q("", "T1", "U1")); return err }(),
		"update":  s.UpdateInstallation(ctx, inst),
		"delete":  s.DeleteInstallation(ctx, q("", "T1", "")),
		"delIf":   s.DeleteInstallationIf(ctx, q("", "T1", ""), 1),
		"bot":     s.DeleteBot(ctx, q("", "T1", "")),
		"botIf":   s.DeleteBotIf(ctx, q("", "T1", ""), 1),
		"list":    s.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error { return nil }),
		"due":     s.ListDue(ctx, time.Now(), func(installstore.Query, time.Time) error { return nil }),
		"put":     s.PutNonce(ctx, "n", time.Now().Add(time.Hour)),
		"consume": s.ConsumeNonce(ctx, "n"),
		"acquire": s.AcquireLease(ctx, "l", "o", time.Minute),
		"release": s.ReleaseLease(ctx, "l", "o"),
		"migrate": postgres.Migrate(ctx, pool),
	}
	for op, err := range ops {
		require.ErrorIs(t, err, installstore.ErrUnavailable, op)
		require.NotErrorIs(t, err, installstore.ErrNotFound, op)
		require.NotContains(t, err.Error(), "xox", op)
		require.NotContains(t, err.Error(), "pw", op)
	}

	// The caller's own cancellation is not the database's unavailability.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	err = s.StoreInstallation(canceled, inst)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, installstore.ErrUnavailable)
	_, err = s.FetchInstallation(canceled, q("", "T1", ""))
	require.True(t, errors.Is(err, context.Canceled) && !errors.Is(err, installstore.ErrUnavailable), "%v", err)
}

// TestExpiredNoncesAreSwept: puts remove expired nonces in batches, so the
// table stays bounded without a job outside the store.
func TestExpiredNoncesAreSwept(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, pool := pgtest.Store(t, postgres.WithClock(func() time.Time { return clock() }))
	for i := range 300 {
		require.NoError(t, s.PutNonce(ctx, fmt.Sprintf("old-%d", i), now.Add(time.Second)))
	}
	now = now.Add(time.Minute)
	require.ErrorIs(t, s.ConsumeNonce(ctx, "old-1"), installstore.ErrNotFound, "expired")
	for i := range 300 {
		require.NoError(t, s.PutNonce(ctx, fmt.Sprintf("new-%d", i), now.Add(time.Hour)))
	}
	var old, live int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE expires_at <= $1), count(*) FILTER (WHERE expires_at > $1) FROM installvault_nonces`, now).Scan(&old, &live))
	require.Zero(t, old, "expired nonces swept")
	require.Equal(t, 300, live)
	require.NoError(t, s.ConsumeNonce(ctx, "new-7"))
	// An expired nonce can be put again; a live one cannot.
	require.NoError(t, s.PutNonce(ctx, "old-2", now.Add(time.Hour)))
	require.ErrorIs(t, s.PutNonce(ctx, "old-2", now.Add(time.Hour)), installstore.ErrConflict)
}

// TestLeaseClock: by default a lease expires by the database's clock,
// whatever the store's clock says; WithLeaseClock (for tests) makes it
// follow a fake one.
func TestLeaseClock(t *testing.T) {
	ctx := context.Background()
	future := func() time.Time { return time.Now().Add(time.Hour) }
	s, pool := pgtest.Store(t, postgres.WithClock(future))
	require.NoError(t, s.AcquireLease(ctx, "l", "a", time.Minute))
	require.ErrorIs(t, s.AcquireLease(ctx, "l", "b", time.Minute), installstore.ErrLeaseHeld, "a store clock an hour ahead takes nothing over")

	now := time.Now()
	fake, err := postgres.New(pool, postgres.WithLeaseClock(func() time.Time { return now }))
	require.NoError(t, err)
	require.NoError(t, fake.AcquireLease(ctx, "m", "a", time.Minute))
	require.ErrorIs(t, fake.AcquireLease(ctx, "m", "b", time.Minute), installstore.ErrLeaseHeld)
	now = now.Add(time.Minute + time.Second)
	require.NoError(t, fake.AcquireLease(ctx, "m", "b", time.Minute), "the fake clock expired a's lease")
	require.ErrorIs(t, fake.AcquireLease(ctx, "m", "a", time.Minute), installstore.ErrLeaseHeld)
}
