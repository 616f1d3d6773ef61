package explore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/heddle-go/heddle/harness"
)

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
func (s StrategySpec) New(v Variant) harness.Strategy {
	switch s.Name {
	case "random":
		return harness.RandomWalk()
	case "pct":
		k := s.Steps
		if k < 1 {
			k = 1000
		}
		st, err := harness.PCT(s.Depth, k)
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
	return harness.RandomWalk()
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
