package storeurl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/installvault/installvault/internal/storeurl"
)

// A URL names its store without its password.
func ExampleParse() {
	u, err := storeurl.Parse("postgres://app:hunter2@db.internal:5432/slack?sslmode=verify-full")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Kind, u)
	_, err = storeurl.Parse("mysql://app:hunter2@db.internal/slack")
	fmt.Println(err)
	// Output:
	// postgres postgres://app:xxxxx@db.internal:5432/slack?sslmode=verify-full
	// store URL: invalid: unknown scheme "mysql" (want one of dynamodb:TABLE, postgres://..., sqlite:PATH, redis://HOST:PORT, redis-cluster://H1:P1,H2:P2)
}

// Open returns the backend and the function that releases it; wrap the
// backend with crypto.NewStore.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "storeurl")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	url := "sqlite:" + filepath.Join(dir, "installs.db")
	if _, _, err := storeurl.Open(ctx, url, storeurl.Options{}); err != nil {
		fmt.Println("without Create:", err != nil)
	}
	store, closeStore, err := storeurl.Open(ctx, url, storeurl.Options{Create: true})
	if err != nil {
		panic(err)
	}
	defer closeStore()
	fmt.Printf("%T\n", store)
	// Output:
	// without Create: true
	// *sqlite.Store
}
