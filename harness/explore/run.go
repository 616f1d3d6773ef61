package explore

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
)

// RunSpec says how to run one seed of a variant.
type RunSpec struct {
	// Seed is the run's seed: the schedule (unless replaying) and every
	// other choice of the run.
	Seed int64 `json:"seed"`
	// Strategy is a StrategySpec string; "" means the variant's own.
	Strategy string `json:"strategy,omitempty"`
	// Replay, when set, follows Schedule instead of the strategy: as far as
	// it applies (harness.Guided, for shrinking candidates), or, with
	// Strict, exactly, failing as harness.Diverged where it no longer fits
	// (harness.Replay, for saved failures).
	Replay   bool  `json:"replay,omitempty"`
	Strict   bool  `json:"strict,omitempty"`
	Schedule []int `json:"schedule,omitempty"`
	// Trace records every event of the run in Outcome.Trace.
	Trace bool `json:"trace,omitempty"`
	// Mode "real" runs with real goroutines; Perturb is then the chance of a
	// yield or short sleep at each primitive call.
	Mode    string  `json:"mode,omitempty"`
	Perturb float64 `json:"perturb,omitempty"`
	// Faults, when set, is the fault plan the run must use instead of the
	// one its seed makes (Variant.Faults), in the notation of
	// faults.ParsePlan: a saved failure's plan, or a candidate of shrinking.
	Faults *string `json:"faults,omitempty"`
	// FailingScheduleOnly leaves Outcome.Schedule empty when the run
	// passed. A sweep needs the schedules of failing runs only, and a
	// schedule is thousands of choices: encoding each in the worker and
	// decoding it in the parent, both built with -race, was close to a
	// third of a sweep's CPU time.
	FailingScheduleOnly bool `json:"failing_schedule_only,omitempty"`
}

// Options returns the harness Options the spec stands for.
func (r RunSpec) Options(v Variant) (harness.Options, error) {
	opts := harness.Options{Seed: r.Seed, Trace: r.Trace}
	switch r.Mode {
	case "", "deterministic":
		if r.Replay {
			opts.Strategy = harness.Guided(r.Seed, r.Schedule)
			if r.Strict {
				opts.Strategy = harness.Replay(r.Seed, r.Schedule)
			}
			break
		}
		spec, err := ParseStrategy(r.Strategy)
		if err != nil {
			return opts, err
		}
		opts.Strategy = spec.New(v)
	case "real":
		opts.Mode = harness.Real
		opts.Perturb = r.Perturb
	default:
		return opts, fmt.Errorf("bad mode %q: want deterministic or real", r.Mode)
	}
	return opts, nil
}

// Outcome is what one run of a variant gave.
type Outcome struct {
	Seed int64 `json:"seed"`
	// Violations found by Check, the runtime's failures it did not report
	// itself, and (added by whoever watched the race detector) DataRace.
	Violations  []checkers.Violation `json:"violations,omitempty"`
	Steps       int                  `json:"steps"`
	Preemptions int                  `json:"preemptions"`
	TraceHash   uint64               `json:"trace_hash"`
	// Schedule is the run's Result.Schedule.
	Schedule []int `json:"schedule,omitempty"`
	// Trace holds the run's events when RunSpec.Trace was set.
	Trace []EventRecord `json:"trace,omitempty"`
	// Strategy names the strategy the run used.
	Strategy string `json:"strategy,omitempty"`
	// Faults is the fault plan the run used, in faults.ParsePlan's
	// notation; nil for a variant without faults.
	Faults *string `json:"faults,omitempty"`
	// Poisoned is set when the run left the process unable to run another
	// World (a Stuck goroutine): the next run needs a fresh process.
	Poisoned bool `json:"poisoned,omitempty"`
	// Wall is the wall-clock time the run took.
	Wall time.Duration `json:"wall_ns"`
	// Incomplete is set when the run's process died during it (the race
	// detector ended it, or it crashed): only Violations are known.
	Incomplete bool `json:"incomplete,omitempty"`
}

// Failed reports whether the run broke anything.
func (o Outcome) Failed() bool { return len(o.Violations) > 0 }

// Kinds returns the distinct violation kinds, in the order found.
func (o Outcome) Kinds() []harness.Kind {
	var ks []harness.Kind
	for _, v := range o.Violations {
		if !slices.Contains(ks, v.Kind) {
			ks = append(ks, v.Kind)
		}
	}
	return ks
}

// Has reports whether the outcome has a violation of any of the kinds.
func (o Outcome) Has(kinds ...harness.Kind) bool {
	for _, v := range o.Violations {
		if slices.Contains(kinds, v.Kind) {
			return true
		}
	}
	return false
}

// RunOnce runs one seed of v in this process. A panic of Check itself
// becomes a Panic violation; a runtime failure that Check did not report is
// added, so that no variant passes a run that deadlocked or leaked. Data
// races are not seen here: the race detector reports them on the process's
// standard error, and whoever runs this process attributes them.
func RunOnce(v Variant, spec RunSpec) (out Outcome) {
	start := time.Now()
	out.Seed = spec.Seed
	defer func() { out.Wall = time.Since(start) }()
	opts, err := spec.Options(v)
	if err != nil {
		out.Violations = []checkers.Violation{{Kind: harness.Panic, Message: err.Error()}}
		return out
	}
	if opts.Strategy != nil {
		out.Strategy = opts.Strategy.String()
	}
	plan, err := v.planOf(spec)
	if err != nil {
		out.Violations = []checkers.Violation{{Kind: harness.Panic, Message: err.Error()}}
		return out
	}
	if v.Faults != nil || spec.Faults != nil {
		text := plan.String()
		out.Faults = &text
	}
	var res *harness.Result
	var vs []checkers.Violation
	func() {
		defer func() {
			if r := recover(); r != nil {
				vs = append(vs, checkers.Violation{Kind: harness.Panic, Message: fmt.Sprintf("Check panicked: %v\n%s", r, debug.Stack())})
			}
		}()
		res, vs = v.Check(opts, plan)
	}()
	out.Violations = append(out.Violations, vs...)
	if res != nil {
		out.Steps = res.Steps
		out.Preemptions = res.Preemptions
		out.TraceHash = res.TraceHash
		if res.Strategy != "" {
			out.Strategy = res.Strategy
		}
		for _, f := range res.Failures {
			// A Stuck run was abandoned with a goroutine still running, or
			// could not start because of one: no World can run here again.
			out.Poisoned = out.Poisoned || f.Kind == harness.Stuck
			if !out.Has(f.Kind) {
				out.Violations = append(out.Violations, checkers.Violation{Kind: f.Kind, Message: f.String()})
			}
		}
		if !spec.FailingScheduleOnly || out.Failed() {
			out.Schedule = res.Schedule
		}
		if spec.Trace {
			out.Trace = EventRecords(res.Trace)
		}
	}
	return out
}

// EventRecord is an Event made portable: its site resolved to file:line, so
// that it can leave the process that ran it.
type EventRecord struct {
	Step int           `json:"step"`
	Time time.Duration `json:"time_ns"`
	G    int           `json:"g"`
	Node string        `json:"node,omitempty"`
	Kind string        `json:"kind"`
	Site string        `json:"site,omitempty"`
	// File is the site's source file with its whole path, so that a report
	// can show the line itself (Site keeps only the last two elements of
	// the path, which do not tell scenarios/mq/mq.go from systems/mq/mq.go).
	File   string `json:"file,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Text is the event as Event.String renders it.
	Text string `json:"text"`
}

// EventRecords converts a trace.
func EventRecords(evs []harness.Event) []EventRecord {
	out := make([]EventRecord, len(evs))
	files := map[uintptr]string{} // a run has few sites and many events
	for i, e := range evs {
		file, ok := files[e.PC]
		if !ok && e.PC != 0 {
			frame, _ := runtime.CallersFrames([]uintptr{e.PC}).Next()
			file = frame.File
			files[e.PC] = file
		}
		out[i] = EventRecord{Step: e.Step, Time: e.Time, G: e.G, Node: e.Node, Kind: e.Kind.String(),
			Site: e.Site(), File: file, Detail: e.Detail, Text: e.String()}
	}
	return out
}
