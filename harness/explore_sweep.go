package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Runner runs one RunSpec of a variant and returns its outcome. An error
// means the run could not be made at all (not that it failed).
// *WorkerRunner runs specs in worker processes; *InProcessRunner in this one.
type Runner interface {
	Do(ctx context.Context, spec RunSpec) (Outcome, error)
	Close()
}

// InProcessRunner runs specs in this process. It cannot see data races
// itself; Wrap, if set, runs each spec inside something that can (go test
// wraps it in a subtest, which the testing package fails when the race
// detector reports during it) and returns whether that failed.
type InProcessRunner struct {
	Variant Variant
	Wrap    func(spec RunSpec, run func() Outcome) (failed bool)
}

// Do runs spec. A wrapped run that failed without any violation of its own
// is a data race the race detector reported during it.
func (r *InProcessRunner) Do(ctx context.Context, spec RunSpec) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	var out Outcome
	if r.Wrap == nil {
		return RunOnce(r.Variant, spec), nil
	}
	failed := r.Wrap(spec, func() Outcome {
		out = RunOnce(r.Variant, spec)
		return out
	})
	if failed && !out.Failed() {
		out.Seed = spec.Seed
		out.Violations = []Violation{{Kind: KindDataRace,
			Message: "the race detector reported a data race during this run (the WARNING: DATA RACE report is in the test output above)"}}
	}
	return out, nil
}

// Close does nothing.
func (r *InProcessRunner) Close() {}

// SweepOptions configures a sweep of seeds.
type SweepOptions struct {
	// Seeds are tried in this order, which should be ascending.
	Seeds []int64
	// Spec is the template of every run; its Seed is replaced.
	Spec RunSpec
	// Runners run the seeds, one lane each: with n runners, lane i tries
	// the seeds at positions i, i+n, i+2n, ...
	Runners []Runner
	// KeepGoing tries every seed instead of stopping at the first failure.
	KeepGoing bool
	// Progress, if set, is called after each run with the number done.
	Progress func(done int)
}

// SweepResult is what a sweep found.
type SweepResult struct {
	// First is the failing outcome with the lowest seed position, or nil.
	First *Outcome
	// Failing counts failing seeds seen (all of them with KeepGoing).
	Failing int
	// Tried counts the runs completed.
	Tried int
	// Elapsed is the sweep's wall time; TimeToDetect the wall time until
	// First was found.
	Elapsed, TimeToDetect time.Duration
	// Interrupted is set when ctx ended the sweep before every seed ran.
	Interrupted bool
	// Err is an infrastructure failure (a worker that would not start).
	Err error
}

// Sweep runs seeds until the first failure (every seed with KeepGoing) or
// until ctx ends. Every seed before the first failing one has been tried
// and passed, even with several lanes.
func Sweep(ctx context.Context, opts SweepOptions) SweepResult {
	var (
		mu       sync.Mutex
		res      SweepResult
		bestPos  = -1
		start    = time.Now()
		wg       sync.WaitGroup
		failures = map[int]bool{}
	)
	n := len(opts.Runners)
	if n == 0 {
		res.Err = errors.New("sweep: no runners")
		return res
	}
	for lane := 0; lane < n; lane++ {
		wg.Add(1)
		go func(runner Runner) {
			defer wg.Done()
			for pos := lane; pos < len(opts.Seeds); pos += n {
				mu.Lock()
				stop := !opts.KeepGoing && bestPos >= 0 && pos > bestPos
				stop = stop || res.Err != nil
				mu.Unlock()
				if stop {
					return
				}
				spec := opts.Spec
				spec.Seed = opts.Seeds[pos]
				out, err := runner.Do(ctx, spec)
				mu.Lock()
				switch {
				case err != nil && ctx.Err() != nil:
					res.Interrupted = true
				case err != nil:
					if res.Err == nil {
						res.Err = err
					}
				default:
					res.Tried++
					if out.Failed() {
						failures[pos] = true
						if bestPos < 0 || pos < bestPos {
							bestPos = pos
							o := out
							res.First = &o
							res.TimeToDetect = time.Since(start)
						}
					}
				}
				done := res.Tried
				mu.Unlock()
				if err != nil {
					return
				}
				if opts.Progress != nil {
					opts.Progress(done)
				}
			}
		}(opts.Runners[lane])
	}
	wg.Wait()
	res.Failing = len(failures)
	res.Elapsed = time.Since(start)
	if res.Tried < len(opts.Seeds) && res.First == nil && ctx.Err() != nil {
		res.Interrupted = true
	}
	return res
}

// Seeds returns count seeds starting at first, keeping those of shard k of
// n (1 <= k <= n): the seeds at positions k-1, k-1+n, k-1+2n, ... so that
// every shard covers the whole range evenly and the shards together cover
// it exactly once.
func Seeds(first int64, count int, k, n int) ([]int64, error) {
	if count < 0 {
		return nil, fmt.Errorf("bad seed count %d", count)
	}
	if n < 1 || k < 1 || k > n {
		return nil, fmt.Errorf("bad shard %d/%d: want k/n with 1 <= k <= n", k, n)
	}
	var out []int64
	for i := k - 1; i < count; i += n {
		out = append(out, first+int64(i))
	}
	return out, nil
}

// VariantConfig is how to explore one variant.
type VariantConfig struct {
	// Seeds to try, in order (see Seeds).
	Seeds []int64
	// Strategy is the sweep's strategy, already calibrated.
	Strategy StrategySpec
	// Mode ("" or "real") and Perturb, for real-goroutine stress loops.
	Mode    string
	Perturb float64
	// Runners are the sweep's lanes.
	Runners []Runner
	// Confirm, if set, reruns the first failing seed when its outcome has
	// no schedule (a worker the race detector ended) to get one. It must
	// not halt at a race.
	Confirm Runner
	// Shrinker, if set, returns the runner for the shrinking candidates of
	// a failure of the given kind (nil: do not shrink).
	Shrinker func(kind string) Runner
	// ShrinkTime bounds shrinking; zero means 30 s. A failure is shrunk
	// when it is saved, when it fails the verdict, or with ShrinkAlways.
	ShrinkTime   time.Duration
	ShrinkAlways bool
	// Saved failures to re-run before the sweep.
	Saved []SavedFailure
	// Save writes the (shrunk) first failure under Dir; SaveAlways writes
	// it even when a saved failure of the same kind exists.
	Save, SaveAlways bool
	Dir              string
	// KeepGoing counts every failing seed instead of stopping at the first.
	KeepGoing bool
	// Replay renders the command that replays a seed, or a saved file.
	Replay func(seed int64, strategy StrategySpec, savedPath string) string
	// Progress, if set, sees the number of seeds done.
	Progress func(done int)
	// Shard is recorded in the report ("k/n").
	Shard string
}

// ExploreVariant re-runs v's saved failures, sweeps its seeds, and, at the
// first failure, confirms, shrinks and saves it as configured. ctx bounds the
// sweep (the wall-time budget); shrinking has its own bound.
func ExploreVariant(ctx context.Context, c Case, v Variant, cfg VariantConfig) Report {
	rep := Report{Case: c.Name, Variant: v.Name, Expect: v.Expect, Strategy: cfg.Strategy.String(),
		Mode: cfg.Mode, Shard: cfg.Shard, SeedsPlanned: len(cfg.Seeds)}
	if rep.Strategy == "" {
		rep.Strategy = "default"
	}
	if rep.Mode == "" {
		rep.Mode = "deterministic"
	}
	replay := cfg.Replay
	if replay == nil {
		replay = func(int64, StrategySpec, string) string { return "" }
	}
	start := time.Now()
	expectsBug := len(v.Expect) > 0

	// Saved failures first: for a buggy variant each must still show its
	// kind; for a fixed one each must pass.
	savedKinds := map[string]bool{}
	for _, s := range cfg.Saved {
		savedKinds[s.Kind] = true
		if len(cfg.Runners) == 0 {
			break
		}
		check := SavedCheck{Path: s.Path, Kind: s.Kind, Seed: s.Seed}
		if expectsBug && s.Kind == KindDataRace && !RaceEnabled() {
			check.Skipped = "a data race cannot be detected without -race"
			rep.Saved = append(rep.Saved, check)
			continue
		}
		out, err := cfg.Runners[0].Do(context.Background(), RunSpec{Seed: s.Seed, Replay: true, Schedule: s.Schedule, Faults: s.Faults})
		switch {
		case err != nil:
			check.Problem = err.Error()
		case expectsBug && !v.shows(out.Violations, s.Kind):
			check.Problem = fmt.Sprintf("no longer shows %s (got %v)", s.Kind, kindsOrNone(out))
		case !expectsBug && out.Failed():
			check.Problem = fmt.Sprintf("fails: %s", out.Violations[0].Kind)
			check.Outcome = &out
		}
		rep.Saved = append(rep.Saved, check)
	}
	for _, s := range rep.Saved {
		if s.Problem == "" {
			continue
		}
		seed := s.Seed
		rep.Verdict, rep.OK = VerdictRegressed, false
		rep.FirstFailingSeed = &seed
		rep.Kind = s.Kind
		rep.Replay = replay(s.Seed, cfg.Strategy, s.Path)
		rep.Reason = fmt.Sprintf("saved schedule %s %s", s.Path, s.Problem)
		if !expectsBug {
			rep.Verdict = VerdictFail
			if s.Outcome != nil {
				rep.Kind = kindOf(v, *s.Outcome)
				rep.Message = messageOf(*s.Outcome, rep.Kind)
			}
			rep.Elapsed = time.Since(start).Seconds()
			return rep // a fixed variant already failing: no need to sweep
		}
		break
	}

	sw := Sweep(ctx, SweepOptions{
		Seeds:     cfg.Seeds,
		Spec:      RunSpec{Strategy: cfg.Strategy.String(), Mode: cfg.Mode, Perturb: cfg.Perturb},
		Runners:   cfg.Runners,
		KeepGoing: cfg.KeepGoing,
		Progress:  cfg.Progress,
	})
	rep.SeedsTried = sw.Tried
	rep.FailingSeeds = sw.Failing
	rep.Interrupted = sw.Interrupted
	if secs := sw.Elapsed.Seconds(); secs > 0 {
		rep.SeedsPerSecond = float64(sw.Tried) / secs
	}
	if sw.Err != nil {
		rep.Verdict, rep.OK = VerdictError, false
		rep.Reason = sw.Err.Error()
		rep.Elapsed = time.Since(start).Seconds()
		return rep
	}
	verd, ok := verdict(v, sw.First)
	if rep.Verdict == "" {
		rep.Verdict, rep.OK = verd, ok
	}
	if sw.First == nil {
		switch {
		case expectsBug && rep.Verdict == VerdictMissed:
			rep.Reason = fmt.Sprintf("expected %v, but %d seed(s) passed", v.Expect, sw.Tried)
			if sw.Interrupted {
				rep.Reason += " before the time budget ran out"
			}
			if !RaceEnabled() && slices.Contains(v.Expect, KindDataRace) {
				rep.Reason += "; this binary was built without -race, so DataRace cannot be detected"
			}
		}
		rep.Elapsed = time.Since(start).Seconds()
		return rep
	}

	first := *sw.First
	seed := first.Seed
	rep.FirstFailingSeed = &seed
	rep.Kind = kindOf(v, first)
	rep.Message = messageOf(first, rep.Kind)
	rep.TimeToDetect = sw.TimeToDetect.Seconds()
	rep.Replay = replay(seed, cfg.Strategy, "")
	if rep.Verdict == verd && !ok {
		rep.Reason = fmt.Sprintf("%s at seed %d", rep.Kind, seed)
		if expectsBug {
			rep.Reason = fmt.Sprintf("expected %v, got %s at seed %d", v.Expect, rep.Kind, seed)
		}
	}

	// Confirm (get a schedule), shrink and save.
	wantSave := cfg.Save && cfg.Mode != "real" && (cfg.SaveAlways || !expectsBug || !savedKinds[rep.Kind])
	wantShrink := cfg.Shrinker != nil && (wantSave || !rep.OK || cfg.ShrinkAlways)
	if cfg.Mode == "real" || (!wantSave && !wantShrink) {
		rep.Elapsed = time.Since(start).Seconds()
		return rep
	}
	spec := RunSpec{Seed: seed, Strategy: cfg.Strategy.String()}
	if len(first.Schedule) == 0 && cfg.Confirm != nil {
		out, err := cfg.Confirm.Do(context.Background(), spec)
		if err == nil {
			if !out.Has(rep.Kind) {
				rep.Notes = append(rep.Notes, fmt.Sprintf("seed %d did not show %s again when rerun: the run is not deterministic", seed, rep.Kind))
			}
			first.Schedule, first.Preemptions = out.Schedule, out.Preemptions
		}
	}
	saved := SavedFailure{Case: c.Name, Variant: v.Name, Seed: seed, Strategy: cfg.Strategy.String(),
		Kind: rep.Kind, Schedule: first.Schedule, Preemptions: first.Preemptions, Message: firstLine(rep.Message)}
	var shrinker Runner
	if wantShrink {
		shrinker = cfg.Shrinker(rep.Kind)
	}
	if shrinker != nil {
		sr, err := Shrink(context.Background(), shrinker, ShrinkOptions{Match: v.Match, ShrinkFaults: v.ShrinkFaults,
			Seed: seed, Kind: rep.Kind, Schedule: first.Schedule, Time: cfg.ShrinkTime})
		if err != nil {
			rep.Notes = append(rep.Notes, "shrinking: "+err.Error())
		} else {
			saved.Schedule, saved.Preemptions, saved.Shrunk = sr.Schedule, sr.Preemptions, true
			rep.Shrunk = &sr
			if sr.Faults != "" {
				saved.Faults = sr.Faults
			}
		}
	}
	if wantSave {
		path, err := saved.Save(cfg.Dir)
		if err != nil {
			rep.Notes = append(rep.Notes, "saving the failure: "+err.Error())
		} else {
			rep.SavedPath = path
		}
	}
	rep.Elapsed = time.Since(start).Seconds()
	return rep
}

func kindsOrNone(o Outcome) any {
	if ks := o.Kinds(); len(ks) > 0 {
		return ks
	}
	return "no violation"
}

// messageOf returns the message of o's first violation of kind.
func messageOf(o Outcome, kind string) string {
	for _, v := range o.Violations {
		if v.Kind == kind {
			return v.Message
		}
	}
	return ""
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
