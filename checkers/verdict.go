// Package checkers turns a finished run into a verdict: the runtime's own
// failures (panics, deadlocks, leaks, step limits, stuck goroutines), data
// races reported by the race detector, linearizability of the histories
// clients recorded (porcupine models for a key-value map, a versioned
// register, a set and a FIFO queue per consumer group), bounded-time
// properties on the virtual clock, and invariants of replicated logs.
//
// Every check returns a []Violation: nil when the property holds, so
// the results of several checks can simply be appended:
//
//	var h harness.History // clients record into it during the run
//	res := harness.Run(opts, workload)
//	var kv checkers.KV[string, string]
//	vs := checkers.FromResult(res)
//	vs = append(vs, kv.Check(h.Operations(), checkers.LinOptions{Dir: reportDir})...)
//	vs = append(vs, checkers.Consecutive("shipped decrees", shipped)...)
//	return res, vs
//
// Judge gathers the same into a Verdict. Run the checks after Run returns,
// not inside the World: porcupine and goleak use ordinary goroutines and
// channels.
package checkers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/heddle-go/heddle/harness"
)

// Violation is one property a run broke, as a checker or the runtime saw it.
type Violation struct {
	// Kind says which property: one of the runtime's kinds (harness.Deadlock,
	// harness.DataRace, ...) or one of this package's (NotLinearizable,
	// Timeliness, Invariant).
	Kind harness.Kind `json:"kind"`
	// Message says what happened, for a person who has to act on it.
	Message string `json:"message"`
	// Visualization is the path of an HTML file that shows the violation,
	// when a checker wrote one: porcupine's view of the partitions of a
	// history that is not linearizable. It travels with the violation (out
	// of a worker process, into a failure page) so that whoever reports the
	// failure can open or embed it without parsing Message.
	Visualization string `json:"visualization,omitempty"`
}

// Violationf returns a violation of kind k with a formatted message.
func Violationf(k harness.Kind, format string, args ...any) Violation {
	return Violation{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// The kinds of violation this package's checks find, beside the runtime's
// own (harness.Deadlock, Leak, Panic, StepLimit, Stuck and DataRace).
const (
	// NotLinearizable: a recorded history has no linearization.
	NotLinearizable harness.Kind = "NotLinearizable"
	// Timeliness: something did not happen within its time bound.
	Timeliness harness.Kind = "Timeliness"
	// Invariant: a safety property of the system's state was broken.
	Invariant harness.Kind = "Invariant"
)

// Kinds lists every kind of violation heddle reports: the runtime's and this
// package's.
var Kinds = []harness.Kind{harness.DataRace, harness.Panic, harness.Deadlock, harness.Leak, NotLinearizable, Timeliness,
	Invariant, harness.StepLimit, harness.Stuck, harness.Diverged}

// Verdict is the judgement of one run: OK, or the violations found.
type Verdict struct {
	Violations []Violation
}

// Judge builds the verdict of a run: the runtime's failures in res (see
// FromResult; res may be nil) followed by the violations of every check.
func Judge(res *harness.Result, checks ...[]Violation) Verdict {
	v := Verdict{Violations: FromResult(res)}
	for _, c := range checks {
		v.Violations = append(v.Violations, c...)
	}
	return v
}

// OK reports whether the run broke nothing.
func (v Verdict) OK() bool { return len(v.Violations) == 0 }

// Has reports whether the verdict holds a violation of kind k.
func (v Verdict) Has(k harness.Kind) bool {
	for _, x := range v.Violations {
		if x.Kind == k {
			return true
		}
	}
	return false
}

// Kinds returns the distinct kinds of the verdict's violations, in order of
// first appearance.
func (v Verdict) Kinds() []harness.Kind {
	var out []harness.Kind
	for _, x := range v.Violations {
		dup := false
		for _, k := range out {
			dup = dup || k == x.Kind
		}
		if !dup {
			out = append(out, x.Kind)
		}
	}
	return out
}

// Err returns nil for an OK verdict and otherwise an error listing every
// violation.
func (v Verdict) Err() error {
	if v.OK() {
		return nil
	}
	return errors.New(v.String())
}

// String renders the verdict for a person: "ok", or one paragraph per
// violation.
func (v Verdict) String() string {
	if v.OK() {
		return "ok"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d violation(s)", len(v.Violations))
	for i, x := range v.Violations {
		fmt.Fprintf(&b, "\n[%d] %s: %s", i+1, x.Kind, x.Message)
	}
	return b.String()
}

// FromResult turns the runtime's own failures in res into violations, each
// with the seed to replay it, what went wrong, the goroutines involved and
// their sites, and a hint at the usual cause. A nil res gives nil.
func FromResult(res *harness.Result) []Violation {
	if res == nil {
		return nil
	}
	var out []Violation
	for _, f := range res.Failures {
		out = append(out, fromFailure(res, f))
	}
	return out
}

func fromFailure(res *harness.Result, f harness.Failure) Violation {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (%s): ", res.Seed, res.Strategy)
	switch f.Kind {
	case harness.Deadlock:
		fmt.Fprintf(&b, "deadlock at virtual time %v, step %d: %s.", f.Time, f.Step, f.Message)
		b.WriteString(" Each goroutine below waits for something only another of them can provide:")
	case harness.Leak:
		fmt.Fprintf(&b, "goroutine leak: %s.", f.Message)
		b.WriteString(" Each goroutine below was still blocked when the run ended; whoever started it must stop it" +
			" (cancel its context, close its channel) and wait for it before returning:")
	case harness.Panic:
		fmt.Fprintf(&b, "panic at virtual time %v, step %d: %s", f.Time, f.Step, f.Message)
	case harness.StepLimit:
		fmt.Fprintf(&b, "step limit at virtual time %v: %s: a livelock (goroutines that keep running without"+
			" progress, a retry loop without backoff) or a workload far longer than Options.MaxSteps allows.", f.Time, f.Message)
	case harness.Diverged:
		fmt.Fprintf(&b, "replay diverged at virtual time %v: %s: the program, or its fault plan, changed since the schedule was recorded;"+
			" find and save the failure again.", f.Time, f.Message)
	case harness.Stuck:
		fmt.Fprintf(&b, "stuck at virtual time %v, step %d: %s.", f.Time, f.Step, f.Message)
		b.WriteString(" Use heddle's primitives (harness.Mutex, Chan, Sleep, Done(ctx)) instead of the standard ones inside a World:")
	default:
		fmt.Fprintf(&b, "%s at virtual time %v, step %d: %s", f.Kind, f.Time, f.Step, f.Message)
	}
	// The runtime trims its own frames from the stack and names the
	// program's panicking frame in Site.
	stack := strings.TrimRight(f.Stack, "\n")
	if f.Kind == harness.Panic && f.Site != "" {
		fmt.Fprintf(&b, " (at %s)", f.Site)
	}
	for _, g := range f.Goroutines {
		if strings.HasPrefix(g.BlockedAt, "runtime/") {
			g.BlockedAt = "" // a panicking goroutine's position in the runtime
		}
		b.WriteString("\n  ")
		b.WriteString(g.String())
	}
	if stack != "" {
		b.WriteString("\n")
		b.WriteString(stack)
	}
	return Violation{Kind: f.Kind, Message: b.String()}
}
