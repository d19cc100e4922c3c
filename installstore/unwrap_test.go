package installstore_test

import (
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
