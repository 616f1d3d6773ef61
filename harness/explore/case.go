package explore

import (
	"fmt"
	"slices"
	"strings"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
)

// Case is a race case: a system, its workload, faults and checks, run from a
// seed. The packages under scenarios/ make them; the explorer, heddletest and
// the heddle command run them.
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
	Expect []harness.Kind
	// Match, if set, tells a violation of an expected kind that is this
	// variant's bug from one that is not (a data race between two other
	// lines, a timeliness violation of another property): only a matching
	// violation counts as finding the bug. Nil means any violation of an
	// expected kind counts.
	Match func(checkers.Violation) bool
	// Seeds is the exploration budget: how many seeds to try.
	Seeds int
	// Strategy makes the scheduling strategy for a run; nil means RandomWalk.
	Strategy func() harness.Strategy
	// Faults makes the fault plan of a seed: the same seed, the same plan.
	// Nil means the variant injects no faults. The explorer passes the plan
	// to Check, saves it with a failing schedule, replays a saved failure
	// with the saved plan and shrinks a failing plan by dropping steps.
	Faults func(seed int64) faults.Plan
	// Check runs one seed. It calls harness.Run with opts (the explorer has
	// set the seed, strategy, mode and trace), injects plan, and returns the
	// run's result and every violation found, the runtime's own failures
	// included. Data races are found by the race detector, outside Check,
	// and added by the explorer.
	Check func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation)
}

// Finds reports whether x is this variant's bug: a violation of an
// expected kind that Match accepts.
func (v Variant) Finds(x checkers.Violation) bool {
	return slices.Contains(v.Expect, x.Kind) && (v.Match == nil || v.Match(x))
}

// FoundIn returns the first of violations that is this variant's bug, and
// whether there is one; kind, if not empty, restricts the search to that
// kind.
func (v Variant) FoundIn(violations []checkers.Violation, kind harness.Kind) (checkers.Violation, bool) {
	for _, x := range violations {
		if (kind == "" || x.Kind == kind) && v.Finds(x) {
			return x, true
		}
	}
	return checkers.Violation{}, false
}

func (v Variant) shows(violations []checkers.Violation, kind harness.Kind) bool {
	_, ok := v.FoundIn(violations, kind)
	return ok
}

// ExpectsBug reports whether the variant carries a bug that exploring it
// must find (Expect is not empty).
func (v Variant) ExpectsBug() bool { return len(v.Expect) > 0 }

// planOf returns the fault plan a run of v uses: the given one when the
// spec carries one, else the seed's own.
func (v Variant) planOf(spec RunSpec) (faults.Plan, error) {
	if spec.Faults != nil {
		p, err := faults.ParsePlan(*spec.Faults)
		if err != nil {
			return nil, fmt.Errorf("fault plan %q: %w", *spec.Faults, err)
		}
		return p, nil
	}
	if v.Faults == nil {
		return nil, nil
	}
	return v.Faults(spec.Seed), nil
}

// Variant returns the named variant, or an error that names the variants
// the case has.
func (c Case) Variant(name string) (Variant, error) {
	var names []string
	for _, v := range c.Variants {
		if v.Name == name {
			return v, nil
		}
		names = append(names, v.Name)
	}
	return Variant{}, fmt.Errorf("case %s has no variant %q (it has %s)", c.Name, name, strings.Join(names, ", "))
}

// Validate reports what makes c unusable: no name, a name with a space or
// slash, no variants, a variant without a name or a Check, two variants of
// one name.
func (c Case) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("case without a name")
	case strings.ContainsAny(c.Name, " /\\\t\n"):
		return fmt.Errorf("case name %q has a space or slash", c.Name)
	case len(c.Variants) == 0:
		return fmt.Errorf("case %s has no variants", c.Name)
	}
	seen := map[string]bool{}
	for _, v := range c.Variants {
		if v.Name == "" || v.Check == nil {
			return fmt.Errorf("case %s has a variant without a name or a Check", c.Name)
		}
		if seen[v.Name] {
			return fmt.Errorf("case %s has two variants named %q", c.Name, v.Name)
		}
		seen[v.Name] = true
	}
	return nil
}
