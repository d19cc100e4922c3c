package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// TestOperationsAtScale measures export, import, verify and rewrap on
// DynamoDB Local: records per second and the peak Go heap during each. It
// runs only when INSTALLVAULT_OPS_TENANTS is set (a number of tenants, each
// with a latest and one user record):
//
//	eval "$(scripts/dynamodb-local.sh start)"
//	INSTALLVAULT_OPS_TENANTS=100000 go test -run TestOperationsAtScale -v -timeout 2h ./cmd/installvault
func TestOperationsAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("INSTALLVAULT_OPS_TENANTS"))
	if n <= 0 {
		t.Skip("set INSTALLVAULT_OPS_TENANTS=<tenants> to measure the operations at scale")
	}
	h := newHarness(t)
	oldRaw, oldB64 := h.localKey()
	_, newB64 := h.localKey()
	keys, err := crypto.NewLocalKeyring(map[string][]byte{"old": oldRaw}, "old")
	require.NoError(t, err)
	raw, err := dynamo.New(h.client, h.table)
	require.NoError(t, err)
	sealed, err := crypto.NewStore(raw, keys)
	require.NoError(t, err)

	start := time.Now()
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			return sealed.StoreInstallation(ctx, storetest.Fixture("", fmt.Sprintf("T%07d", i), "U1", "s"))
		})
	}
	require.NoError(t, g.Wait())
	records := 2 * n
	t.Logf("seeded %d tenants (%d records) in %v", n, records, time.Since(start).Round(time.Millisecond))
	h.secrets = nil // the fixtures' markers (xoxb-, ...) are still checked

	file := filepath.Join(t.TempDir(), "backup.jsonl")
	dst := dynamotest.NewTable(t, h.client)
	env := h.with(envLocalKeys, "old="+oldB64)
	rotate := h.with(envLocalKeys, "old="+oldB64+",new="+newB64, envLocalPrimary, "new")
	type op struct {
		name string
		env  map[string]string
		args []string
	}
	var rows []string
	for _, o := range []op{
		{"export", env, []string{"export", "-o", file, "-progress", "0"}},
		{"import", h.with(envTable, dst), []string{"import", "-i", file, "-progress", "0"}},
		{"verify", env, []string{"verify", "-progress", "0"}},
		{"rewrap", rotate, []string{"rewrap", "-progress", "0"}},
	} {
		peak := watchHeap()
		start := time.Now()
		r := h.run(o.env, "", o.args...)
		d := time.Since(start)
		require.Equal(t, exitOK, r.code, "%s: %s", o.name, r.errOut)
		rows = append(rows, fmt.Sprintf("| %s | %d | %v | %.0f records/s | %.1f MiB |", o.name, records, d.Round(time.Millisecond),
			float64(records)/d.Seconds(), float64(peak())/(1<<20)))
	}
	t.Logf("\n| operation | records | time | rate | peak Go heap |\n|---|---|---|---|---|\n%s", joinLines(rows))
}

// watchHeap samples the Go heap until the returned function is called,
// which returns the peak seen.
func watchHeap() func() uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	return func() uint64 {
		close(stop)
		wg.Wait()
		return peak.Load()
	}
}

func joinLines(rows []string) string {
	out := ""
	for _, r := range rows {
		out += r + "\n"
	}
	return out
}
