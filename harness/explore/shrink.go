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
	s := &shrinker{ctx: ctx, r: r, opts: opts, deadline: time.Now().Add(opts.Time),
		res: ShrinkResult{Seed: opts.Seed, Kind: opts.Kind}}
	if err := s.reproduce(); err != nil {
		return s.res, err
	}
	if err := s.rounds(); err != nil {
		return s.res, err
	}
	s.finish()
	if opts.Faults == nil || !time.Now().Before(s.deadline) {
		return s.res, nil
	}
	if err := shrinkPlan(ctx, r, opts, &s.res); err != nil {
		return s.res, err
	}
	if *s.res.Faults == *opts.Faults || !time.Now().Before(s.deadline) {
		return s.res, nil
	}
	// With fewer faults the run takes other turns: shrink its schedule
	// again, from the last failing replay's, within what is left of the
	// time.
	again := opts
	again.Faults, again.Schedule, again.Time = s.res.Faults, s.res.Schedule, time.Until(s.deadline)
	again.MaxAttempts = max(opts.MaxAttempts-s.res.Attempts, 1)
	t := &shrinker{ctx: ctx, r: r, opts: again, deadline: s.deadline, res: ShrinkResult{Seed: opts.Seed, Kind: opts.Kind}}
	if t.reproduce() != nil || t.rounds() != nil {
		return s.res, nil // keep the first pass's result
	}
	t.finish()
	t.res.Attempts += s.res.Attempts
	t.res.OriginalPreemptions = s.res.OriginalPreemptions
	return t.res, nil
}

// shrinker is one shrinking of a schedule. The search keeps any candidate
// that still fails as the current one (cur: each has fewer entries set than
// the one before, so a round ends); the answer is the failing candidate
// with the fewest preemptions seen (best, whose run is bestOut).
type shrinker struct {
	ctx      context.Context
	r        Runner
	opts     ShrinkOptions
	deadline time.Time
	res      ShrinkResult // Attempts and OriginalPreemptions as it goes, the rest at the end

	cur     []int
	best    []int
	bestOut Outcome
	stopped bool // the time or attempt bound ran out
}

// try replays a candidate and reports whether it still shows the
// violation. Once a bound runs out it replays nothing and reports false.
func (s *shrinker) try(cand []int) (Outcome, bool, error) {
	if s.res.Attempts >= s.opts.MaxAttempts || time.Now().After(s.deadline) {
		s.stopped = true
		return Outcome{}, false, nil
	}
	s.res.Attempts++
	out, err := s.r.Do(s.ctx, RunSpec{Seed: s.opts.Seed, Replay: true, Schedule: cand, Faults: s.opts.Faults})
	if err != nil {
		return out, false, err
	}
	if out.Incomplete {
		return out, false, fmt.Errorf("a replay did not finish (%v): shrink with a runner whose workers finish racing runs (NewWorkerRunner without halt)", kindsOrNone(out))
	}
	return out, s.opts.survives(out), nil
}

// accept replays a candidate and, when it still fails, makes it the
// current one, and the best if it has no more preemptions.
func (s *shrinker) accept(cand []int) (bool, error) {
	out, ok, err := s.try(cand)
	if err != nil || !ok {
		return false, err
	}
	s.cur = cand
	if out.Preemptions <= s.bestOut.Preemptions {
		s.best, s.bestOut = cand, out
	}
	return true, nil
}

// reproduce replays the failing schedule itself, the first best.
func (s *shrinker) reproduce() error {
	out, ok, err := s.try(s.opts.Schedule)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("replaying the schedule of seed %d does not show %s (got %v)", s.opts.Seed, s.opts.Kind, kindsOrNone(out))
	}
	s.best, s.bestOut = append([]int(nil), s.opts.Schedule...), out
	s.res.OriginalPreemptions = out.Preemptions
	return nil
}

// rounds shrinks until a round brings the preemptions down no further or a
// bound runs out. Each round after the first starts from the best run's
// own schedule (every choice spelled out again, since clearing entries
// changed what follows them).
func (s *shrinker) rounds() error {
	for round := 0; !s.stopped; round++ {
		before := s.bestOut.Preemptions
		s.cur = append([]int(nil), s.bestOut.Schedule...)
		if round == 0 {
			s.cur = append([]int(nil), s.best...)
		}
		if err := shrinkRound(s.cur, func() []int { return s.cur }, s.accept, func() bool { return s.stopped }); err != nil {
			return err
		}
		if s.bestOut.Preemptions >= before {
			return nil
		}
	}
	return nil
}

// finish fills in the result from the best candidate.
func (s *shrinker) finish() {
	s.res.Complete = !s.stopped
	s.res.Choices = s.best
	s.res.Schedule = s.bestOut.Schedule
	s.res.Preemptions = s.bestOut.Preemptions
	for _, g := range s.best {
		if g != noPreference {
			s.res.Kept++
		}
	}
	s.res.Faults = s.opts.Faults
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
			if g != noPreference { // a goroutine, or a decision of the clock
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
				cand[i] = noPreference
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

// noPreference is a schedule entry that takes the choice adding no
// preemption (and the clock's default); harness.ClockFire and ClockWait,
// also negative, are real decisions the shrinker may clear.
const noPreference = -1

// trimDefaults drops trailing noPreference entries, which replay the same
// as none.
func trimDefaults(s []int) []int {
	for len(s) > 0 && s[len(s)-1] == noPreference {
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
