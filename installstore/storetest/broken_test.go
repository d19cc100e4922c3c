package storetest_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/memory"
)

// Broken backends, each violating one rule of the contract.

// crossTenant lets a standalone workspace read the workspace of the same
// team in an enterprise: T1 of no enterprise reads T1 of E1.
type crossTenant struct{ *memory.Store }

func (s crossTenant) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	if !q.IsEnterpriseInstall && q.EnterpriseID == "" {
		if inst, err := s.Store.FetchInstallation(ctx, installstore.Query{EnterpriseID: "E1", TeamID: q.TeamID, UserID: q.UserID}); err == nil {
			return inst, nil
		}
	}
	return s.Store.FetchInstallation(ctx, q)
}

// blindUpdate ignores the expected Version: last writer wins.
type blindUpdate struct{ *memory.Store }

func (s blindUpdate) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if cur, err := s.Store.FetchInstallation(ctx, inst.Query()); err == nil {
		inst.Version = cur.Version
	}
	return s.Store.UpdateInstallation(ctx, inst)
}

// reusableNonce never uses a nonce up.
type reusableNonce struct{ *memory.Store }

func (s reusableNonce) ConsumeNonce(ctx context.Context, nonce string) error { return nil }

// leakyLease lets anyone take a held lease.
type leakyLease struct{ *memory.Store }

func (s leakyLease) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	return nil
}

// blindDelete ignores the Version a conditional delete names.
type blindDelete struct{ *memory.Store }

func (s blindDelete) DeleteInstallationIf(ctx context.Context, q installstore.Query, _ int64) error {
	return s.Store.DeleteInstallation(ctx, q)
}

// dueEverything lists every record as due, whatever the bound.
type dueEverything struct{ *memory.Store }

func (s dueEverything) ListDue(ctx context.Context, _ time.Time, fn func(installstore.Query, time.Time) error) error {
	return s.Store.ListDue(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), fn)
}

// unpurgedHistory keeps history in a shadow store that deletes never reach.
type unpurgedHistory struct {
	*memory.Store
	shadow *memory.Store
}

func (s unpurgedHistory) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := s.Store.StoreInstallation(ctx, inst); err != nil {
		return err
	}
	return s.shadow.StoreInstallation(ctx, inst.Clone())
}

func (s unpurgedHistory) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	return s.shadow.ListHistory(ctx, q, fn)
}

// sharedTable serves every app from one unscoped store.
type sharedTable struct {
	*memory.Store
	id string
}

func (s sharedTable) ClientID() string { return s.id }

var broken = map[string]func() installstore.FullStore{
	"cross-tenant":   func() installstore.FullStore { return crossTenant{memory.New()} },
	"blind-update":   func() installstore.FullStore { return blindUpdate{memory.New()} },
	"reusable-nonce": func() installstore.FullStore { return reusableNonce{memory.New()} },
	"leaky-lease":    func() installstore.FullStore { return leakyLease{memory.New()} },
	"blind-delete":   func() installstore.FullStore { return blindDelete{memory.New()} },
	"due-everything": func() installstore.FullStore { return dueEverything{memory.New()} },
}

const brokenEnv = "STORETEST_BROKEN_BACKEND"

// TestBrokenBackend runs the suite on the backend named by brokenEnv; it
// only runs when TestSuiteCatchesBrokenBackends re-executes the test binary.
func TestBrokenBackend(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("run by TestSuiteCatchesBrokenBackends")
	}
	switch name {
	case "unpurged-history":
		storetest.RunHistory(t, func(*testing.T) installstore.FullStore {
			return unpurgedHistory{memory.New(memory.WithHistory()), memory.New(memory.WithHistory())}
		})
	case "shared-table":
		tables := map[*testing.T]*memory.Store{}
		storetest.RunApps(t, func(t *testing.T, id string) installstore.FullStore {
			if tables[t] == nil {
				tables[t] = memory.New(memory.WithHistory())
			}
			return sharedTable{tables[t], id}
		})
	default:
		storetest.Run(t, func(*testing.T) installstore.FullStore { return broken[name]() })
	}
}

// TestSuiteCatchesBrokenBackends proves the suite can fail: each broken
// backend makes it fail, in the subtest that covers the broken rule.
func TestSuiteCatchesBrokenBackends(t *testing.T) {
	wantFailing := map[string]string{
		"cross-tenant":     "TestBrokenBackend/FetchMissing",
		"blind-update":     "TestBrokenBackend/UpdateInstallation",
		"reusable-nonce":   "TestBrokenBackend/Nonces",
		"leaky-lease":      "TestBrokenBackend/Leases",
		"blind-delete":     "TestBrokenBackend/ConditionalDelete",
		"due-everything":   "TestBrokenBackend/DueIndex",
		"unpurged-history": "TestBrokenBackend/UninstallPurges",
		"shared-table":     "TestBrokenBackend/RecordsStayWithTheirApp",
	}
	for name, subtest := range wantFailing {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenBackend$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a backend that is %s:\n%s", name, out)
			require.Contains(t, string(out), "--- FAIL: "+subtest, string(out))
		})
	}
}

// TestBehavesAsMemoryCatchesBrokenBackends proves the differential suite can
// fail: it is run, in a child process, over a backend whose conditional
// delete ignores the Version.
func TestBehavesAsMemoryCatchesBrokenBackends(t *testing.T) {
	if os.Getenv(brokenEnv) == "differential" {
		storetest.BehavesAsMemory(t, 4, 80, func(_ *testing.T, now func() time.Time) installstore.FullStore {
			return blindDelete{memory.New(memory.WithClock(now))}
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBehavesAsMemoryCatchesBrokenBackends$", "-test.v")
	cmd.Env = append(os.Environ(), brokenEnv+"=differential")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the differential suite passed a backend whose conditional delete is blind:\n%s", out)
	require.Contains(t, string(out), "delete if", string(out))

	// And it passes memory against itself.
	storetest.BehavesAsMemory(t, 1, 40, func(_ *testing.T, now func() time.Time) installstore.FullStore {
		return memory.New(memory.WithClock(now))
	})
}

// TestHistoryBehavesAsMemoryCatchesBrokenBackends proves the history
// differential can fail: in a child process, over a backend whose deletes
// never reach its history.
func TestHistoryBehavesAsMemoryCatchesBrokenBackends(t *testing.T) {
	if os.Getenv(brokenEnv) == "history-differential" {
		storetest.HistoryBehavesAsMemory(t, 2, 60, func(*testing.T) installstore.FullStore {
			return unpurgedHistory{memory.New(memory.WithHistory()), memory.New(memory.WithHistory())}
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHistoryBehavesAsMemoryCatchesBrokenBackends$", "-test.v")
	cmd.Env = append(os.Environ(), brokenEnv+"=history-differential")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the history differential passed a backend whose deletes keep history:\n%s", out)
	require.Contains(t, string(out), "history of", string(out))

	storetest.HistoryBehavesAsMemory(t, 1, 60, func(*testing.T) installstore.FullStore { return memory.New(memory.WithHistory()) })
}
