package harness

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Explore from go test. Its flags, like rapid's -rapid.*, are registered on
// the standard command line and override ExploreOptions when given:
//
//	go test -race -run TestX -heddle.seed=17 -heddle.trace
//	go test -race -run TestX -heddle.seeds=5000 -heddle.strategy=pct:3
var exploreFlags struct {
	seed     optionalInt64
	seeds    int
	strategy string
	trace    bool
}

func init() {
	flag.Var(&exploreFlags.seed, "heddle.seed", "heddle: run only this seed (to replay a failure)")
	flag.IntVar(&exploreFlags.seeds, "heddle.seeds", 0, "heddle: seeds to try per variant (0: the variant's budget)")
	flag.StringVar(&exploreFlags.strategy, "heddle.strategy", "", "heddle: scheduling strategy: random, pct:D or pct:D:K (default: the variant's own)")
	flag.BoolVar(&exploreFlags.trace, "heddle.trace", false, "heddle: print the trace of the failing run (or of -heddle.seed's)")
}

// optionalInt64 is a flag.Value that knows whether it was set.
type optionalInt64 struct {
	v   int64
	set bool
}

func (o *optionalInt64) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatInt(o.v, 10)
}

func (o *optionalInt64) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not a seed: %q", s)
	}
	o.v, o.set = v, true
	return nil
}

// ExploreOptions configures Explore. The zero value explores every variant
// with its own budget and strategy, saves and shrinks failures.
type ExploreOptions struct {
	// Variant, if set, explores only that variant.
	Variant string
	// Seeds is how many seeds to try per variant; zero means the variant's
	// Seeds, or 100. FirstSeed is the first of them.
	Seeds     int
	FirstSeed int64
	// Strategy is random, pct:D or pct:D:K; empty means the variant's own.
	Strategy string
	// Budget bounds each variant's sweep in wall time; zero means none.
	Budget time.Duration
	// Trace logs the trace of the first failing run.
	Trace bool
	// Dir is the root of the saved failures; empty means DefaultSavedDir().
	Dir string
	// NoSave keeps new failures out of Dir; NoShrink skips shrinking.
	NoSave, NoShrink bool
	// ShrinkTime bounds shrinking; zero means 30 s.
	ShrinkTime time.Duration
	// ParseRaces turns race reports into violations (for example
	// checkers.ParseRaceReports); nil keeps each report as printed.
	ParseRaces func(output string) []Violation
}

// childEnv, in a child test process, names the variant it serves as a
// worker (see exploreChildJob).
const childEnv = "HEDDLE_EXPLORE_CHILD"

type exploreChildJob struct {
	Test    string `json:"test"`
	Case    string `json:"case"`
	Variant string `json:"variant"`
}

// Explore runs c's variants in a go test, one subtest per variant. It first
// re-runs the variant's saved failures (testdata/heddle/<case>/<variant>/),
// then tries seeds until the first violation.
//
// A variant without Expect (a fixed one, or any code under test) must pass
// every seed: each seed runs as a subtest, so that a race the race detector
// reports fails the subtest of the seed that caused it; the first failure
// fails the test with the violation, the seed and a command that replays it,
// and is shrunk and saved so that it is re-run first from then on.
//
// A variant with Expect carries a known bug, and the test passes when the
// bug is found. Under -race its seeds run in a child process (this test
// binary, re-run for this subtest only), because the race detector would
// otherwise fail this test for a race it is meant to find. The first
// failure of an expected kind is shrunk and saved, unless a saved failure
// of that kind exists. Without -race, a variant whose only expected kind is
// DataRace is skipped.
func Explore(t *testing.T, c Case, opts ExploreOptions) {
	t.Helper()
	if exploreFlags.seeds > 0 {
		opts.Seeds = exploreFlags.seeds
	}
	if exploreFlags.strategy != "" {
		opts.Strategy = exploreFlags.strategy
	}
	opts.Trace = opts.Trace || exploreFlags.trace
	spec, err := ParseStrategy(opts.Strategy)
	if err != nil {
		t.Fatalf("heddle: %v", err)
	}
	var child *exploreChildJob
	if env := os.Getenv(childEnv); env != "" {
		child = new(exploreChildJob)
		if err := json.Unmarshal([]byte(env), child); err != nil {
			t.Fatalf("heddle: bad %s: %v", childEnv, err)
		}
	}
	found := false
	for _, v := range c.Variants {
		if opts.Variant != "" && v.Name != opts.Variant {
			continue
		}
		found = true
		t.Run(v.Name, func(t *testing.T) {
			if child != nil {
				if t.Name() != child.Test || c.Name != child.Case || v.Name != child.Variant {
					t.SkipNow()
				}
				if err := ServeWorker(v, os.Stdin, os.Stdout); err != nil {
					fmt.Fprintln(os.Stdout, "heddle-worker: error:", err)
					os.Exit(1)
				}
				// The parent is done with this child: leave before the
				// rest of the test function runs here for nothing.
				os.Exit(0)
			}
			exploreVariantTest(t, c, v, spec, opts)
		})
	}
	if !found {
		var names []string
		for _, v := range c.Variants {
			names = append(names, v.Name)
		}
		t.Fatalf("heddle: case %s has no variant %q (it has %s)", c.Name, opts.Variant, strings.Join(names, ", "))
	}
}

func exploreVariantTest(t *testing.T, c Case, v Variant, spec StrategySpec, opts ExploreOptions) {
	expectsBug := len(v.Expect) > 0
	if expectsBug && !RaceEnabled() && !slices.ContainsFunc(v.Expect, func(k string) bool { return k != KindDataRace }) {
		t.Skipf("heddle: %s/%s is expected to show %v, which needs go test -race", c.Name, v.Name, v.Expect)
	}
	useChild := expectsBug && RaceEnabled()
	childRunner := func(halt bool) *WorkerRunner {
		r := NewWorkerRunner(childCommand(t, c, v), halt)
		r.ParseRaces = opts.ParseRaces
		return r
	}
	inProcess := &InProcessRunner{Variant: v, Wrap: func(s RunSpec, run func() Outcome) bool {
		name := fmt.Sprintf("seed=%d", s.Seed)
		if s.Replay {
			name = "saved/" + name
		}
		return !t.Run(name, func(t *testing.T) {
			if out := run(); out.Failed() && !expectsBug {
				t.Errorf("%s", describeOutcome(out))
			}
		})
	}}
	var lane, confirm Runner = inProcess, nil
	if useChild {
		w := childRunner(true)
		defer w.Close()
		cw := childRunner(false)
		defer cw.Close()
		lane, confirm = w, cw
	}

	// Calibrate PCT's steps from one run of seed 0.
	if spec.NeedsCalibration() {
		cal := confirm
		if cal == nil {
			cal = &InProcessRunner{Variant: v}
		}
		out, err := cal.Do(context.Background(), RunSpec{Seed: 0, Strategy: "random"})
		if err != nil {
			t.Fatalf("heddle: calibrating PCT: %v", err)
		}
		spec = spec.WithSteps(out.Steps)
		t.Logf("heddle: PCT calibrated to %s (seed 0 had %d scheduling points)", spec, out.Steps)
	}

	count := opts.Seeds
	if count <= 0 {
		count = v.Seeds
	}
	if count <= 0 {
		count = 100
	}
	seeds, _ := Seeds(opts.FirstSeed, count, 1, 1)
	cfg := VariantConfig{
		Seeds:      seeds,
		Strategy:   spec,
		Runners:    []Runner{lane},
		Confirm:    confirm,
		Save:       !opts.NoSave,
		Dir:        opts.Dir,
		ShrinkTime: opts.ShrinkTime,
		Replay: func(seed int64, st StrategySpec, path string) string {
			return goTestReplay(t.Name(), seed, st, path)
		},
	}
	single := exploreFlags.seed.set
	if single {
		cfg.Seeds = []int64{exploreFlags.seed.v}
		cfg.Save = false
	} else {
		saved, err := LoadSaved(opts.Dir, c.Name, v.Name)
		if err != nil {
			t.Fatalf("heddle: reading saved failures: %v", err)
		}
		cfg.Saved = saved
		if !opts.NoShrink {
			cfg.Shrinker = func(kind string) Runner {
				switch {
				case useChild:
					return confirm
				case kind == KindDataRace && RaceEnabled():
					w := childRunner(false)
					t.Cleanup(w.Close)
					return w
				case kind == KindDataRace:
					return nil
				}
				return &InProcessRunner{Variant: v}
			}
		}
	}
	ctx := context.Background()
	if opts.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Budget)
		defer cancel()
	}
	rep := ExploreVariant(ctx, c, v, cfg)

	for _, s := range rep.Saved {
		if s.Skipped != "" {
			t.Logf("heddle: saved %s not re-run: %s", s.Path, s.Skipped)
		} else if s.Problem == "" {
			t.Logf("heddle: saved %s (seed %d, %s) behaved as expected", s.Path, s.Seed, s.Kind)
		}
	}
	if opts.Trace && (rep.FirstFailingSeed != nil || single) {
		seed := cfg.Seeds[0]
		if rep.FirstFailingSeed != nil {
			seed = *rep.FirstFailingSeed
		}
		tr := Runner(&InProcessRunner{Variant: v})
		if confirm != nil {
			tr = confirm
		}
		if out, err := tr.Do(context.Background(), RunSpec{Seed: seed, Strategy: spec.String(), Trace: true}); err == nil {
			var b strings.Builder
			WriteTraceText(&b, out.Trace)
			t.Logf("heddle: trace of seed %d (%s):\n%s", seed, spec, b.String())
		}
	}
	for _, n := range rep.Notes {
		t.Logf("heddle: %s", n)
	}
	msg := describeReport(rep)
	if rep.OK {
		t.Log(msg)
	} else {
		t.Error(msg)
	}
}

// describeOutcome renders a run's violations.
func describeOutcome(o Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d violation(s)", o.Seed, len(o.Violations))
	for i, v := range o.Violations {
		fmt.Fprintf(&b, "\n[%d] %s: %s", i+1, v.Kind, v.Message)
	}
	return b.String()
}

// describeReport renders a variant's report for a test log.
func describeReport(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "heddle: %s/%s: %s", r.Case, r.Variant, r.Verdict)
	switch {
	case r.FirstFailingSeed != nil:
		fmt.Fprintf(&b, ": %s at seed %d (strategy %s; %d seed(s) tried in %s)", r.Kind, *r.FirstFailingSeed, r.Strategy,
			r.SeedsTried, roundDuration(r.Elapsed))
	default:
		fmt.Fprintf(&b, ": %d seed(s) tried in %s (strategy %s)", r.SeedsTried, roundDuration(r.Elapsed), r.Strategy)
	}
	if r.Reason != "" && !r.OK {
		fmt.Fprintf(&b, "\nreason: %s", r.Reason)
	}
	if r.Shrunk != nil {
		fmt.Fprintf(&b, "\nshrunk: %d preemption(s), from %d (%d replays)", r.Shrunk.Preemptions, r.Shrunk.OriginalPreemptions, r.Shrunk.Attempts)
	}
	if r.SavedPath != "" {
		fmt.Fprintf(&b, "\nsaved: %s (re-run first from now on)", r.SavedPath)
	}
	if r.Replay != "" {
		fmt.Fprintf(&b, "\nreplay: %s", r.Replay)
	}
	if r.Message != "" && !r.OK {
		fmt.Fprintf(&b, "\n%s", r.Message)
	}
	return b.String()
}

// IsExploreChild reports whether this test process is a child that Explore
// started to serve one variant's runs. Such a child runs the same test
// function, so code around Explore in a test runs there too: a test that
// asserts anything besides Explore's own checks should skip that code when
// IsExploreChild.
func IsExploreChild() bool { return os.Getenv(childEnv) != "" }

// childCommand re-runs this test binary for the test named t.Name() only,
// as a worker for c's variant v.
func childCommand(t *testing.T, c Case, v Variant) WorkerCommand {
	job, _ := json.Marshal(exploreChildJob{Test: t.Name(), Case: c.Name, Variant: v.Name})
	pattern := runPattern(t.Name())
	return func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.count=1", "-test.timeout=0")
		cmd.Env = append(os.Environ(), childEnv+"="+string(job))
		return cmd
	}
}

// runPattern makes a -test.run pattern that matches exactly the test name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// goTestReplay is the go test command that replays a seed of the variant
// whose subtest is name.
func goTestReplay(name string, seed int64, st StrategySpec, savedPath string) string {
	cmd := "go test -race -run '" + runPattern(name) + "'"
	if savedPath != "" {
		return cmd + " (re-runs " + savedPath + ")"
	}
	cmd += " -heddle.seed=" + strconv.FormatInt(seed, 10)
	if s := st.String(); s != "" {
		cmd += " -heddle.strategy=" + s
	}
	return cmd + " -heddle.trace"
}
