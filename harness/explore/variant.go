package explore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
)

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
	Shrinker func(kind harness.Kind) Runner
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
	x := &exploration{c: c, v: v, cfg: cfg, start: time.Now(), replay: cfg.Replay}
	if x.replay == nil {
		x.replay = func(int64, StrategySpec, string) string { return "" }
	}
	x.rep = Report{Case: c.Name, Variant: v.Name, Expect: v.Expect, Strategy: cfg.Strategy.String(),
		Mode: cfg.Mode, Shard: cfg.Shard, SeedsPlanned: len(cfg.Seeds)}
	if x.rep.Strategy == "" {
		x.rep.Strategy = "default"
	}
	if x.rep.Mode == "" {
		x.rep.Mode = "deterministic"
	}
	if x.rerunSaved() {
		return x.done()
	}
	first, ok := x.sweep(ctx)
	if !ok || first == nil {
		return x.done()
	}
	x.keep(*first)
	return x.done()
}

// exploration is the state of one ExploreVariant call.
type exploration struct {
	c      Case
	v      Variant
	cfg    VariantConfig
	rep    Report
	start  time.Time
	replay func(seed int64, strategy StrategySpec, savedPath string) string
	// savedKinds are the kinds of the variant's saved failures.
	savedKinds map[harness.Kind]bool
}

func (x *exploration) done() Report {
	x.rep.Elapsed = time.Since(x.start).Seconds()
	return x.rep
}

// rerunSaved re-runs the saved failures: for a variant that carries a bug
// each must still show its kind; for a fixed one each must pass. It reports
// whether the exploration is over (a fixed variant already fails).
func (x *exploration) rerunSaved() bool {
	x.savedKinds = map[harness.Kind]bool{}
	for _, s := range x.cfg.Saved {
		x.savedKinds[s.Kind] = true
		if len(x.cfg.Runners) == 0 {
			break
		}
		x.rep.Saved = append(x.rep.Saved, x.rerun(s))
	}
	for _, s := range x.rep.Saved {
		if s.Problem == "" {
			continue
		}
		seed := s.Seed
		x.rep.Verdict, x.rep.OK = VerdictRegressed, false
		x.rep.FirstFailingSeed = &seed
		x.rep.Kind = s.Kind
		x.rep.Replay = x.replay(s.Seed, x.cfg.Strategy, s.Path)
		x.rep.Reason = fmt.Sprintf("saved schedule %s %s", s.Path, s.Problem)
		if x.v.ExpectsBug() {
			return false
		}
		x.rep.Verdict = VerdictFail
		if s.Outcome != nil {
			x.rep.Kind = kindOf(x.v, *s.Outcome)
			x.rep.Message = messageOf(*s.Outcome, x.rep.Kind)
		}
		return true
	}
	return false
}

// rerun replays one saved failure with its schedule and fault plan.
func (x *exploration) rerun(s SavedFailure) SavedCheck {
	check := SavedCheck{Path: s.Path, Kind: s.Kind, Seed: s.Seed}
	if x.v.ExpectsBug() && s.Kind == harness.DataRace && !harness.RaceEnabled() {
		check.Skipped = "a data race cannot be detected without -race"
		return check
	}
	// A runner that does not halt at a race, when there is one: a saved
	// Panic or Leak must show even if the same run also races.
	runner := x.cfg.Runners[0]
	if x.cfg.Confirm != nil {
		runner = x.cfg.Confirm
	}
	out, err := runner.Do(context.Background(), RunSpec{Seed: s.Seed, Replay: true, Strict: true, Schedule: s.Schedule, Faults: s.Faults})
	switch {
	case err != nil:
		check.Problem = err.Error()
	case diverged(out) != "":
		check.Problem = "no longer replays (the program or its faults changed since it was saved; shrink a new failure and delete this file): " + diverged(out)
	case x.v.ExpectsBug() && !x.v.shows(out.Violations, s.Kind):
		check.Problem = fmt.Sprintf("no longer shows %s (got %v)", s.Kind, kindsOrNone(out))
	case !x.v.ExpectsBug() && out.Failed():
		check.Problem = fmt.Sprintf("fails: %s", out.Violations[0].Kind)
		check.Outcome = &out
	}
	return check
}

// diverged returns the message of a replay that left its schedule, or "".
func diverged(o Outcome) string {
	for _, v := range o.Violations {
		if v.Kind == harness.Diverged {
			return firstLine(v.Message)
		}
	}
	return ""
}

// sweep tries the seeds and judges the first failure. It returns that
// failure, and false when the exploration is over without one to keep.
func (x *exploration) sweep(ctx context.Context) (*Outcome, bool) {
	sw := Sweep(ctx, SweepOptions{
		Seeds:     x.cfg.Seeds,
		Spec:      RunSpec{Strategy: x.cfg.Strategy.String(), Mode: x.cfg.Mode, Perturb: x.cfg.Perturb},
		Runners:   x.cfg.Runners,
		KeepGoing: x.cfg.KeepGoing,
		Progress:  x.cfg.Progress,
	})
	rep := &x.rep
	rep.SeedsTried = sw.Tried
	rep.FailingSeeds = sw.Failing
	rep.Interrupted = sw.Interrupted
	if secs := sw.Elapsed.Seconds(); secs > 0 {
		rep.SeedsPerSecond = float64(sw.Tried) / secs
	}
	if sw.Err != nil {
		rep.Verdict, rep.OK = VerdictError, false
		rep.Reason = sw.Err.Error()
		return nil, false
	}
	verd, ok := verdict(x.v, sw.First)
	if rep.Verdict == "" {
		rep.Verdict, rep.OK = verd, ok
	}
	if sw.First == nil {
		if rep.Verdict == VerdictMissed {
			rep.Reason = x.missedReason(sw)
		}
		return nil, false
	}
	first := sw.First
	seed := first.Seed
	rep.FirstFailingSeed = &seed
	rep.Kind = kindOf(x.v, *first)
	rep.Message = messageOf(*first, rep.Kind)
	rep.TimeToDetect = sw.TimeToDetect.Seconds()
	rep.Replay = x.replay(seed, x.cfg.Strategy, "")
	if rep.Verdict == verd && !ok {
		rep.Reason = fmt.Sprintf("%s at seed %d", rep.Kind, seed)
		if x.v.ExpectsBug() {
			rep.Reason = fmt.Sprintf("expected %v, got %s at seed %d", x.v.Expect, rep.Kind, seed)
		}
	}
	return first, true
}

func (x *exploration) missedReason(sw SweepResult) string {
	reason := fmt.Sprintf("expected %v, but %d seed(s) passed", x.v.Expect, sw.Tried)
	if sw.Interrupted {
		reason += " before the time budget ran out"
	}
	if !harness.RaceEnabled() && slices.Contains(x.v.Expect, harness.DataRace) {
		reason += "; this binary was built without -race, so DataRace cannot be detected"
	}
	return reason
}

// keep confirms the first failure (gets its schedule), shrinks it and saves
// it, as configured.
func (x *exploration) keep(first Outcome) {
	cfg, rep := x.cfg, &x.rep
	wantSave := cfg.Save && cfg.Mode != "real" && (cfg.SaveAlways || !x.v.ExpectsBug() || !x.savedKinds[rep.Kind])
	wantShrink := cfg.Shrinker != nil && (wantSave || !rep.OK || cfg.ShrinkAlways)
	if cfg.Mode == "real" || (!wantSave && !wantShrink) {
		return
	}
	seed := first.Seed
	if len(first.Schedule) == 0 && cfg.Confirm != nil {
		out, err := cfg.Confirm.Do(context.Background(), RunSpec{Seed: seed, Strategy: cfg.Strategy.String()})
		if err == nil {
			if !out.Has(rep.Kind) {
				rep.Notes = append(rep.Notes, fmt.Sprintf("seed %d did not show %s again when rerun: the run is not deterministic", seed, rep.Kind))
			}
			first.Schedule, first.Preemptions, first.Faults = out.Schedule, out.Preemptions, out.Faults
		}
	}
	saved := SavedFailure{Case: x.c.Name, Variant: x.v.Name, Seed: seed, Strategy: cfg.Strategy.String(),
		Kind: rep.Kind, Schedule: first.Schedule, Preemptions: first.Preemptions, Faults: first.Faults,
		Message: firstLine(rep.Message)}
	var shrinker Runner
	if wantShrink {
		shrinker = cfg.Shrinker(rep.Kind)
	}
	if shrinker != nil {
		sr, err := Shrink(context.Background(), shrinker, ShrinkOptions{Match: x.v.Match, Seed: seed, Kind: rep.Kind,
			Schedule: first.Schedule, Faults: first.Faults, Time: cfg.ShrinkTime})
		if err != nil {
			rep.Notes = append(rep.Notes, "shrinking: "+err.Error())
		} else {
			saved.Schedule, saved.Preemptions, saved.Shrunk, saved.Faults = sr.Schedule, sr.Preemptions, true, sr.Faults
			rep.Shrunk = &sr
		}
	}
	if !wantSave {
		return
	}
	if rep.Kind == harness.DataRace && shrinker != nil {
		if n := x.replays(shrinker, saved, raceReplays); n < raceReplays {
			rep.Notes = append(rep.Notes, fmt.Sprintf("not saved: its schedule showed the race in %d of %d fresh replays "+
				"(the race detector does not see every race of a schedule in every process); a saved failure must show it every time", n, raceReplays))
			return
		}
	}
	path, err := saved.Save(cfg.Dir)
	if err != nil {
		rep.Notes = append(rep.Notes, "saving the failure: "+err.Error())
		return
	}
	rep.SavedPath = path
}

// raceReplays is how many fresh replays must show a race before its
// schedule is saved.
const raceReplays = 3

// replays replays a failure to be saved n times, strictly, and counts the
// replays that show it. A runner replaces its worker after a run that
// raced, so every replay of a race runs in a fresh process.
func (x *exploration) replays(r Runner, s SavedFailure, n int) int {
	shown := 0
	for range n {
		out, err := r.Do(context.Background(), RunSpec{Seed: s.Seed, Replay: true, Strict: true, Schedule: s.Schedule, Faults: s.Faults})
		if err != nil {
			continue
		}
		if x.v.ExpectsBug() && x.v.shows(out.Violations, s.Kind) || !x.v.ExpectsBug() && out.Has(s.Kind) {
			shown++
		}
	}
	return shown
}

func kindsOrNone(o Outcome) any {
	if ks := o.Kinds(); len(ks) > 0 {
		return ks
	}
	return "no violation"
}

// messageOf returns the message of o's first violation of kind.
func messageOf(o Outcome, kind harness.Kind) string {
	for _, v := range o.Violations {
		if v.Kind == kind {
			return v.Message
		}
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// verdict judges the first failing outcome of a sweep (nil when every seed
// passed) against the variant's expectation.
func verdict(v Variant, first *Outcome) (verdict string, ok bool) {
	switch {
	case first == nil && v.ExpectsBug():
		return VerdictMissed, false
	case first == nil:
		return VerdictPass, true
	case v.ExpectsBug() && v.shows(first.Violations, ""):
		return VerdictFound, true
	case v.ExpectsBug():
		return VerdictUnexpected, false
	}
	return VerdictFail, false
}

// kindOf picks the violation kind to report for an outcome: an expected one
// if there is one, otherwise the first.
func kindOf(v Variant, o Outcome) harness.Kind {
	if x, ok := v.FoundIn(o.Violations, ""); ok {
		return x.Kind
	}
	if len(o.Violations) > 0 {
		return o.Violations[0].Kind
	}
	return ""
}
