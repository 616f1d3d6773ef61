// Package explore runs race cases over many seeds and judges them: a Case
// is a system with its workload, fault plan and checks, in Variants (usually
// "buggy", which carries a reported bug and must show it, and "fixed", which
// must pass every seed of its budget). The explorer re-runs a variant's
// saved failures, sweeps its seeds in worker processes, shrinks the first
// failure to its fewest preemptions and fewest faults, saves it under
// testdata/heddle/ and reports a verdict. Package heddletest drives it from
// go test; the heddle command drives it from the command line.
//
// # One run, from `heddle run mq` to its verdict
//
// The heddle command (the parent) looks the case up in scenarios/catalog and,
// for each variant, calls ExploreVariant with a VariantConfig: the seeds of
// the budget, the strategy, and one Runner per lane. Each Runner is a
// WorkerRunner: it starts the heddle binary again as `heddle worker mq
// buggy` (the worker), with GORACE=halt_on_error=1, and keeps it for as long
// as it lives.
//
// ExploreVariant first replays the variant's saved failures
// (SavedFailure, read by LoadSaved), then hands the seeds to Sweep, which
// gives each lane every n-th seed. For each seed the parent writes one
// RunSpec as a JSON line on the worker's standard input.
//
// The worker (ServeWorker) reads the RunSpec, prints "heddle-worker: begin
// SEED", and calls RunOnce: it turns the spec into harness.Options (seed,
// strategy, or the saved schedule to replay), asks the variant for the
// seed's fault plan (Variant.Faults, unless the spec carries one), and calls
// Variant.Check. Check runs the workload in a World (harness.Run) and judges
// it with package checkers: the runtime's own failures (deadlocks, leaks,
// panics), and the case's checks (linearizability, timing bounds,
// invariants). The worker prints "heddle-worker: end " and the Outcome as
// JSON: the violations, the schedule, the trace hash, the plan used.
//
// A data race is not in the Outcome: the race detector prints its report
// on the worker's standard error (the same pipe as its output, so the
// report lands between the begin and end lines of the seed that caused it)
// and, with halt_on_error, ends the worker with exit status 66. The parent
// sees the worker die after "begin SEED", parses the report with
// checkers.ParseRaceReports into DataRace violations of that seed, and
// starts a new worker for the next seed. A new process per race is also
// what lets the same race be attributed again to a later exploration: the
// race detector reports each pair of sites once per process.
//
// Sweep stops at the first failing seed (every seed before it has passed,
// whatever the lanes), and ExploreVariant judges it (verdict): a buggy
// variant is "found" when a violation has an expected kind that
// Variant.Match accepts, "unexpected" for any other violation, "missed"
// when every seed passes; a fixed variant "passes" or "fails". A failure
// that was killed by the race detector has no schedule: a Confirm runner
// (a worker without halt_on_error) reruns the seed to get it. Shrink then
// replays candidates of the schedule with entries removed (and, once the
// schedule is minimal, candidates of the fault plan with steps removed)
// and keeps the one with the fewest preemptions that still shows the same
// violation; the result is saved, and re-run first by every later
// exploration. The Report carries the verdict, the first failing seed, the
// violation and the command that replays it; the heddle command prints
// the table, JSON lines or JUnit.
package explore
