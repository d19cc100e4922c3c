package residency_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
	"github.com/installvault/installvault/residency"
)

func keyring(t *testing.T, primary string, names ...string) crypto.KeyProvider {
	t.Helper()
	keys := map[string][]byte{}
	for _, n := range names {
		sum := sha256.Sum256([]byte("test key " + n)) // the same name, the same key
		keys[n] = sum[:]
	}
	k, err := crypto.NewLocalKeyring(keys, primary)
	require.NoError(t, err)
	return k
}

// regional returns a router over one encryption layer per region, each
// with the region's own keyring.
func regional(t *testing.T, backends map[string]*memory.Store, keys func(region string) crypto.KeyProvider) *residency.Store {
	t.Helper()
	regions := map[string]installstore.FullStore{}
	for name, b := range backends {
		cs, err := crypto.NewStore(b, keys(name))
		require.NoError(t, err)
		regions[name] = cs
	}
	s, err := residency.NewStore(byKey, regions, residency.WithHomeRegion("eu"))
	require.NoError(t, err)
	return s
}

// Key rotation over per-region encryption layers rewraps every region,
// each under its own new key: "Failed == 0" must mean that the old keys of
// every region can be retired.
func TestRewrapReachesEveryRegion(t *testing.T) {
	ctx := context.Background()
	backends := map[string]*memory.Store{"eu": memory.New(), "us": memory.New()}
	old := regional(t, backends, func(r string) crypto.KeyProvider { return keyring(t, r+"-old", r+"-old") })
	perRegion := map[string]int{}
	for i := range 12 {
		inst := storetest.Fixture("", fmt.Sprintf("T%03d", i), "U1", "a")
		region, _ := byKey(inst.Tenant())
		perRegion[region] += 2 // latest + U1
		require.NoError(t, old.StoreInstallation(ctx, inst))
	}
	require.Len(t, perRegion, 2, "both regions hold records")

	rotating := regional(t, backends, func(r string) crypto.KeyProvider { return keyring(t, r+"-new", r+"-old", r+"-new") })
	st, err := crypto.Rewrap(ctx, rotating)
	require.NoError(t, err)
	require.Equal(t, 24, st.Seen, "every record of every region is listed")
	require.Equal(t, 24, st.Rewrapped+st.Current) // a latest record's update re-seals its installer's record too
	require.Zero(t, st.Failed)
	require.GreaterOrEqual(t, st.Rewrapped, 12)

	// Every record of every region is sealed under its region's new key.
	for region, b := range backends {
		n := 0
		require.NoError(t, b.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
			n++
			return inst.Secrets(func(field string, s *installstore.Secret) error {
				_, keyID, err := crypto.SealedKey(*s)
				require.NoError(t, err)
				require.Equal(t, region+"-new", keyID, "region %s %+v %s", region, q, field)
				return nil
			})
		}))
		require.Equal(t, perRegion[region], n, region)
	}
	// With the old keys gone, everything opens.
	retired := regional(t, backends, func(r string) crypto.KeyProvider { return keyring(t, r+"-new", r+"-new") })
	opened := 0
	require.NoError(t, retired.ListInstallations(ctx, func(installstore.Query, *installstore.Installation) error {
		opened++
		return nil
	}))
	require.Equal(t, 24, opened)
}

func TestRegionsAreAllSealedOrNone(t *testing.T) {
	sealedEU, err := crypto.NewStore(memory.New(), keyring(t, "eu", "eu"))
	require.NoError(t, err)
	_, err = residency.NewStore(byKey, map[string]installstore.FullStore{"eu": sealedEU, "us": memory.New()}, residency.WithHomeRegion("eu"))
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.ErrorContains(t, err, "regions eu have an encryption layer and us do not")

	// One encryption layer above the router is the other way; over
	// per-region layers it would seal twice, which crypto refuses.
	plain, err := residency.NewStore(byKey, map[string]installstore.FullStore{"eu": memory.New(), "us": memory.New()}, residency.WithHomeRegion("eu"))
	require.NoError(t, err)
	_, err = crypto.NewStore(plain, keyring(t, "k", "k"))
	require.NoError(t, err)
	sealedUS, err := crypto.NewStore(memory.New(), keyring(t, "us", "us"))
	require.NoError(t, err)
	both, err := residency.NewStore(byKey, map[string]installstore.FullStore{"eu": sealedEU, "us": sealedUS}, residency.WithHomeRegion("eu"))
	require.NoError(t, err)
	_, err = crypto.NewStore(both, keyring(t, "k", "k"))
	require.ErrorIs(t, err, installstore.ErrInvalid)
}
