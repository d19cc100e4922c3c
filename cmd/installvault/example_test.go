package main

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// The whole program runs in-process: run takes the arguments, the standard
// streams and the environment, and returns the exit status.
func Example() {
	env := map[string]string{} // no store configured
	code := run(context.Background(), []string{"list", "-json"}, strings.NewReader(""), os.Stdout, os.Stdout,
		func(k string) string { return env[k] })
	fmt.Println("exit status", code)
	// Output:
	// installvault list: no store: set -store or INSTALLVAULT_STORE (e.g. sqlite:installs.db, postgres://..., dynamodb:TABLE), or -table or INSTALLVAULT_DYNAMODB_TABLE
	// Run 'installvault list -h' for usage.
	// exit status 2
}
