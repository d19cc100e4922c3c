package benchcpu

import (
	"runtime"
	"testing"
)

func TestProcessCPUGrows(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("not measured here")
	}
	before := processCPU()
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	if after := processCPU(); before == 0 || after <= before {
		t.Fatalf("CPU time did not grow: %v then %v", before, after)
	}
}
