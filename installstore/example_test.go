package installstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// A Secret never prints its value: not with fmt, JSON or slog.
func ExampleSecret() {
	token := installstore.NewSecret("xoxb-test-example")
	fmt.Printf("%v %s %q %x\n", token, token, token, token)
	b, _ := json.Marshal(map[string]any{"token": token})
	fmt.Println(string(b))
	slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).Info("fetched", "token", token)
	fmt.Println(len(token.Reveal()), "bytes behind Reveal")
	// Output:
	// [REDACTED] [REDACTED] "[REDACTED]" [REDACTED]
	// {"token":"[REDACTED]"}
	// level=INFO msg=fetched token=[REDACTED]
	// 17 bytes behind Reveal
}

// countingStore is a layer: it embeds Passthrough and overrides what it
// changes. It is a FullStore, so it stacks under or over any other layer.
type countingStore struct {
	installstore.Passthrough
	fetches int
}

func (s *countingStore) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	s.fetches++
	return s.Inner.FetchInstallation(ctx, q)
}

// A layer embeds Passthrough and changes only what it must.
func ExamplePassthrough() {
	ctx := context.Background()
	layer := &countingStore{Passthrough: installstore.Passthrough{Inner: memory.New()}}
	var store installstore.FullStore = layer

	if err := store.StoreInstallation(ctx, &installstore.Installation{TeamID: "T0001", User: installstore.User{ID: "U0001"}}); err != nil {
		fmt.Println(err)
	}
	if _, err := store.FetchInstallation(ctx, installstore.Query{TeamID: "T0001"}); err != nil {
		fmt.Println(err)
	}
	fmt.Println("fetches:", layer.fetches)
	// Output:
	// fetches: 1
}

// Fetches are scoped by the tenant of the verified request; a workspace of
// an Enterprise Grid organization without its own install is served by the
// org-wide install.
func ExampleStore() {
	ctx := context.Background()
	var store installstore.Store = memory.New()
	_ = store.StoreInstallation(ctx, &installstore.Installation{
		EnterpriseID: "E0001", IsEnterpriseInstall: true,
		Bot:  &installstore.Bot{ID: "B0001", Token: installstore.NewSecret("xoxb-test-org")},
		User: installstore.User{ID: "U0001"},
	})
	inst, err := store.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E0001", TeamID: "T0042"})
	fmt.Println(inst.Tenant(), inst.Bot.ID, err)

	_, err = store.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E0002", TeamID: "T0042"})
	fmt.Println(err)
	// Output:
	// E0001 (org-wide) B0001 <nil>
	// memory: fetch tenant E0002/T0042: not found
}
