package harness

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The explorer runs a Variant's Check over many seeds, stops at the first
// violation, and reports the seed, the violation and a command that replays
// it. Explore (explore_test.go's counterpart for users, in explore_gotest.go)
// drives it from go test; the heddle command drives it from worker processes
// (explore_worker.go), because the race detector reports each distinct race
// once per process and GORACE=halt_on_error=1 ends a process at its first.

// Violation kinds the explorer itself produces or recognises.
const (
	KindDataRace  = "DataRace"
	KindPanic     = "Panic"
	KindDeadlock  = "Deadlock"
	KindLeak      = "Leak"
	KindStepLimit = "StepLimit"
	KindStuck     = "Stuck"
)

// RaceEnabled reports whether the binary was built with -race, that is,
// whether DataRace violations can be detected at all.
func RaceEnabled() bool { return raceEnabled }

// StrategySpec names a scheduling strategy as a command line does:
// "random", "pct:D" (PCT with depth D, steps calibrated from a run of seed
// 0) or "pct:D:K". The zero StrategySpec means the variant's own strategy.
type StrategySpec struct {
	// Name is "", "random" or "pct".
	Name string
	// Depth is PCT's d.
	Depth int
	// Steps is PCT's k; 0 means calibrate (see Calibrate).
	Steps int
}

// ParseStrategy parses "random", "pct:D" or "pct:D:K"; "" and "default"
// give the zero spec (the variant's own strategy).
func ParseStrategy(s string) (StrategySpec, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "default":
		return StrategySpec{}, nil
	case s == "random":
		return StrategySpec{Name: "random"}, nil
	case s == "pct" || strings.HasPrefix(s, "pct:"):
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return StrategySpec{}, fmt.Errorf("bad strategy %q: want pct:DEPTH or pct:DEPTH:STEPS", s)
		}
		d, err := strconv.Atoi(parts[1])
		if err != nil || d < 1 {
			return StrategySpec{}, fmt.Errorf("bad strategy %q: PCT depth must be a whole number >= 1", s)
		}
		spec := StrategySpec{Name: "pct", Depth: d}
		if len(parts) == 3 {
			k, err := strconv.Atoi(parts[2])
			if err != nil || k < 1 {
				return StrategySpec{}, fmt.Errorf("bad strategy %q: PCT steps must be a whole number >= 1", s)
			}
			spec.Steps = k
		}
		return spec, nil
	}
	return StrategySpec{}, fmt.Errorf("bad strategy %q: want random, pct:DEPTH or pct:DEPTH:STEPS", s)
}

// String renders the spec so that ParseStrategy reads it back.
func (s StrategySpec) String() string {
	switch s.Name {
	case "random":
		return "random"
	case "pct":
		if s.Steps > 0 {
			return fmt.Sprintf("pct:%d:%d", s.Depth, s.Steps)
		}
		return fmt.Sprintf("pct:%d", s.Depth)
	}
	return ""
}

// IsDefault reports whether the spec means the variant's own strategy.
func (s StrategySpec) IsDefault() bool { return s.Name == "" }

// NeedsCalibration reports whether the spec is PCT without a step count.
func (s StrategySpec) NeedsCalibration() bool { return s.Name == "pct" && s.Steps == 0 }

// New makes the strategy the spec names for v. A PCT spec without steps uses
// 1,000; resolve it with Calibrate first.
func (s StrategySpec) New(v Variant) Strategy {
	switch s.Name {
	case "random":
		return RandomWalk()
	case "pct":
		k := s.Steps
		if k < 1 {
			k = 1000
		}
		st, err := PCT(s.Depth, k)
		if err != nil {
			panic(err) // ParseStrategy only makes valid specs
		}
		return st
	}
	if v.Strategy != nil {
		if st := v.Strategy(); st != nil {
			return st
		}
	}
	return RandomWalk()
}

// Calibrate fills in PCT's step count from the number of scheduling points
// of one run (seed 0, random walk), as PCT's guarantee asks. It runs the
// variant in this process: call it only where a data race in that run is
// harmless (the heddle command calibrates in a worker process).
func (s StrategySpec) Calibrate(v Variant) StrategySpec {
	if !s.NeedsCalibration() {
		return s
	}
	o := RunOnce(v, RunSpec{Seed: 0, Strategy: "random"})
	return s.WithSteps(o.Steps)
}

// WithSteps returns the spec with PCT's step count set to steps (at least 1).
func (s StrategySpec) WithSteps(steps int) StrategySpec {
	if s.Name == "pct" {
		s.Steps = max(steps, 1)
	}
	return s
}

// RunSpec says how to run one seed of a variant.
type RunSpec struct {
	// Seed is the run's seed: the schedule (unless replaying) and every
	// other choice of the run.
	Seed int64 `json:"seed"`
	// Strategy is a StrategySpec string; "" means the variant's own.
	Strategy string `json:"strategy,omitempty"`
	// Replay, when set, follows Schedule instead of the strategy.
	Replay   bool  `json:"replay,omitempty"`
	Schedule []int `json:"schedule,omitempty"`
	// Trace records every event of the run in Outcome.Trace.
	Trace bool `json:"trace,omitempty"`
	// Mode "real" runs with real goroutines; Perturb is then the chance of a
	// yield or short sleep at each primitive call.
	Mode    string  `json:"mode,omitempty"`
	Perturb float64 `json:"perturb,omitempty"`
	// Faults, when not empty, is the fault plan the run must use instead of
	// the one its seed makes (Options.Faults, Variant.ShrinkFaults).
	Faults string `json:"faults,omitempty"`
}

// Options returns the harness Options the spec stands for.
func (r RunSpec) Options(v Variant) (Options, error) {
	opts := Options{Seed: r.Seed, Trace: r.Trace, Faults: r.Faults}
	switch r.Mode {
	case "", "deterministic":
		if r.Replay {
			opts.Strategy = Guided(r.Seed, r.Schedule)
			break
		}
		spec, err := ParseStrategy(r.Strategy)
		if err != nil {
			return opts, err
		}
		opts.Strategy = spec.New(v)
	case "real":
		opts.Mode = Real
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
	Violations  []Violation `json:"violations,omitempty"`
	Steps       int         `json:"steps"`
	Preemptions int         `json:"preemptions"`
	TraceHash   uint64      `json:"trace_hash"`
	// Schedule is the run's Result.Schedule.
	Schedule []int `json:"schedule,omitempty"`
	// Trace holds the run's events when RunSpec.Trace was set.
	Trace []EventRecord `json:"trace,omitempty"`
	// Strategy names the strategy the run used.
	Strategy string `json:"strategy,omitempty"`
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
func (o Outcome) Kinds() []string {
	var ks []string
	for _, v := range o.Violations {
		if !slices.Contains(ks, v.Kind) {
			ks = append(ks, v.Kind)
		}
	}
	return ks
}

// Has reports whether the outcome has a violation of any of the kinds.
func (o Outcome) Has(kinds ...string) bool {
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
		out.Violations = []Violation{{Kind: KindPanic, Message: err.Error()}}
		return out
	}
	if opts.Strategy != nil {
		out.Strategy = opts.Strategy.String()
	}
	var res *Result
	var vs []Violation
	func() {
		defer func() {
			if r := recover(); r != nil {
				vs = append(vs, Violation{Kind: KindPanic, Message: fmt.Sprintf("Check panicked: %v\n%s", r, debug.Stack())})
			}
		}()
		res, vs = v.Check(opts)
	}()
	out.Violations = append(out.Violations, vs...)
	if res != nil {
		out.Steps = res.Steps
		out.Preemptions = res.Preemptions
		out.TraceHash = res.TraceHash
		out.Schedule = res.Schedule
		if res.Strategy != "" {
			out.Strategy = res.Strategy
		}
		for _, f := range res.Failures {
			kind := f.Kind.String()
			if f.Kind == Stuck {
				out.Poisoned = poisonedProcess()
			}
			if !out.Has(kind) {
				out.Violations = append(out.Violations, Violation{Kind: kind, Message: f.String()})
			}
		}
		if spec.Trace {
			out.Trace = EventRecords(res.Trace)
		}
	}
	return out
}

//go:norace
func poisonedProcess() bool { return poisoned != "" }

// EventRecord is an Event made portable: its site resolved to file:line, so
// that it can leave the process that ran it.
type EventRecord struct {
	Step   int           `json:"step"`
	Time   time.Duration `json:"time_ns"`
	G      int           `json:"g"`
	Node   string        `json:"node,omitempty"`
	Kind   string        `json:"kind"`
	Site   string        `json:"site,omitempty"`
	Detail string        `json:"detail,omitempty"`
	// Text is the event as Event.String renders it.
	Text string `json:"text"`
}

// EventRecords converts a trace.
func EventRecords(evs []Event) []EventRecord {
	out := make([]EventRecord, len(evs))
	for i, e := range evs {
		out[i] = EventRecord{Step: e.Step, Time: e.Time, G: e.G, Node: e.Node, Kind: e.Kind.String(),
			Site: e.Site(), Detail: e.Detail, Text: e.String()}
	}
	return out
}

// verdict judges the first failing outcome of a sweep (nil when every seed
// passed) against the variant's expectation.
func verdict(v Variant, first *Outcome) (verdict string, ok bool) {
	expectsBug := len(v.Expect) > 0
	switch {
	case first == nil && expectsBug:
		return VerdictMissed, false
	case first == nil:
		return VerdictPass, true
	case expectsBug && v.shows(first.Violations, ""):
		return VerdictFound, true
	case expectsBug:
		return VerdictUnexpected, false
	}
	return VerdictFail, false
}

// kindOf picks the violation kind to report for an outcome: an expected one
// if there is one, otherwise the first.
func kindOf(v Variant, o Outcome) string {
	if x, ok := v.FoundIn(o.Violations, ""); ok {
		return x.Kind
	}
	if len(o.Violations) > 0 {
		return o.Violations[0].Kind
	}
	return ""
}
