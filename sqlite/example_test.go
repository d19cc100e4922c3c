package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/sqlite"
)

// A single-machine app: one file, sealed by package crypto, kept across
// restarts.
func Example() {
	dir, err := os.MkdirTemp("", "installvault-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "installvault.db")
	ctx := context.Background()
	// In an app, the key comes from INSTALLVAULT_LOCAL_KEYS (crypto.ParseLocalKeyring) or KMS.
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"local-1": []byte("0123456789abcdef0123456789abcdef")}, "local-1")
	if err != nil {
		log.Fatal(err)
	}
	open := func() (*sqlite.Store, *crypto.Store) {
		backend, err := sqlite.Open(ctx, path)
		if err != nil {
			log.Fatal(err)
		}
		store, err := crypto.NewStore(backend, keys)
		if err != nil {
			log.Fatal(err)
		}
		return backend, store
	}

	backend, store := open()
	err = store.StoreInstallation(ctx, &installstore.Installation{
		TeamID: "T0ACME",
		Bot:    &installstore.Bot{ID: "B0ACME", Token: installstore.NewSecret("xoxb-test-example")},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := backend.Close(); err != nil {
		log.Fatal(err)
	}

	// After a restart.
	backend, store = open()
	defer backend.Close()
	inst, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T0ACME"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(inst.Bot.ID, inst.Bot.Token, inst.Bot.Token.Reveal() == "xoxb-test-example")
	// Output: B0ACME [REDACTED] true
}

// Without package crypto above it, the store refuses plaintext tokens and
// writes nothing.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "installvault-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "installvault.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	err = store.StoreInstallation(context.Background(), &installstore.Installation{
		TeamID: "T0ACME",
		Bot:    &installstore.Bot{ID: "B1", Token: installstore.NewSecret("xoxb-test-plaintext")},
	})
	fmt.Println(errors.Is(err, installstore.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// sqlite: store tenant T0ACME: invalid: secret bot.token is not sealed by package crypto (wrap the store with crypto.NewStore, or use WithPlaintextSecrets for local experiments)
}

// Installation history: every install kept, newest first, purged by the
// uninstall.
func ExampleWithHistory() {
	dir, err := os.MkdirTemp("", "installvault-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "installvault.db"), sqlite.WithHistory(), sqlite.WithPlaintextSecrets()) // plaintext: this example only
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for _, user := range []string{"U1", "U2"} {
		inst := &installstore.Installation{TeamID: "T123", User: installstore.User{ID: user, Token: installstore.NewSecret("xoxp-test-" + user)}}
		if err := s.StoreInstallation(ctx, inst); err != nil {
			log.Fatal(err)
		}
	}
	list := func() {
		n := 0
		if err := s.ListHistory(ctx, installstore.Query{TeamID: "T123"}, func(inst *installstore.Installation) error {
			n++
			return nil
		}); err != nil {
			log.Fatal(err)
		}
		fmt.Println(n, "entries")
	}
	list()
	if err := s.DeleteInstallation(ctx, installstore.Query{TeamID: "T123"}); err != nil {
		log.Fatal(err)
	}
	list()
	// Output:
	// 2 entries
	// 0 entries
}
