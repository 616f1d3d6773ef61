// Package scenarios is the skeleton every race case is built on. A case
// lives in a package of its own under scenarios/ (mq, metaclient,
// routingtable, replica, duplicator): a workload that drives one system of
// systems/ in a World, a fault plan from package faults, and checks from
// package checkers. This package holds what they share: Run, the state every
// run of a workload has (violations found during the run, client ids, the
// run's clock), and Check, which turns a workload into an explore.Variant's
// Check. Package scenarios/catalog lists the cases.
//
// A case's workload embeds Run:
//
//	type run struct {
//		scenarios.Run
//		cfg Config
//		h   harness.History
//	}
//
//	func (r *run) Main() { ...; r.Violate(checkers.Invariant, "lost %d", id); ...; r.Complete() }
//	func (r *run) Check() []checkers.Violation { return kv.Check(r.h.Operations(), opts) }
//
//	Check: scenarios.Check(func(opts harness.Options, plan faults.Plan) scenarios.Workload {
//		return &run{cfg: cfg}
//	}),
package scenarios

import (
	"fmt"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
)

// Run is the state every run of a workload shares. Embed it in a workload;
// its zero value is ready, and its methods may be called from any goroutine
// of the World.
type Run struct {
	// Mu guards Run's own state. A workload may guard its own fields with it
	// too: one lock for the run's bookkeeping keeps that bookkeeping from
	// adding contention (and scheduling choices) of its own.
	Mu harness.Mutex

	vs       []checkers.Violation
	lastID   int
	complete bool
	// start is set by Execute before Main runs, and only read afterwards.
	start time.Time
}

// Violate records a violation found while the run goes on (a call that
// returned what it must not, a step of the workload that failed).
func (r *Run) Violate(k harness.Kind, format string, args ...any) {
	r.Mu.Lock()
	r.vs = append(r.vs, checkers.Violationf(k, format, args...))
	r.Mu.Unlock()
}

// ClientID returns a new client id, for the histories clients record
// (harness.History.Call): 1, 2, 3, ...
func (r *Run) ClientID() int {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	r.lastID++
	return r.lastID
}

// Start returns when the workload started (Execute sets it before Main
// runs).
func (r *Run) Start() time.Time { return r.start }

// Since returns the time elapsed since the workload started: virtual time
// in a deterministic World.
func (r *Run) Since() time.Duration { return harness.Since(r.start) }

// Complete marks that the workload reached its end. Only a complete run's
// histories are judged by the workload's Check: a run that the runtime cut
// short (a panic, a deadlock) has histories cut short too, and is judged by
// its failures alone. Call it from Main's own goroutine, at its end.
func (r *Run) Complete() { r.complete = true }

// Completed reports, once the run is over, whether Main called Complete.
func (r *Run) Completed() bool { return r.complete }

// Violations returns the violations recorded with Violate so far.
func (r *Run) Violations() []checkers.Violation {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	return append([]checkers.Violation(nil), r.vs...)
}

// run returns the shared state; a Workload gets this method by embedding
// Run.
func (r *Run) run() *Run { return r }

// Workloads live in other packages and get run by embedding Run: this says
// so to the compiler and to linters.
var _ interface{ run() *Run } = (*Run)(nil)

// Workload is one run of a case: Main runs in the World, Check judges the
// run afterwards. Make a new one for every run.
type Workload interface {
	// Main is the World's main goroutine: it starts the system and its
	// clients, injects the fault plan and returns when the workload is done
	// (calling Complete).
	Main()
	// Check judges a complete run once the World has ended: histories,
	// bounds on the virtual clock, invariants. It runs outside the World.
	Check() []checkers.Violation
	run() *Run
}

// Check returns an explore.Variant's Check for a workload: it makes the
// workload for the run's options and fault plan, runs its Main in a World,
// and returns the runtime's failures, the violations recorded during the
// run and, for a complete run without runtime failures, the workload's own
// checks.
func Check(workload func(opts harness.Options, plan faults.Plan) (Workload, error)) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
		w, err := workload(opts, plan)
		if err != nil {
			return &harness.Result{Seed: opts.Seed}, []checkers.Violation{
				checkers.Violationf(checkers.Invariant, "seed %d: the workload cannot run: %v", opts.Seed, err)}
		}
		r := w.run()
		res := Execute(opts, w)
		// Run synchronises with its caller: what the World's goroutines
		// wrote is visible here.
		vs := append(checkers.FromResult(res), r.vs...)
		if r.complete && !res.Failed() {
			vs = append(vs, w.Check()...)
		}
		return res, vs
	}
}

// Execute runs w's Main in a World with opts, its clock started first, and
// returns the run's result; Check uses it, and so can a test that looks at
// a workload's own state after the run.
func Execute(opts harness.Options, w Workload) *harness.Result {
	r := w.run()
	return harness.Run(opts, func() {
		r.start = harness.Now()
		w.Main()
	})
}

// TB is the part of testing.TB that FirstCaught needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// FirstCaught runs check on seeds 0, 1, ... (with the options opts makes for
// a seed; nil: only the seed) until one shows a violation, and returns that
// seed and its verdict. It fails the test if none does within n seeds. The
// cases' "checks have teeth" tests use it to show that a deliberately
// broken workload is caught.
func FirstCaught(t TB, check func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation), plan func(seed int64) faults.Plan, n int, opts func(seed int64) harness.Options) (int64, checkers.Verdict) {
	t.Helper()
	for seed := int64(0); seed < int64(n); seed++ {
		o := harness.Options{Seed: seed}
		if opts != nil {
			o = opts(seed)
		}
		var p faults.Plan
		if plan != nil {
			p = plan(seed)
		}
		if _, vs := check(o, p); len(vs) > 0 {
			return seed, checkers.Verdict{Violations: vs}
		}
	}
	t.Fatalf("went unnoticed for %d seeds", n)
	return 0, checkers.Verdict{}
}

// Lines renders items one per line, indented, for a violation's message:
// the first eight, then how many more there are.
func Lines(items []string) string {
	const most = 8
	var b []byte
	for i, it := range items {
		if i == most {
			b = fmt.Appendf(b, "\n  ... and %d more", len(items)-most)
			break
		}
		b = fmt.Appendf(b, "\n  %s", it)
	}
	return string(b)
}
