package explore

import (
	"context"
	"fmt"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
)

// Shrinking. A failing run is a seed plus its Result.Schedule: the goroutine
// chosen at every scheduling point that had a choice. Replay follows a
// schedule and, where an entry is missing or names a goroutine that cannot
// run, takes the choice that adds no preemption. So the shrinker removes
// entries (truncating the schedule, then setting entries to -1, "no
// preference") and keeps a candidate when its replay still shows the same
// violation kind with no more preemptions than the best so far. What is
// left is the handful of preemptions the bug needs.

// ShrinkOptions configures Shrink.
type ShrinkOptions struct {
	// Seed is the failing run's seed (it still decides everything the
	// schedule does not: select's choices, IntN).
	Seed int64
	// Kind is the violation kind that must survive.
	Kind harness.Kind
	// Match, if set, must also accept the surviving violation (the
	// variant's Match: the same bug, not another of the same kind).
	Match func(checkers.Violation) bool
	// Schedule is the failing run's Result.Schedule.
	Schedule []int
	// Faults is the failing run's fault plan (faults.ParsePlan's notation;
	// nil for a variant without faults). Once the schedule is shrunk, the
	// plan is shrunk too, by dropping steps (faults.Shrink).
	Faults *string
	// Time bounds shrinking; zero means 30 seconds. MaxAttempts bounds the
	// replays; zero means 2,000.
	Time        time.Duration
	MaxAttempts int
}

// ShrinkResult is the smallest failing schedule found.
type ShrinkResult struct {
	Seed int64        `json:"seed"`
	Kind harness.Kind `json:"kind"`
	// Schedule is the shrunk run's own Result.Schedule: replaying it
	// reproduces the shrunk run exactly.
	Schedule []int `json:"schedule"`
	// Choices is the shrunk schedule as the shrinker left it: -1 marks a
	// point where the non-preemptive choice is taken.
	Choices []int `json:"choices"`
	// Preemptions of the shrunk run, and of the original.
	Preemptions         int `json:"preemptions"`
	OriginalPreemptions int `json:"original_preemptions"`
	// Kept counts the entries of Choices that are not -1.
	Kept int `json:"kept"`
	// Attempts counts the replays made.
	Attempts int `json:"attempts"`
	// Complete is false when the time or attempt bound stopped shrinking.
	Complete bool `json:"complete"`
	// Faults is the shrunk fault plan, when the run had one.
	Faults *string `json:"faults,omitempty"`
}

// Shrink replays candidates of a failing schedule through r and returns the
// one with the fewest preemptions that still shows opts.Kind. It fails if
// the schedule itself does not reproduce the kind.
func Shrink(ctx context.Context, r Runner, opts ShrinkOptions) (ShrinkResult, error) {
	if opts.Time <= 0 {
		opts.Time = 30 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 2000
	}
	deadline := time.Now().Add(opts.Time)
	res := ShrinkResult{Seed: opts.Seed, Kind: opts.Kind}
	var (
		best    []int
		bestOut Outcome
		stopped bool
	)
	try := func(cand []int) (Outcome, bool, error) {
		if res.Attempts >= opts.MaxAttempts || time.Now().After(deadline) {
			stopped = true
			return Outcome{}, false, nil
		}
		res.Attempts++
		out, err := r.Do(ctx, RunSpec{Seed: opts.Seed, Replay: true, Schedule: cand, Faults: opts.Faults})
		if err != nil {
			return out, false, err
		}
		if out.Incomplete {
			return out, false, fmt.Errorf("a replay did not finish (%v): shrink with a runner whose workers finish racing runs (NewWorkerRunner without halt)", kindsOrNone(out))
		}
		return out, opts.survives(out), nil
	}
	// The search keeps any candidate that still fails (each has fewer
	// entries set than the one before, so a round ends); the answer is the
	// failing candidate with the fewest preemptions seen.
	var cur []int
	accept := func(cand []int) (bool, error) {
		out, ok, err := try(cand)
		if err != nil || !ok {
			return false, err
		}
		cur = cand
		if out.Preemptions <= bestOut.Preemptions {
			best, bestOut = cand, out
		}
		return true, nil
	}

	out, ok, err := try(opts.Schedule)
	if err != nil {
		return res, err
	}
	if !ok {
		return res, fmt.Errorf("replaying the schedule of seed %d does not show %s (got %v)", opts.Seed, opts.Kind, kindsOrNone(out))
	}
	best, bestOut = append([]int(nil), opts.Schedule...), out
	res.OriginalPreemptions = out.Preemptions

	// Rounds: each starts from the best run's own schedule (every choice
	// spelled out again, since clearing entries changed what follows them)
	// and goes on while the preemptions keep going down.
	for round := 0; !stopped; round++ {
		before := bestOut.Preemptions
		cur = append([]int(nil), bestOut.Schedule...)
		if round == 0 {
			cur = append([]int(nil), best...)
		}
		if err := shrinkRound(cur, func() []int { return cur }, accept, func() bool { return stopped }); err != nil {
			return res, err
		}
		if bestOut.Preemptions >= before {
			break
		}
	}

	res.Complete = !stopped
	res.Choices = best
	res.Schedule = bestOut.Schedule
	res.Preemptions = bestOut.Preemptions
	for _, g := range best {
		if g >= 0 {
			res.Kept++
		}
	}
	res.Faults = opts.Faults
	if opts.Faults != nil && time.Now().Before(deadline) {
		if err := shrinkPlan(ctx, r, opts, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// shrinkRound truncates the schedule to the shortest failing prefix, then
// clears its entries by delta debugging: a chunk at a time, halving the
// chunks when no chunk can go. accept replays a candidate and, when it still
// fails, makes it the current schedule (cur).
func shrinkRound(start []int, cur func() []int, accept func([]int) (bool, error), stopped func() bool) error {
	lo, hi := 0, len(start)
	for lo < hi && !stopped() {
		mid := (lo + hi) / 2
		ok, err := accept(append([]int(nil), cur()[:mid]...))
		if err != nil {
			return err
		}
		if ok {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	n := 2
	for !stopped() {
		var idx []int
		for i, g := range cur() {
			if g >= 0 {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			return nil
		}
		n = min(n, len(idx))
		progress := false
		for c := 0; c < n && !stopped(); c++ {
			lo, hi := c*len(idx)/n, (c+1)*len(idx)/n
			cand := append([]int(nil), cur()...)
			for _, i := range idx[lo:hi] {
				cand[i] = -1
			}
			ok, err := accept(trimDefaults(cand))
			if err != nil {
				return err
			}
			if ok {
				progress = true
				n = max(n-1, 2)
				break
			}
		}
		if progress {
			continue
		}
		if n >= len(idx) {
			return nil
		}
		n = min(2*n, len(idx))
	}
	return nil
}

// trimDefaults drops trailing -1 entries, which replay the same as none.
func trimDefaults(s []int) []int {
	for len(s) > 0 && s[len(s)-1] < 0 {
		s = s[:len(s)-1]
	}
	return s
}

// survives reports whether a candidate run still shows the violation being
// shrunk.
func (o ShrinkOptions) survives(out Outcome) bool {
	for _, x := range out.Violations {
		if x.Kind == o.Kind && (o.Match == nil || o.Match(x)) {
			return true
		}
	}
	return false
}

// shrinkPlan drops the steps of the failing run's fault plan that the
// violation does not need, replaying the shrunk schedule with each
// candidate plan, and keeps the schedule of the last failing replay (a
// replay with fewer faults may take other choices where the schedule no
// longer fits).
func shrinkPlan(ctx context.Context, r Runner, opts ShrinkOptions, res *ShrinkResult) error {
	plan, err := faults.ParsePlan(*opts.Faults)
	if err != nil {
		return fmt.Errorf("shrinking the fault plan: %w", err)
	}
	var lastErr error
	smaller := faults.Shrink(plan, func(p faults.Plan) bool {
		text := p.String()
		out, err := r.Do(ctx, RunSpec{Seed: opts.Seed, Replay: true, Schedule: res.Schedule, Faults: &text})
		res.Attempts++
		if err != nil {
			lastErr = err
			return false
		}
		if !opts.survives(out) {
			return false
		}
		res.Schedule, res.Preemptions = out.Schedule, out.Preemptions
		return true
	})
	if lastErr != nil && len(smaller) == len(plan) {
		return fmt.Errorf("shrinking the fault plan: %w", lastErr)
	}
	text := smaller.String()
	res.Faults = &text
	return nil
}
