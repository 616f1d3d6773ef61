// Package heddletest explores a race case from go test: Explore runs each
// variant of an explore.Case as a subtest, re-running the variant's saved
// failures first, and fails the test with the seed, the violation and the
// command that replays it.
//
// Its flags, like rapid's -rapid.*, are registered on the test binary's
// command line when this package is imported, and override Options when
// given:
//
//	go test -race -run TestX -heddle.seed=17 -heddle.trace
//	go test -race -run TestX -heddle.seeds=5000 -heddle.strategy=pct:3
//
// Under -race, a variant that is expected to race runs its seeds in a child
// process (the test binary again, for that subtest only), because the race
// detector would otherwise fail the test for the race it is meant to find.
// A child runs the same test function: code around Explore that asserts
// anything besides Explore's own checks should skip itself when IsChild.
package heddletest

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

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

var flags struct {
	seed     optionalInt64
	seeds    int
	strategy string
	trace    bool
}

func init() {
	flag.Var(&flags.seed, "heddle.seed", "heddle: run only this seed (to replay a failure)")
	flag.IntVar(&flags.seeds, "heddle.seeds", 0, "heddle: seeds to try per variant (0: the variant's budget)")
	flag.StringVar(&flags.strategy, "heddle.strategy", "", "heddle: scheduling strategy: random, pct:D or pct:D:K (default: the variant's own)")
	flag.BoolVar(&flags.trace, "heddle.trace", false, "heddle: print the trace of the failing run (or of -heddle.seed's)")
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

// Options configures Explore. The zero value explores every variant with
// its own budget and strategy, and saves and shrinks failures.
type Options struct {
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
	// Dir is the root of the saved failures; empty means
	// explore.DefaultSavedDir().
	Dir string
	// NoSave keeps new failures out of Dir; NoShrink skips shrinking.
	NoSave, NoShrink bool
	// ShrinkTime bounds shrinking; zero means 30 s.
	ShrinkTime time.Duration
	// AllFindings lets a seed that races run to its end in the child
	// process, so that its other violations (a leak, a deadlock) are
	// reported with the race; by default the race detector ends the child
	// at the race.
	AllFindings bool
}

// childEnv, in a child test process, names the variant it serves as a
// worker (see childJob).
const childEnv = "HEDDLE_EXPLORE_CHILD"

type childJob struct {
	Test    string `json:"test"`
	Case    string `json:"case"`
	Variant string `json:"variant"`
}

// IsChild reports whether this test process is a child that Explore
// started to serve one variant's runs.
func IsChild() bool { return os.Getenv(childEnv) != "" }

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
// bug is found. Under -race its seeds run in a child process. The first
// failure of an expected kind is shrunk and saved, unless a saved failure
// of that kind exists. Without -race, a variant whose only expected kind is
// DataRace is skipped.
func Explore(t *testing.T, c explore.Case, opts Options) {
	t.Helper()
	if flags.seeds > 0 {
		opts.Seeds = flags.seeds
	}
	if flags.strategy != "" {
		opts.Strategy = flags.strategy
	}
	opts.Trace = opts.Trace || flags.trace
	spec, err := explore.ParseStrategy(opts.Strategy)
	if err != nil {
		t.Fatalf("heddle: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("heddle: %v", err)
	}
	child, err := childFromEnv()
	if err != nil {
		t.Fatalf("heddle: %v", err)
	}
	if opts.Variant != "" {
		if _, err := c.Variant(opts.Variant); err != nil {
			t.Fatalf("heddle: %v", err)
		}
	}
	for _, v := range c.Variants {
		if opts.Variant != "" && v.Name != opts.Variant {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			if child != nil {
				serveChild(t, *child, c, v)
				return
			}
			(&variantTest{t: t, c: c, v: v, spec: spec, opts: opts}).run()
		})
	}
}

func childFromEnv() (*childJob, error) {
	env := os.Getenv(childEnv)
	if env == "" {
		return nil, nil
	}
	child := new(childJob)
	if err := json.Unmarshal([]byte(env), child); err != nil {
		return nil, fmt.Errorf("bad %s: %w", childEnv, err)
	}
	return child, nil
}

// serveChild makes this child process the worker of one variant, if the
// subtest is the one it was started for, and leaves the process when the
// parent is done with it.
func serveChild(t *testing.T, job childJob, c explore.Case, v explore.Variant) {
	if t.Name() != job.Test || c.Name != job.Case || v.Name != job.Variant {
		t.SkipNow()
	}
	if err := explore.ServeWorker(v, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stdout, "heddle-worker: error:", err)
		os.Exit(1)
	}
	// Leave before the rest of the test function runs here for nothing.
	os.Exit(0)
}

// variantTest is the exploration of one variant inside its subtest.
type variantTest struct {
	t    *testing.T
	c    explore.Case
	v    explore.Variant
	spec explore.StrategySpec
	opts Options
	// lane runs the sweep's seeds; confirm, when seeds run in a child,
	// reruns one seed without halting at a race.
	lane, confirm explore.Runner
}

func (x *variantTest) run() {
	t, v := x.t, x.v
	if v.ExpectsBug() && !harness.RaceEnabled() && !slices.ContainsFunc(v.Expect, func(k harness.Kind) bool { return k != harness.DataRace }) {
		t.Skipf("heddle: %s/%s is expected to show %v, which needs go test -race", x.c.Name, v.Name, v.Expect)
	}
	x.startRunners()
	x.calibrate()
	cfg, single := x.config()
	ctx := context.Background()
	if x.opts.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, x.opts.Budget)
		defer cancel()
	}
	rep := explore.ExploreVariant(ctx, x.c, v, cfg)
	x.logSaved(rep)
	if x.opts.Trace && (rep.FirstFailingSeed != nil || single) {
		seed := cfg.Seeds[0]
		if rep.FirstFailingSeed != nil {
			seed = *rep.FirstFailingSeed
		}
		x.logTrace(seed)
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

// usesChild reports whether the variant's seeds run in a child process: a
// variant that is expected to race, under -race.
func (x *variantTest) usesChild() bool { return x.v.ExpectsBug() && harness.RaceEnabled() }

func (x *variantTest) childRunner(halt bool) *explore.WorkerRunner {
	r := explore.NewWorkerRunner(childCommand(x.t, x.c, x.v), halt)
	x.t.Cleanup(r.Close)
	return r
}

// startRunners picks where seeds run: in this process, each seed a subtest
// (so that a race fails the subtest of its seed), or in a child.
func (x *variantTest) startRunners() {
	if x.usesChild() {
		x.lane, x.confirm = x.childRunner(!x.opts.AllFindings), x.childRunner(false)
		return
	}
	t, expectsBug := x.t, x.v.ExpectsBug()
	x.lane = &explore.InProcessRunner{Variant: x.v, Wrap: func(s explore.RunSpec, run func() explore.Outcome) bool {
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
}

// calibrate fills in PCT's steps from one run of seed 0.
func (x *variantTest) calibrate() {
	if !x.spec.NeedsCalibration() {
		return
	}
	cal := x.confirm
	if cal == nil {
		cal = &explore.InProcessRunner{Variant: x.v}
	}
	out, err := cal.Do(context.Background(), explore.RunSpec{Seed: 0, Strategy: "random"})
	if err != nil {
		x.t.Fatalf("heddle: calibrating PCT: %v", err)
	}
	x.spec = x.spec.WithSteps(out.Steps)
	x.t.Logf("heddle: PCT calibrated to %s (seed 0 had %d scheduling points)", x.spec, out.Steps)
}

// config makes the exploration's configuration; single is set when
// -heddle.seed asks for one seed.
func (x *variantTest) config() (cfg explore.VariantConfig, single bool) {
	count := x.opts.Seeds
	if count <= 0 {
		count = x.v.Seeds
	}
	if count <= 0 {
		count = 100
	}
	seeds, err := explore.Seeds(x.opts.FirstSeed, count, 1, 1)
	if err != nil {
		x.t.Fatalf("heddle: %v", err)
	}
	name := x.t.Name()
	cfg = explore.VariantConfig{
		Seeds:      seeds,
		Strategy:   x.spec,
		Runners:    []explore.Runner{x.lane},
		Confirm:    x.confirm,
		Save:       !x.opts.NoSave,
		Dir:        x.opts.Dir,
		ShrinkTime: x.opts.ShrinkTime,
		Replay: func(seed int64, st explore.StrategySpec, path string) string {
			return goTestReplay(name, seed, st, path)
		},
	}
	if flags.seed.set {
		cfg.Seeds = []int64{flags.seed.v}
		cfg.Save = false
		return cfg, true
	}
	saved, err := explore.LoadSaved(x.opts.Dir, x.c.Name, x.v.Name)
	if err != nil {
		// A bad file fails the test, naming it; the good ones still run.
		x.t.Errorf("heddle: %v", err)
	}
	cfg.Saved = saved
	if !x.opts.NoShrink {
		cfg.Shrinker = x.shrinker
	}
	return cfg, false
}

// shrinker returns the runner that replays shrinking candidates of a
// failure of kind: a data race needs a process that reports it afresh.
func (x *variantTest) shrinker(kind harness.Kind) explore.Runner {
	switch {
	case x.usesChild():
		return x.confirm
	case kind == harness.DataRace && harness.RaceEnabled():
		return x.childRunner(false)
	case kind == harness.DataRace:
		return nil
	}
	return &explore.InProcessRunner{Variant: x.v}
}

func (x *variantTest) logSaved(rep explore.Report) {
	for _, s := range rep.Saved {
		if s.Skipped != "" {
			x.t.Logf("heddle: saved %s not re-run: %s", s.Path, s.Skipped)
		} else if s.Problem == "" {
			x.t.Logf("heddle: saved %s (seed %d, %s) behaved as expected", s.Path, s.Seed, s.Kind)
		}
	}
}

func (x *variantTest) logTrace(seed int64) {
	tr := explore.Runner(&explore.InProcessRunner{Variant: x.v})
	if x.confirm != nil {
		tr = x.confirm
	}
	out, err := tr.Do(context.Background(), explore.RunSpec{Seed: seed, Strategy: x.spec.String(), Trace: true})
	if err != nil {
		x.t.Logf("heddle: tracing seed %d: %v", seed, err)
		return
	}
	var b strings.Builder
	for _, e := range out.Trace {
		b.WriteString(e.Text)
		b.WriteByte('\n')
	}
	x.t.Logf("heddle: trace of seed %d (%s):\n%s", seed, x.spec, b.String())
}

// describeOutcome renders a run's violations.
func describeOutcome(o explore.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d violation(s)", o.Seed, len(o.Violations))
	for i, v := range o.Violations {
		fmt.Fprintf(&b, "\n[%d] %s: %s", i+1, v.Kind, v.Message)
	}
	return b.String()
}

// describeReport renders a variant's report for a test log.
func describeReport(r explore.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "heddle: %s/%s: %s", r.Case, r.Variant, r.Verdict)
	elapsed := time.Duration(r.Elapsed * float64(time.Second)).Round(time.Millisecond)
	switch {
	case r.FirstFailingSeed != nil:
		fmt.Fprintf(&b, ": %s at seed %d (strategy %s; %d seed(s) tried in %s)", r.Kind, *r.FirstFailingSeed, r.Strategy,
			r.SeedsTried, elapsed)
	default:
		fmt.Fprintf(&b, ": %d seed(s) tried in %s (strategy %s)", r.SeedsTried, elapsed, r.Strategy)
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

// childCommand re-runs this test binary for the test named t.Name() only,
// as a worker for c's variant v.
func childCommand(t *testing.T, c explore.Case, v explore.Variant) explore.WorkerCommand {
	job, err := json.Marshal(childJob{Test: t.Name(), Case: c.Name, Variant: v.Name})
	if err != nil {
		t.Fatalf("heddle: %v", err)
	}
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
func goTestReplay(name string, seed int64, st explore.StrategySpec, savedPath string) string {
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
