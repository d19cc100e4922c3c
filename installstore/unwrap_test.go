package installstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// layer is a minimal layer over one store.
type layer struct{ installstore.Passthrough }

func (l layer) Unwrap() []installstore.FullStore { return []installstore.FullStore{l.Inner} }

func TestCheckAppScope(t *testing.T) {
	const app = "1111111111.2222222222"
	scoped := layer{installstore.Passthrough{Inner: memory.New(memory.WithClientID(app))}}
	require.NoError(t, installstore.CheckAppScope(scoped, app))
	require.NoError(t, installstore.CheckAppScope(memory.New(), app), "an unscoped store serves any one app")
	err := installstore.CheckAppScope(scoped, "3333333333.4444444444")
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorContains(t, err, app, "the error names the store's app")
	require.ErrorContains(t, err, "3333333333.4444444444")
}

func TestHistoryTenants(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	ws := installstore.Query{EnterpriseID: "E1", TeamID: "T1", UserID: "U1"}
	own := installstore.Query{EnterpriseID: "E1", TeamID: "T1"}
	standalone := installstore.Query{TeamID: "T1"}

	got, err := installstore.HistoryTenants(ctx, s, ws)
	require.NoError(t, err)
	require.Equal(t, []installstore.Query{own, standalone}, got, "no standalone record: its kept history goes with the workspace")

	require.NoError(t, s.StoreInstallation(ctx, &installstore.Installation{TeamID: "T1", User: installstore.User{ID: "U1", Token: installstore.NewSecret("xoxp-test-1")}}))
	got, err = installstore.HistoryTenants(ctx, s, ws)
	require.NoError(t, err)
	require.Equal(t, []installstore.Query{own}, got, "a standalone record is listed on its own")

	for _, q := range []installstore.Query{standalone, {EnterpriseID: "E1", IsEnterpriseInstall: true}} {
		got, err = installstore.HistoryTenants(ctx, s, q)
		require.NoError(t, err)
		require.Equal(t, []installstore.Query{q}, got)
	}

	got, err = installstore.HistoryTenants(ctx, failing{s}, ws)
	require.ErrorIs(t, err, installstore.ErrUnavailable)
	require.Equal(t, []installstore.Query{own}, got)
	got, err = installstore.HistoryTenants(ctx, corrupt{s}, ws)
	require.NoError(t, err)
	require.Equal(t, []installstore.Query{own, standalone}, got, "a corrupt standalone record is not listed: its history goes with the workspace")
}

type failing struct{ installstore.FullStore }

func (failing) FetchInstallation(context.Context, installstore.Query) (*installstore.Installation, error) {
	return nil, installstore.ErrUnavailable
}

type corrupt struct{ installstore.FullStore }

func (corrupt) FetchInstallation(context.Context, installstore.Query) (*installstore.Installation, error) {
	return nil, installstore.ErrCorrupt
}
