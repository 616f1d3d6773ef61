package harness

import "slices"

// Violation is one property a run broke, as a checker or the runtime saw it.
type Violation struct {
	// Kind is one of DataRace, Panic, Deadlock, Leak, NotLinearizable,
	// Timeliness, Invariant, StepLimit, Stuck (see package checkers).
	Kind string
	// Message says what happened, for a person who has to act on it.
	Message string
}

// Case is a race case: a system, its workload, faults and checks, run from a
// seed. Package scenarios registers them; the explorer and the heddle command
// run them.
type Case struct {
	// Name identifies the case on the command line (metaclient, replica, ...).
	Name string
	// Bug names the upstream report and fix the case carries.
	Bug string
	// Summary says in one line what goes wrong.
	Summary string
	// Variants are the implementations to run, usually "buggy" and "fixed".
	Variants []Variant
}

// Variant is one implementation of a case's system.
type Variant struct {
	// Name is "buggy" or "fixed".
	Name string
	// Expect lists, for a variant that carries the bug, the violation kinds
	// that count as finding it. Empty means every seed must pass.
	Expect []string
	// Match, if set, tells a violation of an expected kind that is this
	// variant's bug from one that is not (a data race between two other
	// lines, a timeliness violation of another property): only a matching
	// violation counts as finding the bug. Nil means any violation of an
	// expected kind counts.
	Match func(Violation) bool
	// ShrinkFaults, if set, shrinks the fault plan of a failing run once
	// its schedule is shrunk; nil means fault plans are not shrunk.
	ShrinkFaults FaultShrinker
	// Seeds is the exploration budget: how many seeds to try.
	Seeds int
	// Strategy makes the scheduling strategy for a run; nil means RandomWalk.
	Strategy func() Strategy
	// Check runs one seed. It calls Run with opts (the explorer has set the
	// seed, strategy, mode and trace) and returns the run's result and every
	// violation found, the runtime's own failures included. Data races are
	// found by the race detector, outside Check, and added by the explorer.
	Check func(opts Options) (*Result, []Violation)
}

// FaultShrinker shrinks a failing run's fault plan. plan is the run's plan
// in the case's notation ("" for the one its seed makes); reproduces(c)
// replays the shrunk schedule with plan c (passed to Check as
// Options.Faults) and reports whether the violation still shows. It returns
// the shortest plan found, which is saved with the schedule.
type FaultShrinker func(seed int64, plan string, reproduces func(candidate string) bool) (string, error)

// Finds reports whether x is this variant's bug: a violation of an
// expected kind that Match accepts.
func (v Variant) Finds(x Violation) bool {
	return slices.Contains(v.Expect, x.Kind) && (v.Match == nil || v.Match(x))
}

// FoundIn returns the first violation of outcome violations that is this
// variant's bug, and whether there is one; kind, if not empty, restricts the
// search to that kind.
func (v Variant) FoundIn(violations []Violation, kind string) (Violation, bool) {
	for _, x := range violations {
		if (kind == "" || x.Kind == kind) && v.Finds(x) {
			return x, true
		}
	}
	return Violation{}, false
}

func (v Variant) shows(violations []Violation, kind string) bool {
	_, ok := v.FoundIn(violations, kind)
	return ok
}

// Variant returns the named variant and whether the case has it.
func (c Case) Variant(name string) (Variant, bool) {
	for _, v := range c.Variants {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}
