package dynamo_test

import (
	"testing"
	"time"
)

func timeIn(t *testing.T) time.Time {
	t.Helper()
	return time.Now().Add(time.Hour)
}
