package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

// list prints the cases, their variants and the bug each carries.
func (a *app) list(args []string) error {
	fs := a.newFlagSet("list", "")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badArgs("list takes no arguments")
	}
	cases := a.cases
	if len(cases) == 0 {
		fmt.Fprintln(a.stdout, "no cases yet")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tVARIANT\tEXPECT\tSEEDS\tBUG")
	for _, c := range cases {
		for i, v := range c.Variants {
			bug := ""
			if i == 0 {
				bug = c.Bug
			}
			expect := "pass"
			if len(v.Expect) > 0 {
				expect = kindList(v.Expect)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", c.Name, v.Name, expect, budget(v), bug)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	for _, c := range cases {
		if c.Summary != "" {
			fmt.Fprintf(a.stdout, "%s: %s\n", c.Name, c.Summary)
		}
	}
	return nil
}

// budget is a variant's default number of seeds.
func budget(v explore.Variant) int {
	if v.Seeds > 0 {
		return v.Seeds
	}
	return 100
}

// runFlags are the flags of run.
type runFlags struct {
	all        bool
	seeds      seedRange
	budget     time.Duration
	strategy   string
	variant    string
	parallel   int
	shard      string
	json       bool
	junit      string
	mode       string
	perturb    float64
	keepGoing  bool
	save       bool
	shrink     bool
	shrinkTime time.Duration
	dir        string
	// html is the directory of the failure pages (--html), "" for none.
	html string
	// allFindings runs workers that finish a racing run (no halt at the
	// race), so that the run's other violations are reported too.
	allFindings bool
	// explorations is --explorations: 0 when not given.
	explorations int
	// cover is --cover: the directory of the coverage data ("" for none).
	cover string
}

// job is one variant of one case to run.
type job struct {
	c explore.Case
	v explore.Variant
}

// register defines run's flags on fs, storing their values in f.
func (f *runFlags) register(fs *flag.FlagSet, defaultParallel int) {
	fs.BoolVar(&f.all, "all", false, "run every registered case")
	fs.Var(&f.seeds, "seeds", "seeds to try: N (0..N-1) or A:B (A..B-1); default: each variant's budget")
	fs.DurationVar(&f.budget, "budget", 0, "wall-time limit per variant (e.g. 30s); 0: none")
	fs.StringVar(&f.strategy, "strategy", "", "scheduling strategy: random, pct:D or pct:D:K (default: each variant's own)")
	fs.StringVar(&f.variant, "variant", "", "run only this variant (e.g. buggy, fixed)")
	fs.IntVar(&f.parallel, "parallel", defaultParallel, "worker processes per variant (default: one per CPU)")
	fs.StringVar(&f.shard, "shard", "1/1", "run shard k of n of the seed space (seeds k-1, k-1+n, ...)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per case and variant instead of the table")
	fs.StringVar(&f.junit, "junit", "", "also write a JUnit XML report to this file")
	fs.StringVar(&f.mode, "mode", "deterministic", "deterministic, or real: real goroutines under perturbation, as a stress loop")
	fs.Float64Var(&f.perturb, "perturb", 0.2, "with --mode real: chance of a yield or short sleep at each primitive call")
	fs.BoolVar(&f.keepGoing, "keep-going", false, "try every seed instead of stopping at the first failure (counts failing seeds)")
	fs.BoolVar(&f.save, "save", false, "save the first failure (shrunk) under --dir, to be re-run first from then on")
	fs.BoolVar(&f.shrink, "shrink", false, "shrink the first failure and report the shrunk schedule")
	fs.DurationVar(&f.shrinkTime, "shrink-time", 30*time.Second, "time limit for shrinking")
	fs.StringVar(&f.dir, "dir", "", "root of saved failures (default: testdata/heddle at the module root)")
	fs.StringVar(&f.html, "html", "", "write an HTML page for every failure reported into this directory (replayed with its trace)")
	fs.BoolVar(&f.allFindings, "all-findings", false, "let a run that races go on to its end and report its other violations too (slower: the race detector does not end the worker)")
	fs.StringVar(&f.cover, "cover", "", "measure statement coverage of each case's system package (systems/<case>) in workers built with -cover, their data under this directory; runs the variants that carry no bug over 200 seeds unless --variant and --seeds say otherwise")
	fs.IntVar(&f.explorations, "explorations", 0, "measure detection: run N independent explorations per variant, each on its own seed range in fresh workers, and report median/min/max seeds and time to detect")
}

// defaultParallel is the --parallel a command starts from: the app's (a
// test's), or one worker per CPU.
func (a *app) defaultParallel() int {
	if a.parallel != 0 {
		return a.parallel
	}
	return runtime.NumCPU()
}

// run is "heddle run": it explores the chosen variants and prints their
// verdicts; the status is non-zero when a variant regressed or input was bad.
func (a *app) run(args []string) (int, error) {
	var f runFlags
	fs := a.newFlagSet("run", "[case...|--all] [flags]")
	f.register(fs, a.defaultParallel())
	names, err := a.parse(fs, args)
	if err != nil {
		return 0, err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	// Validate everything before running anything.
	spec, mode, k, n, err := f.check(names, set["explorations"])
	if err != nil {
		return 0, err
	}
	if f.cover != "" {
		if set["explorations"] {
			return 0, badArgs("--cover measures one sweep per variant: it does not go with --explorations")
		}
		if !f.seeds.set {
			f.seeds = seedRange{count: defaultCoverSeeds, set: true}
		}
	}
	jobs, err := a.jobs(names, f)
	if err != nil || len(jobs) == 0 {
		return exitOK, err
	}
	if !harness.RaceEnabled() {
		fmt.Fprintln(a.stderr, "heddle: WARNING: this binary was built without -race: DataRace cannot be detected. Run it as: go run -race ./cmd/heddle ...")
	}
	if set["explorations"] {
		return a.explore(jobs, spec, mode, f)
	}

	var cov *coverRun
	if f.cover != "" {
		if cov, err = a.prepareCover(jobs, f.cover); err != nil {
			return 0, err
		}
	}
	reports, measured, badInput, err := a.runJobs(jobs, spec, mode, k, n, f, cov)
	if err != nil {
		return 0, err
	}
	status, err := a.finish(reports, f.json, f.junit)
	if err == nil && cov != nil && !f.json {
		err = writeCoverage(a.stdout, measured)
	}
	if err == nil && badInput {
		status = exitBadArgs
	}
	return status, err
}

// runJobs explores each job in turn, writing its page and JSON lines as it
// goes, and returns the reports, the coverage measured (with cov) and
// whether a saved failure file was bad input.
func (a *app) runJobs(jobs []job, spec explore.StrategySpec, mode string, k, n int, f runFlags, cov *coverRun) (reports []explore.Report, measured []coverage, badInput bool, err error) {
	for _, j := range jobs {
		var bin workerBinary
		if cov != nil {
			if bin, err = cov.binaryFor(j); err != nil {
				return nil, nil, false, err
			}
		}
		rep, bad, err := a.exploreOne(j.c, j.v, spec, mode, k, n, f, bin)
		if err != nil {
			return nil, nil, false, err
		}
		badInput = badInput || bad
		reports = append(reports, rep)
		if f.html != "" {
			if _, err := a.writeReportPage(f.html, j.c, j.v, rep); err != nil {
				fmt.Fprintf(a.stderr, "heddle: %s/%s: no page: %v\n", j.c.Name, j.v.Name, err)
			}
		}
		if f.json {
			if err := explore.WriteJSONLines(a.stdout, []explore.Report{rep}); err != nil {
				return nil, nil, false, err
			}
		}
		if cov != nil {
			m, err := cov.measure(j, rep)
			if err != nil {
				return nil, nil, false, err
			}
			measured = append(measured, m)
			if f.json {
				if err := writeJSON(a.stdout, m); err != nil {
					return nil, nil, false, err
				}
			}
		}
	}
	return reports, measured, badInput, nil
}

// check validates the flags of run and returns what they ask for: the
// strategy, the mode ("" or "real") and the shard k of n.
func (f runFlags) check(names []string, explorations bool) (spec explore.StrategySpec, mode string, k, n int, err error) {
	switch {
	case f.all && len(names) > 0:
		return spec, "", 0, 0, badArgs("give case names or --all, not both")
	case f.parallel < 1 || f.parallel > 256:
		return spec, "", 0, 0, badArgs("bad --parallel %d: want 1 to 256", f.parallel)
	case f.budget < 0:
		return spec, "", 0, 0, badArgs("bad --budget %v: must not be negative", f.budget)
	}
	if spec, err = explore.ParseStrategy(f.strategy); err != nil {
		return spec, "", 0, 0, usageError{err.Error()}
	}
	if k, n, err = parseShard(f.shard); err != nil {
		return spec, "", 0, 0, usageError{err.Error()}
	}
	switch f.mode {
	case "deterministic", "":
	case "real":
		mode = "real"
		if f.perturb < 0 || f.perturb > 1 {
			return spec, "", 0, 0, badArgs("bad --perturb %v: want a probability in [0, 1]", f.perturb)
		}
		if f.save || f.shrink || f.html != "" {
			return spec, "", 0, 0, badArgs("--mode real runs do not replay: --save, --shrink and --html need --mode deterministic")
		}
	default:
		return spec, "", 0, 0, badArgs("bad --mode %q: want deterministic or real", f.mode)
	}
	if explorations {
		if err := checkExplorationFlags(f, n); err != nil {
			return spec, "", 0, 0, err
		}
	}
	return spec, mode, k, n, nil
}

// jobs returns the variants run must explore: of the named cases, or of
// every case with --all. With --all and no case known, it says so and
// returns none.
func (a *app) jobs(names []string, f runFlags) ([]job, error) {
	if !f.all && len(names) == 0 {
		return nil, badArgs("name the cases to run, or --all (known cases: %s)", a.known())
	}
	var cases []explore.Case
	if f.all {
		cases = a.cases
		if len(cases) == 0 {
			fmt.Fprintln(a.stdout, "no cases yet")
			return nil, nil
		}
	}
	for _, name := range names {
		c, err := a.lookup(name)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		cases = append(cases, c)
	}
	var jobs []job
	for _, c := range cases {
		vs, err := selectVariants(c, f.variant)
		if err == nil && f.cover != "" && f.variant == "" {
			vs = passingVariants(c)
		}
		if err != nil {
			if f.all {
				continue // --all --variant fixed: the cases that have one
			}
			return nil, err
		}
		for _, v := range vs {
			jobs = append(jobs, job{c, v})
		}
	}
	if len(jobs) == 0 {
		return nil, badArgs("no case has a variant %q", f.variant)
	}
	return jobs, nil
}

// finish prints the table (unless the reports went out as JSON), writes
// the JUnit file, prints a reason per failing variant and returns the exit
// status.
func (a *app) finish(reports []explore.Report, asJSON bool, junit string) (int, error) {
	if !asJSON {
		if err := writeTable(a.stdout, reports); err != nil {
			return 0, err
		}
	}
	if junit != "" {
		fh, err := os.Create(junit)
		if err != nil {
			return 0, err
		}
		werr := writeJUnit(fh, reports)
		if cerr := fh.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return 0, werr
		}
	}
	status := exitOK
	for _, r := range reports {
		for _, s := range r.Saved {
			if s.Skipped != "" {
				fmt.Fprintf(a.stderr, "heddle: %s/%s: saved %s not re-run: %s\n", r.Case, r.Variant, s.Path, s.Skipped)
			}
		}
		for _, note := range r.Notes {
			fmt.Fprintf(a.stderr, "heddle: %s/%s: note: %s\n", r.Case, r.Variant, note)
		}
		if r.SavedPath != "" {
			fmt.Fprintf(a.stderr, "heddle: %s/%s: saved %s\n", r.Case, r.Variant, r.SavedPath)
		}
		if !r.OK {
			status = exitFailed
			fmt.Fprintf(a.stderr, "heddle: %s\n", r.Line())
		}
	}
	return status, nil
}

// known lists the registered case names for an error message.
func (a *app) known() string {
	names := a.names()
	if len(names) == 0 {
		return "none registered yet"
	}
	return strings.Join(names, ", ")
}

// newWorkerRunner returns a runner of c's variant v in worker processes,
// halting at the first race or not, whose race reports become checkers'
// DataRace violations.
func (a *app) newWorkerRunner(c explore.Case, v explore.Variant, halt bool) *explore.WorkerRunner {
	return explore.NewWorkerRunner(a.workerCommand(workerBinary{}, c, v), halt)
}

// workerBinary is a program other than this one that serves as worker (a
// build with coverage, a mutant), with what to add to its environment. The
// zero value is this program.
type workerBinary struct {
	exe string
	env []string
}

// runnerOf is newWorkerRunner for the workers of bin.
func (a *app) runnerOf(bin workerBinary, c explore.Case, v explore.Variant, halt bool) *explore.WorkerRunner {
	return explore.NewWorkerRunner(a.workerCommand(bin, c, v), halt)
}

// workerCommand returns how to start a worker for a variant.
func (a *app) workerCommand(bin workerBinary, c explore.Case, v explore.Variant) explore.WorkerCommand {
	exe := a.exe
	if bin.exe != "" {
		exe = bin.exe
	}
	return func() *exec.Cmd {
		cmd := exec.Command(exe, "worker", c.Name, v.Name)
		cmd.Env = append(os.Environ(), a.workerEnv...)
		cmd.Env = append(cmd.Env, bin.env...)
		if os.Getenv("GOMAXPROCS") == "" {
			// A World runs one goroutine at a time; under -race its
			// handoffs are cheapest when they never cross processors.
			cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
		}
		return cmd
	}
}

// calibrate resolves PCT's step count in a worker that survives races.
func (a *app) calibrate(c explore.Case, v explore.Variant, spec explore.StrategySpec) (explore.StrategySpec, error) {
	if !spec.NeedsCalibration() {
		return spec, nil
	}
	w := a.newWorkerRunner(c, v, false)
	defer w.Close()
	out, err := w.Do(context.Background(), explore.RunSpec{Seed: 0, Strategy: "random"})
	if err != nil {
		return spec, fmt.Errorf("calibrating PCT for %s/%s: %v", c.Name, v.Name, err)
	}
	return spec.WithSteps(out.Steps), nil
}

// replayCommand renders the command that replays a failure.
func replayCommand(c explore.Case, v explore.Variant, seed int64, spec explore.StrategySpec, path string) string {
	cmd := fmt.Sprintf("go run -race ./cmd/heddle replay %s --variant %s", c.Name, v.Name)
	if path != "" {
		return cmd + " --schedule " + path
	}
	cmd += " --seed " + strconv.FormatInt(seed, 10)
	if s := spec.String(); s != "" {
		cmd += " --strategy " + s
	}
	return cmd + " --trace"
}

// seedPlan is the first seed and the number of seeds of one sweep of v:
// --seeds, or the variant's budget from seed 0.
func seedPlan(v explore.Variant, f runFlags) (first int64, count int) {
	if f.seeds.set {
		return f.seeds.first, f.seeds.count
	}
	return 0, budget(v)
}

// exploreOne explores one variant, its workers run from bin (zero: this
// program). badInput reports saved failure files that could not be used:
// each is named on stderr, the good ones are re-run and the exploration
// goes on.
func (a *app) exploreOne(c explore.Case, v explore.Variant, spec explore.StrategySpec, mode string, k, n int, f runFlags, bin workerBinary) (rep explore.Report, badInput bool, err error) {
	first, count := seedPlan(v, f)
	seeds, err := explore.Seeds(first, count, k, n)
	if err != nil {
		return explore.Report{}, false, usageError{err.Error()}
	}
	if mode == "" {
		spec, err = a.calibrate(c, v, spec)
		if err != nil {
			return explore.Report{}, false, err
		}
	}
	saved, err := explore.LoadSaved(f.dir, c.Name, v.Name)
	if err != nil {
		var bad *explore.BadSavedError
		if !errors.As(err, &bad) {
			return explore.Report{}, false, err
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(a.stderr, "heddle run: %s/%s: %s\n", c.Name, v.Name, line)
		}
		badInput = true
	}
	if mode == "real" {
		saved = nil
	}
	sp := sweepPlan{spec: spec, mode: mode, seeds: seeds, saved: saved, label: c.Name + "/" + v.Name, bin: bin}
	if n > 1 {
		sp.shard = fmt.Sprintf("%d/%d", k, n)
	}
	return a.sweep(c, v, sp, f), badInput, nil
}

// sweepPlan is one sweep of a variant: its seeds, strategy (calibrated) and
// mode, the saved failures to re-run first, and how to label it.
type sweepPlan struct {
	spec  explore.StrategySpec
	mode  string
	seeds []int64
	saved []explore.SavedFailure
	// shard is recorded in the report ("k/n"), label names the sweep on
	// the progress line.
	shard, label string
	// bin is the workers' program (zero: this one).
	bin workerBinary
}

// sweep explores v over the plan's seeds in worker processes of its own,
// started for this sweep and ended with it, so that no race reported in
// another sweep's workers can go unreported in this one.
func (a *app) sweep(c explore.Case, v explore.Variant, sp sweepPlan, f runFlags) explore.Report {
	mode := sp.mode
	var runners []explore.Runner
	for i := 0; i < f.parallel; i++ {
		runners = append(runners, a.runnerOf(sp.bin, c, v, !f.allFindings))
	}
	confirm := a.runnerOf(sp.bin, c, v, false)
	defer func() {
		for _, r := range runners {
			r.Close()
		}
		confirm.Close()
	}()
	cfg := explore.VariantConfig{
		Seeds:        sp.seeds,
		Strategy:     sp.spec,
		Mode:         mode,
		Perturb:      f.perturb,
		Runners:      runners,
		Confirm:      confirm,
		Saved:        sp.saved,
		Save:         f.save,
		Dir:          f.dir,
		KeepGoing:    f.keepGoing,
		ShrinkTime:   f.shrinkTime,
		ShrinkAlways: f.shrink,
		Shard:        sp.shard,
		Replay: func(seed int64, st explore.StrategySpec, path string) string {
			if mode == "real" {
				return ""
			}
			return replayCommand(c, v, seed, st, path)
		},
	}
	if f.save || f.shrink {
		cfg.Shrinker = func(harness.Kind) explore.Runner { return confirm }
	}
	p := a.progress(sp.label, len(sp.seeds))
	cfg.Progress = p.update
	ctx := context.Background()
	if f.budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.budget)
		defer cancel()
	}
	rep := explore.ExploreVariant(ctx, c, v, cfg)
	p.done()
	if mode == "real" {
		rep.Replay = ""
	}
	return rep
}

// progress is the progress line of a long sweep, drawn on standard error
// only when it is a terminal.
type progress struct {
	a     *app
	label string
	total int
	start time.Time
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func (a *app) progress(label string, total int) *progress {
	return &progress{a: a, label: label, total: total, start: time.Now()}
}

func (p *progress) update(done int) {
	if !p.a.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond && done < p.total {
		return
	}
	p.last = now
	el := now.Sub(p.start)
	rate := float64(done) / max(el.Seconds(), 1e-9)
	fmt.Fprintf(p.a.stderr, "\r\033[Kheddle: %s: %d/%d seeds, %.0f seeds/s, %s", p.label, done, p.total, rate, el.Round(time.Second))
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.a.stderr, "\r\033[K")
	}
}

// kindList renders kinds separated by commas.
func kindList(kinds []harness.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}
