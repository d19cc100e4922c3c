package crypto_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// appScoped is a test double for an app-scoped backend: it reports a client
// ID over a store it does not scope, so that two "apps" see one table and a
// sealed record written by one app can be read through the other's layer:
// exactly a sealed value moved between apps' records.
type appScoped struct {
	installstore.Passthrough
	id string
}

func (a appScoped) ClientID() string { return a.id }

const (
	appA = "1111111111.2222222222"
	appB = "3333333333.4444444444"
)

// TestSealedValueMovedToAnotherAppDoesNotOpen: the app's client ID is bound
// into every value, so a record sealed for app A does not open for app B,
// nor unscoped, under the same master key; under A it does.
func TestSealedValueMovedToAnotherAppDoesNotOpen(t *testing.T) {
	shared := memory.New()
	keys := keyring(t, "k1", "k1")
	a := newStore(t, appScoped{installstore.Passthrough{Inner: shared}, appA}, keys)
	b := newStore(t, appScoped{installstore.Passthrough{Inner: shared}, appB}, keys)
	unscoped := newStore(t, shared, keys)
	require.Equal(t, appA, a.ClientID())
	require.Equal(t, "", unscoped.ClientID())

	in := storetest.Fixture("", "T1", "U1", "a")
	require.NoError(t, a.StoreInstallation(bg, in.Clone()))
	for _, q := range []installstore.Query{{TeamID: "T1"}, {TeamID: "T1", UserID: "U1"}} {
		got, err := a.FetchInstallation(bg, q)
		require.NoError(t, err)
		in.Version = got.Version
		storetest.Equal(t, in, got)
		for name, other := range map[string]*crypto.Store{"app B": b, "unscoped": unscoped} {
			got, err := other.FetchInstallation(bg, q)
			require.ErrorIs(t, err, crypto.ErrDecrypt, name)
			require.Nil(t, got, name)
		}
	}
	// And the other way: what the unscoped layer sealed does not open for A.
	require.NoError(t, unscoped.StoreInstallation(bg, storetest.Fixture("", "T2", "U1", "u")))
	_, err := a.FetchInstallation(bg, installstore.Query{TeamID: "T2"})
	require.ErrorIs(t, err, crypto.ErrDecrypt)
}

// TestKMSEncryptionContextNamesTheApp: an app-scoped layer's data keys carry
// the client ID in their KMS encryption context, so KMS itself refuses them
// to another app (and CloudTrail names the app).
func TestKMSEncryptionContextNamesTheApp(t *testing.T) {
	srv, client := newKMS(t)
	keys, err := crypto.NewKMS(client, srv.CreateKey("k").ID)
	require.NoError(t, err)
	app := keys.(crypto.AppKeyProvider)
	tenant := installstore.Tenant{TeamID: "T1"}
	dk, err := app.GenerateAppDataKey(bg, tenant, appA)
	require.NoError(t, err)
	out, err := client.Decrypt(bg, &kms.DecryptInput{CiphertextBlob: dk.Wrapped, EncryptionContext: map[string]string{
		crypto.ContextTeamID: "T1", crypto.ContextClientID: appA,
	}})
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext.Bytes(), out.Plaintext)
	var invalid *types.InvalidCiphertextException
	_, err = client.Decrypt(bg, &kms.DecryptInput{CiphertextBlob: dk.Wrapped, EncryptionContext: map[string]string{crypto.ContextTeamID: "T1"}})
	require.ErrorAs(t, err, &invalid, "without the app")
	_, err = app.UnwrapAppDataKey(bg, tenant, appB, dk.KeyID, dk.Wrapped)
	require.ErrorIs(t, err, crypto.ErrDecrypt, "another app")
	_, err = keys.UnwrapDataKey(bg, tenant, dk.KeyID, dk.Wrapped)
	require.ErrorIs(t, err, crypto.ErrDecrypt, "unscoped")

	// Through the layer: app B's store, same KMS key, same table.
	shared := memory.New()
	a := newStore(t, appScoped{installstore.Passthrough{Inner: shared}, appA}, keys)
	b := newStore(t, appScoped{installstore.Passthrough{Inner: shared}, appB}, keys)
	require.NoError(t, a.StoreInstallation(bg, storetest.Fixture("", "T1", "U1", "a")))
	_, err = a.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.NoError(t, err)
	_, err = b.FetchInstallation(bg, installstore.Query{TeamID: "T1"})
	require.ErrorIs(t, err, crypto.ErrDecrypt)
	require.NotErrorIs(t, err, installstore.ErrUnavailable)
}

// fanout is a test double for a layer over several stores (a residency
// router).
type fanout struct {
	installstore.Passthrough
	below []installstore.FullStore
}

func (r fanout) Unwrap() []installstore.FullStore { return r.below }

func TestNewStoreFindsTheClientID(t *testing.T) {
	keys := keyring(t, "k1", "k1")
	scoped := func(id string) installstore.FullStore {
		return appScoped{installstore.Passthrough{Inner: memory.New()}, id}
	}
	// Below a layer, and below a router whose regions agree.
	s := newStore(t, fanout{installstore.Passthrough{Inner: scoped(appA)}, []installstore.FullStore{scoped(appA), scoped(appA), scoped("")}}, keys)
	require.Equal(t, appA, s.ClientID())
	require.Contains(t, fmtErr("%v", s).Error(), "client ID: "+appA)

	// Regions of two apps: refused.
	_, err := crypto.NewStore(fanout{installstore.Passthrough{Inner: scoped(appA)}, []installstore.FullStore{scoped(appA), scoped(appB)}}, keys)
	require.ErrorIs(t, err, installstore.ErrInvalid)
	// A key provider that cannot bind a data key to an app: refused for a
	// scoped stack, fine for an unscoped one.
	_, err = crypto.NewStore(scoped(appA), &counting{KeyProvider: keys})
	require.ErrorIs(t, err, installstore.ErrInvalid)
	_, err = crypto.NewStore(memory.New(), &counting{KeyProvider: keys})
	require.NoError(t, err)
	// memory's own WithClientID is found too.
	s = newStore(t, memory.New(memory.WithClientID(appB)), keys)
	require.Equal(t, appB, s.ClientID())
}

// TestKeyringBindsTheApp: the local keyring binds a data key to the app
// when given one, and wraps exactly as before without one.
func TestKeyringBindsTheApp(t *testing.T) {
	app := keyring(t, "k1", "k1").(crypto.AppKeyProvider)
	tenant := installstore.Tenant{TeamID: "T1"}
	dk, err := app.GenerateAppDataKey(bg, tenant, appA)
	require.NoError(t, err)
	pt, err := app.UnwrapAppDataKey(bg, tenant, appA, dk.KeyID, dk.Wrapped)
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext.Bytes(), pt)
	_, err = app.UnwrapAppDataKey(bg, tenant, appB, dk.KeyID, dk.Wrapped)
	require.Error(t, err)
	_, err = app.UnwrapDataKey(bg, tenant, dk.KeyID, dk.Wrapped)
	require.Error(t, err)
	plain, err := app.GenerateDataKey(bg, tenant)
	require.NoError(t, err)
	pt, err = app.UnwrapAppDataKey(bg, tenant, "", plain.KeyID, plain.Wrapped)
	require.NoError(t, err, "an empty client ID is the unscoped key")
	require.Equal(t, plain.Plaintext.Bytes(), pt)
}
