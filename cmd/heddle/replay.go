package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

// oneSeedFlags are the flags replay and shrink share.
type oneSeedFlags struct {
	variant  string
	seed     optionalSeed
	strategy string
	schedule string
}

// optionalSeed is a seed flag that knows whether it was given.
type optionalSeed struct {
	v   int64
	set bool
}

func (o *optionalSeed) String() string {
	if !o.set {
		return ""
	}
	return fmt.Sprint(o.v)
}

func (o *optionalSeed) Set(s string) error {
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil || fmt.Sprint(v) != s {
		return fmt.Errorf("bad seed %q: want a whole number", s)
	}
	o.v, o.set = v, true
	return nil
}

// target resolves the case, variant and run of replay and shrink.
func (a *app) target(pos []string, f oneSeedFlags) (explore.Case, explore.Variant, explore.RunSpec, explore.StrategySpec, error) {
	var (
		c    explore.Case
		v    explore.Variant
		spec explore.StrategySpec
		run  explore.RunSpec
	)
	if len(pos) != 1 {
		return c, v, run, spec, badArgs("name one case (known cases: %s)", a.known())
	}
	c, err := a.lookup(pos[0])
	if err != nil {
		return c, v, run, spec, usageError{err.Error()}
	}
	var saved explore.SavedFailure
	if f.schedule != "" {
		saved, err = explore.ReadSaved(f.schedule)
		if err != nil {
			return c, v, run, spec, usageError{err.Error()}
		}
		if saved.Case != c.Name {
			return c, v, run, spec, badArgs("%s is a schedule of case %s, not %s", f.schedule, saved.Case, c.Name)
		}
		if f.variant == "" {
			f.variant = saved.Variant
		}
		if f.seed.set && f.seed.v != saved.Seed {
			return c, v, run, spec, badArgs("--seed %d does not match the schedule's seed %d", f.seed.v, saved.Seed)
		}
	}
	switch {
	case f.variant != "":
		if v, err = c.Variant(f.variant); err != nil {
			return c, v, run, spec, usageError{err.Error()}
		}
	case len(c.Variants) == 1:
		v = c.Variants[0]
	default:
		return c, v, run, spec, badArgs("case %s has several variants: choose one with --variant (%s)", c.Name, variantNames(c))
	}
	spec, err = explore.ParseStrategy(f.strategy)
	if err != nil {
		return c, v, run, spec, usageError{err.Error()}
	}
	if f.schedule != "" {
		return c, v, explore.RunSpec{Seed: saved.Seed, Replay: true, Schedule: saved.Schedule, Faults: saved.Faults}, spec, nil
	}
	if !f.seed.set {
		return c, v, run, spec, badArgs("--seed is required (or --schedule FILE)")
	}
	return c, v, explore.RunSpec{Seed: f.seed.v}, spec, nil
}

// replay is "heddle replay": one seed or saved file run again, with its
// trace, Chrome trace or HTML page on request.
func (a *app) replay(args []string) (int, error) {
	var f oneSeedFlags
	var trace bool
	var chrome, mode, html string
	var perturb float64
	fs := a.newFlagSet("replay", "case --variant V --seed N [flags]")
	fs.StringVar(&f.variant, "variant", "", "the variant (buggy, fixed, ...)")
	fs.Var(&f.seed, "seed", "the seed to run")
	fs.StringVar(&f.strategy, "strategy", "", "the strategy the seed ran with: random, pct:D:K (default: the variant's own)")
	fs.StringVar(&f.schedule, "schedule", "", "replay a saved failure file (testdata/heddle/...) instead of a seed")
	fs.BoolVar(&trace, "trace", false, "print the run's trace (step, virtual time, goroutine, event, site)")
	fs.StringVar(&chrome, "chrome", "", "write the trace as Chrome trace-event JSON to this file (open in ui.perfetto.dev)")
	fs.StringVar(&html, "html", "", "write the run as one self-contained HTML page to this file: the goroutines' timeline, the faults, the violation, the source lines")
	fs.StringVar(&mode, "mode", "deterministic", "deterministic, or real (real goroutines: not a replay, one stress run)")
	fs.Float64Var(&perturb, "perturb", 0.2, "with --mode real: perturbation probability")
	pos, err := a.parse(fs, args)
	if err != nil {
		return 0, err
	}
	c, v, run, spec, err := a.target(pos, f)
	if err != nil {
		return 0, err
	}
	switch mode {
	case "deterministic", "":
	case "real":
		run.Mode, run.Perturb = "real", perturb
	default:
		return 0, badArgs("bad --mode %q: want deterministic or real", mode)
	}
	if spec.NeedsCalibration() {
		if spec, err = a.calibrate(c, v, spec); err != nil {
			return 0, err
		}
	}
	run.Strategy = spec.String()
	if html != "" && run.Mode == "real" {
		return 0, badArgs("--html needs a deterministic run: --mode real has no schedule to show")
	}
	run.Trace = trace || chrome != "" || html != ""
	if !harness.RaceEnabled() {
		fmt.Fprintln(a.stderr, "heddle: WARNING: built without -race: DataRace cannot be detected. Run: go run -race ./cmd/heddle replay ...")
	}
	w := a.newWorkerRunner(c, v, false)
	defer w.Close()
	out, err := w.Do(context.Background(), run)
	if err != nil {
		return 0, err
	}
	if trace {
		if err := writeTraceText(a.stdout, out.Trace); err != nil {
			return 0, err
		}
	}
	if chrome != "" {
		if err := writeChromeFile(chrome, out.Trace); err != nil {
			return 0, err
		}
		fmt.Fprintf(a.stderr, "heddle: wrote %s (%d events)\n", chrome, len(out.Trace))
	}
	if html != "" {
		if err := a.writePage(html, c, v, out, replayCommand(c, v, run.Seed, spec, f.schedule)); err != nil {
			return 0, err
		}
	}
	return a.printReplayed(c, v, run, f.schedule, out), nil
}

// printReplayed prints what a replay did (its seed or file, strategy, steps
// and trace hash) and its violations, and returns the exit status.
func (a *app) printReplayed(c explore.Case, v explore.Variant, run explore.RunSpec, schedule string, out explore.Outcome) int {
	what := fmt.Sprintf("seed %d", run.Seed)
	if run.Replay {
		what = fmt.Sprintf("%s (seed %d)", schedule, run.Seed)
	}
	strategy := out.Strategy
	if strategy == "" {
		strategy = "real"
	}
	fmt.Fprintf(a.stdout, "heddle: %s/%s %s, strategy %s: %d step(s), %d preemption(s), trace hash %016x\n",
		c.Name, v.Name, what, strategy, out.Steps, out.Preemptions, out.TraceHash)
	if !out.Failed() {
		fmt.Fprintln(a.stdout, "no violation")
		return exitOK
	}
	fmt.Fprintf(a.stdout, "%d violation(s):\n", len(out.Violations))
	for i, x := range out.Violations {
		fmt.Fprintf(a.stdout, "[%d] %s: %s\n", i+1, x.Kind, x.Message)
	}
	return exitFailed
}

// writeChromeFile writes trace as Chrome trace-event JSON to the file path.
func writeChromeFile(path string, trace []explore.EventRecord) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chrome trace: %w", err)
	}
	werr := writeChromeTrace(fh, trace)
	if cerr := fh.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("chrome trace %s: %w", path, werr)
	}
	return nil
}

func (a *app) shrink(args []string) (int, error) {
	var f oneSeedFlags
	var kindName, dir string
	var limit time.Duration
	var noSave bool
	fs := a.newFlagSet("shrink", "case --variant V --seed N [flags]")
	fs.StringVar(&f.variant, "variant", "", "the variant (buggy, fixed, ...)")
	fs.Var(&f.seed, "seed", "the failing seed")
	fs.StringVar(&f.strategy, "strategy", "", "the strategy the seed ran with: random, pct:D:K (default: the variant's own)")
	fs.StringVar(&f.schedule, "schedule", "", "shrink a saved failure file instead of a seed")
	fs.StringVar(&kindName, "kind", "", "the violation kind to keep (default: an expected kind of the variant, else the first)")
	fs.DurationVar(&limit, "time", 60*time.Second, "time limit")
	fs.StringVar(&dir, "dir", "", "root of saved failures (default: testdata/heddle at the module root)")
	fs.BoolVar(&noSave, "no-save", false, "do not save the shrunk schedule")
	pos, err := a.parse(fs, args)
	if err != nil {
		return 0, err
	}
	kind := harness.Kind(kindName)
	if kind != "" && !slices.Contains(checkers.Kinds, kind) {
		return 0, badArgs("--kind %q: not a violation kind (want one of %s)", kindName, kindList(checkers.Kinds))
	}
	c, v, run, spec, err := a.target(pos, f)
	if err != nil {
		return 0, err
	}
	if spec.NeedsCalibration() {
		if spec, err = a.calibrate(c, v, spec); err != nil {
			return 0, err
		}
	}
	run.Strategy = spec.String()
	w := a.newWorkerRunner(c, v, false)
	defer w.Close()
	out, err := w.Do(context.Background(), run)
	if err != nil {
		return 0, err
	}
	if !out.Failed() {
		fmt.Fprintf(a.stderr, "heddle shrink: %s/%s seed %d passes: nothing to shrink\n", c.Name, v.Name, run.Seed)
		return exitFailed, nil
	}
	if kind == "" {
		kind = out.Violations[0].Kind
		if x, ok := v.FoundIn(out.Violations, ""); ok {
			kind = x.Kind
		}
	} else if !out.Has(kind) {
		fmt.Fprintf(a.stderr, "heddle shrink: %s/%s seed %d shows %v, not %s\n", c.Name, v.Name, run.Seed, out.Kinds(), kind)
		return exitFailed, nil
	}
	start := time.Now()
	sr, err := explore.Shrink(context.Background(), w, explore.ShrinkOptions{Match: v.Match,
		Seed: run.Seed, Kind: kind, Schedule: out.Schedule, Faults: out.Faults, Time: limit})
	if err != nil {
		return 0, err
	}
	complete := ""
	if !sr.Complete {
		complete = " (stopped by the time limit; run again with a longer --time to go further)"
	}
	fmt.Fprintf(a.stdout, "heddle: %s/%s seed %d, %s: %d preemption(s) -> %d; %d of %d choice(s) kept; %d replay(s) in %s%s\n",
		c.Name, v.Name, run.Seed, kind, sr.OriginalPreemptions, sr.Preemptions, sr.Kept, len(out.Schedule), sr.Attempts,
		time.Since(start).Round(time.Millisecond), complete)
	if noSave {
		return exitOK, nil
	}
	saved := explore.SavedFailure{Case: c.Name, Variant: v.Name, Seed: run.Seed, Strategy: spec.String(), Kind: kind,
		Schedule: sr.Schedule, Preemptions: sr.Preemptions, Shrunk: true, Faults: sr.Faults}
	if len(out.Violations) > 0 {
		saved.Message = firstLine(out.Violations[0].Message)
	}
	path, err := saved.Save(dir)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(a.stdout, "saved %s\nreplay: %s\n", path, replayCommand(c, v, run.Seed, spec, path))
	return exitOK, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
