package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// WriteSecrets writes through s — a stack with an encryption layer over the
// backend under test — installations of every tenant shape (workspaces, a
// workspace of an enterprise, an org-wide install, two users of one
// workspace), a refresh (a conditional update), a nonce put, a nonce put and
// consumed, and a lease, and returns every plaintext it wrote. A backend's
// test then reads its raw storage (tables, files, keys) and asserts that none
// of them appears there.
func WriteSecrets(t *testing.T, s installstore.FullStore) []string {
	t.Helper()
	ctx := context.Background()
	var plain []string
	for _, inst := range []*installstore.Installation{
		Fixture("", "T1", "U1", "a"),
		Fixture("", "T1", "U2", "b"),
		Fixture("E1", "T2", "U3", "c"),
		OrgFixture("E2", "U4", "d"),
	} {
		require.NoError(t, inst.Secrets(func(_ string, sec *installstore.Secret) error {
			plain = append(plain, sec.Reveal())
			return nil
		}))
		require.NoError(t, s.StoreInstallation(ctx, inst.Clone()))
	}
	cur, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T1", UserID: "U1"})
	require.NoError(t, err)
	cur.User.Token = installstore.NewSecret("xoxp-test-refreshed-secret")
	require.NoError(t, s.UpdateInstallation(ctx, cur))
	exp := time.Now().Add(time.Hour)
	require.NoError(t, s.PutNonce(ctx, "state-test-secret-nonce", exp))
	require.NoError(t, s.PutNonce(ctx, "state-test-consumed-nonce", exp))
	require.NoError(t, s.ConsumeNonce(ctx, "state-test-consumed-nonce"))
	require.NoError(t, s.AcquireLease(ctx, "refresh:T1", "replica-1", time.Minute))
	return append(plain, "xoxp-test-refreshed-secret", "state-test-secret-nonce", "state-test-consumed-nonce")
}

// RequireSealedAtRest asserts that backend (the store below an encryption
// layer) holds the record q names with every secret of plain sealed: as
// many secret fields as plain has, each sealed, none holding a plaintext of
// plain.
func RequireSealedAtRest(t testing.TB, backend installstore.Store, q installstore.Query, plain *installstore.Installation) {
	t.Helper()
	raw, err := backend.FetchInstallation(context.Background(), q)
	require.NoError(t, err)
	var plaintexts []string
	require.NoError(t, plain.Secrets(func(_ string, s *installstore.Secret) error {
		plaintexts = append(plaintexts, s.Reveal())
		return nil
	}))
	require.NotEmpty(t, plaintexts)
	n := 0
	require.NoError(t, raw.Secrets(func(field string, s *installstore.Secret) error {
		n++
		if !s.IsSealed() {
			return errors.New(field + " is not sealed at rest")
		}
		for _, p := range plaintexts {
			if strings.Contains(s.Reveal(), p) {
				return errors.New(field + " holds a plaintext token at rest")
			}
		}
		return nil
	}))
	require.Equal(t, len(plaintexts), n)
}
