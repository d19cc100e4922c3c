// Package benchcpu reports cpu-ns/op in benchmarks: the process's CPU time
// (user and system, every thread, the garbage collector's too) per
// operation. Unlike ns/op it hardly grows when other processes share the
// cores, which makes it the steadier figure on a shared machine.
package benchcpu

import (
	"testing"
	"time"
)

// Start is the process's CPU time when a measured loop began; zero where
// it is not measured.
type Start time.Duration

// Now starts a measurement.
func Now() Start { return Start(processCPU()) }

// Report adds cpu-ns/op for the b.N operations since s, unless the CPU time
// is not measured on this platform.
func (s Start) Report(b *testing.B) {
	if s == 0 || b.N == 0 {
		return
	}
	used := processCPU() - time.Duration(s)
	if used <= 0 {
		return
	}
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
