package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
// DynamoDB Local: records per second and the peak Go heap during each (the
// CLI runs in the test's process). It runs only when
// INSTALLVAULT_OPS_TENANTS is set (a number of tenants, each with a latest
// and one user record); INSTALLVAULT_OPS names the operations to run
// (default export,import,verify,rewrap). Each row is logged as soon as its
// operation ends, with the CLI's progress lines (every 30 s) before it:
//
//	eval "$(scripts/dynamodb-local.sh start)"
//	INSTALLVAULT_OPS_TENANTS=100000 go test -run TestOperationsAtScale -count 1 -v -timeout 3h ./cmd/installvault
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
	want := map[string]bool{}
	for _, name := range strings.Split(cmp.Or(os.Getenv("INSTALLVAULT_OPS"), "export,import,verify,rewrap"), ",") {
		want[strings.TrimSpace(name)] = true
	}
	progress := []string{"-progress", "0", "-progress-interval", "30s"}
	var rows []string
	for _, o := range []op{
		{"export", env, append([]string{"export", "-o", file}, progress...)},
		{"import", h.with(envTable, dst), append([]string{"import", "-i", file}, progress...)},
		{"verify", env, append([]string{"verify"}, progress...)},
		{"rewrap", rotate, append([]string{"rewrap"}, progress...)},
	} {
		if !want[o.name] {
			continue
		}
		if o.name == "import" && !want["export"] {
			continue // nothing to import
		}
		peak := watchHeap()
		start := time.Now()
		r := h.runCtx(context.Background(), o.env, "", logWriter{t}, o.args...)
		d := time.Since(start)
		require.Equal(t, exitOK, r.code, "%s: %s", o.name, r.errOut)
		row := fmt.Sprintf("| %s | %d | %v | %.0f records/s | %.1f MiB |", o.name, records, d.Round(time.Millisecond),
			float64(records)/d.Seconds(), float64(peak())/(1<<20))
		t.Logf("%s %s", time.Now().UTC().Format(time.TimeOnly), row)
		rows = append(rows, row)
	}
	t.Logf("\n| operation | records | time | rate | peak Go heap |\n|---|---|---|---|---|\n%s", joinLines(rows))
}

// logWriter logs what the CLI writes (its progress lines on stderr) as it
// comes, with the time.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s %s", time.Now().UTC().Format(time.TimeOnly), strings.TrimRight(string(p), "\n"))
	return len(p), nil
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
