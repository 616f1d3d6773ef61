package catalog

import (
	"testing"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

// BenchmarkFixedSeed runs seeds of every case's fixed variant in this
// process (explore.RunOnce, as a worker runs them): one op is one seed,
// from its fault plan to its checks. Run it with and without -race and
// compare ns/step: the cost of a scheduling step and the code it runs.
func BenchmarkFixedSeed(b *testing.B) {
	for _, c := range All() {
		v, err := c.Variant("fixed")
		if err != nil {
			b.Fatal(err)
		}
		// A seed that livelocks (a case being fixed) ends at a lower step
		// limit, so that one seed does not make the benchmark.
		check := v.Check
		v.Check = func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			opts.MaxSteps = 100_000
			return check(opts, plan)
		}
		b.Run(c.Name, func(b *testing.B) {
			steps, failed := 0, 0
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				out := explore.RunOnce(v, explore.RunSpec{Seed: int64(i)})
				if out.Failed() {
					failed++
				}
				steps += out.Steps
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(failed)/float64(b.N), "failed/seed")
			b.ReportMetric(float64(cpu)/float64(steps), "cpu-ns/step")
			b.ReportMetric(float64(b.N)/(float64(cpu)/1e9), "cpu-seeds/s")
			b.ReportMetric(float64(steps)/float64(b.N), "steps/seed")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps), "ns/step")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
		})
	}
}

// BenchmarkRealSeed runs seeds of every case's fixed variant in real mode:
// the same systems, workloads and checks on Go's own goroutines, with no
// scheduler of heddle's. Its CPU time a seed with -race against without is
// what the race detector costs this code in plain Go, the floor of the
// same ratio for BenchmarkFixedSeed (make bench prints both). Real mode
// sleeps for real (a tenth of the virtual time), so a seed takes a
// fraction of a second of wall time; -benchtime 5x is plenty.
func BenchmarkRealSeed(b *testing.B) {
	for _, c := range All() {
		v, err := c.Variant("fixed")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.Name, func(b *testing.B) {
			failed := 0
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				if out := explore.RunOnce(v, explore.RunSpec{Seed: int64(i), Mode: "real"}); out.Failed() {
					failed++
				}
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(failed)/float64(b.N), "failed/seed")
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/seed")
		})
	}
}
