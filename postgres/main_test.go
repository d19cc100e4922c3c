package postgres_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/installvault/installvault/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(pgtest.URLEnv) == "" && os.Getenv("CI") == "true" {
		fmt.Fprintf(os.Stderr, "FAIL: %s is not set (CI=true): start PostgreSQL with eval \"$(scripts/postgres.sh start)\"\n", pgtest.URLEnv)
		os.Exit(1)
	}
	if child := os.Getenv(envChild); child != "" {
		os.Exit(runChild(child))
	}
	os.Exit(m.Run())
}
