package crypto_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/crypto/kmstest"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// Wrap a backend: tokens rest sealed, and come back in clear.
func Example() {
	ctx := context.Background()
	// Development keys; in production use crypto.NewKMS.
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"2026-11": []byte("0123456789abcdef0123456789abcdef")}, "2026-11")
	if err != nil {
		panic(err)
	}
	backend := memory.New()
	store, err := crypto.NewStore(backend, keys, crypto.WithDataKeyCache(5*time.Minute, 1000))
	if err != nil {
		panic(err)
	}
	inst := &installstore.Installation{TeamID: "T1", Bot: &installstore.Bot{ID: "B1", Token: installstore.NewSecret("xoxb-test-example")}}
	if err := store.StoreInstallation(ctx, inst); err != nil {
		panic(err)
	}

	raw, _ := backend.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	fmt.Println(strings.HasPrefix(raw.Bot.Token.Reveal(), "ivsealed:2.local."), strings.Contains(raw.Bot.Token.Reveal(), "xoxb"))

	got, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	fmt.Println(got.Bot.Token.Reveal(), err)

	// Another keyring cannot open it: the request fails, no stale token.
	other, _ := crypto.NewLocalKeyring(map[string][]byte{"2026-11": []byte("fedcba9876543210fedcba9876543210")}, "2026-11")
	wrong, _ := crypto.NewStore(backend, other)
	_, err = wrong.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	fmt.Println(errors.Is(err, crypto.ErrDecrypt))
	// Output:
	// true false
	// xoxb-test-example <nil>
	// true
}

// AWS KMS, here the kmstest server: the same code runs against AWS.
func ExampleNewKMS() {
	ctx := context.Background()
	srv := kmstest.NewServer()
	defer srv.Close()
	key := srv.CreateKey("installvault")
	_ = srv.CreateAlias("alias/installvault", key.ID)

	keys, err := crypto.NewKMS(srv.Client(), "alias/installvault")
	if err != nil {
		panic(err)
	}
	store, _ := crypto.NewStore(memory.New(), keys, crypto.WithDataKeyCache(5*time.Minute, 1000))
	_ = store.StoreInstallation(ctx, &installstore.Installation{TeamID: "T1", Bot: &installstore.Bot{Token: installstore.NewSecret("xoxb-test-kms")}})
	got, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T1"})
	fmt.Println(got.Bot.Token.Reveal(), err)
	fmt.Println(srv.Calls("GenerateDataKey"), srv.Calls("Decrypt"))
	// Output:
	// xoxb-test-kms <nil>
	// 1 0
}

// Rotate the keyring's master key online, then retire the old one.
func ExampleRewrap() {
	ctx := context.Background()
	k1 := []byte("0123456789abcdef0123456789abcdef")
	k2 := []byte("abcdef0123456789abcdef0123456789")
	backend := memory.New()
	old, _ := crypto.NewLocalKeyring(map[string][]byte{"k1": k1}, "k1")
	s, _ := crypto.NewStore(backend, old)
	for _, team := range []string{"T1", "T2"} {
		_ = s.StoreInstallation(ctx, &installstore.Installation{TeamID: team, Bot: &installstore.Bot{Token: installstore.NewSecret("xoxb-test-" + team)}})
	}

	both, _ := crypto.NewLocalKeyring(map[string][]byte{"k1": k1, "k2": k2}, "k2")
	s, _ = crypto.NewStore(backend, both)
	stats, err := crypto.Rewrap(ctx, s)
	fmt.Printf("%+v %v\n", stats, err)

	onlyNew, _ := crypto.NewLocalKeyring(map[string][]byte{"k2": k2}, "k2")
	s, _ = crypto.NewStore(backend, onlyNew)
	got, err := s.FetchInstallation(ctx, installstore.Query{TeamID: "T2"})
	fmt.Println(got.Bot.Token.Reveal(), err)
	// Output:
	// {Seen:2 Rewrapped:2 Current:0 Gone:0 Failed:0 HistorySeen:0 HistoryRewrapped:0 HistoryCurrent:0 HistoryGone:0 HistoryFailed:0} <nil>
	// xoxb-test-T2 <nil>
}

// Load a development keyring from INSTALLVAULT_LOCAL_KEYS: one bare key (as
// `openssl rand -base64 32` prints it), or name=key entries.
func ExampleParseLocalKeyring() {
	spec := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // os.Getenv("INSTALLVAULT_LOCAL_KEYS")
	keys, err := crypto.ParseLocalKeyring(spec, "")
	fmt.Println(keys, err)

	rotating, err := crypto.ParseLocalKeyring("old="+spec+",new=6162636465663031323334353637383961626364656630313233343536373839", "new")
	fmt.Println(rotating, err)

	_, err = crypto.ParseLocalKeyring("k1="+spec[:20], "")
	fmt.Println(err)
	// Output:
	// crypto.localKeyring{primary: default, keys: [default]} <nil>
	// crypto.localKeyring{primary: new, keys: [new old]} <nil>
	// crypto: local keys: invalid: entry 1: not 32 bytes of base64 or hex
}
