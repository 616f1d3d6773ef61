// Package driver is `heddle test`: it runs the unmodified tests of a Go
// module's packages under heddle's deterministic scheduler, each Test
// function once per seed, and reports every failing seed with the command
// that replays it.
//
// # From packages to seeds
//
// Test lists the packages the patterns match with their dependencies (go
// list -deps -test), and rewrites the main module's packages among them
// (package rewrite, with Config.Tests): the tested packages with their test
// files, and every package of the module they import. The standard library
// and other modules are built as they are. The rewritten files go into a
// cache (Options.CacheDir), keyed by a hash of everything the rewrite
// depends on, so that a second run of unchanged code rewrites nothing; they
// reach the build through go test -overlay, which also overlays go.mod and
// go.sum when the module does not require heddle (a require and a replace of
// heddle's directory). The user's files are never written, except the failing
// schedules kept under each package's testdata/heddle/ (Options.Save).
//
// Each package is a job: its test binary is built once (go test -c
// -overlay), and each of its Test functions runs in a child process of that
// binary, with a Spec (package gotest) that says which seeds to run. The
// rewritten test runs its body once per seed as the main goroutine of a
// World, a subtest per seed (TestX/seed=17), and reports each run on the
// child's standard error: begin, end with the failures and the schedule.
// A test stops at its first failing seed unless Options.KeepGoing. Saved
// failing schedules of the package run first (harness.Guided).
//
// Data races are attributed to their seed by the runtime (the race
// detector's count of reports grows during the run), and by testing, which
// fails the subtest. The race detector reports a pair of sites once per
// process: after a data race (and after a Stuck run, which leaves the
// process unable to run another World) a child ends its sweep, and with
// KeepGoing the parent starts a new one from the next seed. A child that
// dies during a run (a crash, the -timeout of go test) fails that run with
// what it printed.
package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/heddle-go/heddle/harness/gotest"
)

// Options configures one heddle test.
type Options struct {
	// Dir is the directory the patterns are relative to ("" is the
	// current directory); Patterns are go test's package patterns
	// (none: ".").
	Dir      string
	Patterns []string
	// First and Count are the seeds of each test's sweep: First to
	// First+Count-1 (Count 0: 100).
	First int64
	Count int
	// Shard and Shards run only the seeds s with s % Shards == Shard-1.
	Shard, Shards int
	// Strategy is "random" (the default), "pct:D" or "pct:D:K".
	Strategy string
	// KeepGoing runs every seed instead of stopping a test at its first
	// failing one: each test's failing fraction.
	KeepGoing bool
	// Run and Skip are go test's -run and -skip.
	Run, Skip string
	// Race builds with the race detector; Tags are go test's -tags.
	Race bool
	Tags string
	// Verbose is go test's -v: every run's output, as it happens.
	Verbose bool
	// Count of go test (-count): how many times each test's sweep runs.
	TestCount int
	// Timeout bounds each child process, as go test's -timeout bounds a
	// test binary (0: 10 minutes).
	Timeout time.Duration
	// MaxSteps and Watchdog are harness.Options' for every run.
	MaxSteps int
	Watchdog time.Duration
	// JSON prints a JSON object per failing run, per test and per package
	// instead of text.
	JSON bool
	// HTML is a directory that receives a failure page (harness/timeline)
	// per failing run; runs then keep their trace.
	HTML string
	// Save keeps each failing schedule under its package's
	// testdata/heddle/, where later runs re-run it first.
	Save bool
	// Parallel is how many packages run at once (0: GOMAXPROCS; 1 with
	// Verbose).
	Parallel int
	// CacheDir holds the rewritten files ("": the user cache directory's
	// heddle/test).
	CacheDir string
	// HeddleDir is heddle's module directory, for a module that does not
	// require heddle ("": found, see Test).
	HeddleDir string
	// Command is how the replay commands start ("": "go tool heddle" when
	// the module has heddle as a tool, "heddle" otherwise).
	Command string
	// Env is the environment of the go command and the tests (nil: this
	// process's).
	Env []string
	// Stdout receives the report; Stderr progress and notes.
	Stdout, Stderr io.Writer
}

// Summary is what a heddle test found.
type Summary struct {
	Packages []PackageResult
	// CacheHit is set when the rewrite came from the cache; Rewritten
	// counts the rewritten files.
	CacheHit  bool
	Rewritten int
	// Key is the cache key of the rewrite.
	Key string
}

// Failed reports whether a package failed to build or a test failed.
func (s *Summary) Failed() bool {
	for _, p := range s.Packages {
		if p.Failed() {
			return true
		}
	}
	return false
}

// PackageResult is one tested package.
type PackageResult struct {
	ImportPath, Dir string
	// BuildError is the build's output when the test binary did not build.
	BuildError string
	Tests      []TestResult
	Elapsed    time.Duration
}

// Failed reports whether the package failed to build or a test failed.
func (p *PackageResult) Failed() bool {
	if p.BuildError != "" {
		return true
	}
	for _, t := range p.Tests {
		if t.Failed > 0 {
			return true
		}
	}
	return false
}

// TestResult is one Test function's sweep.
type TestResult struct {
	Package, Test string
	// Runs counts the runs (saved schedules, calibration and seeds);
	// Failed those that failed, listed in Failures. Seeds and FailedSeeds
	// count the seeds of the sweep alone: FailedSeeds/Seeds is the
	// failing fraction.
	Runs, Failed       int
	Seeds, FailedSeeds int
	Failures           []Failure
	// Skipped is set when the test skipped itself.
	Skipped bool
	// Strategy is the sweep's strategy with PCT's steps once calibrated.
	Strategy string
	Elapsed  time.Duration
}

// Failure is one failing run.
type Failure struct {
	Package, Test string
	// Run is the subtest's name (seed=17, calibrate, saved=FILE).
	Run      string
	Seed     int64
	Strategy string
	// Kinds lists the kinds found, the runtime's first (Deadlock, Leak,
	// Panic, DataRace, StepLimit, Stuck, Diverged), then TestFailed.
	Kinds    []string
	Failures []gotest.Failure
	// Output is what the run printed: the test's log and the race
	// detector's reports.
	Output string
	// Crashed is set when the test process died during the run.
	Crashed bool
	// Schedule, Steps, Preemptions and TraceHash: the run's.
	Schedule           []int
	Steps, Preemptions int
	TraceHash          uint64
	Trace              []gotest.Event
	// FromSaved is the saved schedule the run re-ran.
	FromSaved string
	// Replay is the command that runs this seed again; Saved where its
	// schedule was kept; Page its HTML page.
	Replay, Saved, Page string
}

// Kind is the failure's main kind.
func (f *Failure) Kind() string {
	if len(f.Kinds) == 0 {
		return "?"
	}
	return f.Kinds[0]
}

// usageError is bad input: heddle test exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is bad input (flags, patterns, a module
// heddle test cannot work with, code it cannot rewrite): exit status 2.
func IsUsage(err error) bool {
	var u *usageError
	var r *rewriteError
	return errors.As(err, &u) || errors.As(err, &r)
}

// Test runs heddle test.
func Test(ctx context.Context, opts Options) (*Summary, error) {
	d, err := newDriver(opts)
	if err != nil {
		return nil, err
	}
	return d.run(ctx)
}

type driver struct {
	opts       Options
	dir        string
	env        []string
	mod        *module
	out        io.Writer
	errw       io.Writer
	outMu      sync.Mutex
	runElems   []string // -run split at its slashes
	skipElems  []string
	topRun     *regexp.Regexp
	topSkip    *regexp.Regexp
	relCommand string
}

func newDriver(opts Options) (*driver, error) {
	if opts.Count == 0 {
		opts.Count = 100
	}
	if opts.Count < 0 {
		return nil, usageErrorf("-seeds: the number of seeds must be positive")
	}
	if opts.Strategy == "" {
		opts.Strategy = "random"
	}
	if _, _, _, err := gotest.ParseStrategy(opts.Strategy); err != nil {
		return nil, usageErrorf("-strategy: %v", err)
	}
	if opts.Shards < 0 || opts.Shards > 0 && (opts.Shard < 1 || opts.Shard > opts.Shards) {
		return nil, usageErrorf("-shard %d/%d: want k/n with 1 <= k <= n", opts.Shard, opts.Shards)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}
	if len(opts.Patterns) == 0 {
		opts.Patterns = []string{"."}
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	d := &driver{opts: opts, out: opts.Stdout, errw: opts.Stderr, env: opts.Env}
	if d.env == nil {
		d.env = os.Environ()
	}
	var err error
	if d.dir, err = filepath.Abs(opts.Dir); err != nil {
		return nil, fmt.Errorf("heddle test: %w", err)
	}
	if opts.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("heddle test: no cache directory (set -cache): %w", err)
		}
		d.opts.CacheDir = filepath.Join(base, "heddle", "test")
	}
	if d.runElems, d.topRun, err = splitPattern("-run", opts.Run); err != nil {
		return nil, err
	}
	if d.skipElems, d.topSkip, err = splitPattern("-skip", opts.Skip); err != nil {
		return nil, err
	}
	if d.opts.Parallel <= 0 {
		d.opts.Parallel = runtime.GOMAXPROCS(0)
	}
	if d.opts.Verbose {
		d.opts.Parallel = 1
	}
	return d, nil
}

// splitPattern splits a -run or -skip pattern at its slashes, as testing
// does, and compiles its first element (nil for an empty pattern).
func splitPattern(flag, pattern string) ([]string, *regexp.Regexp, error) {
	if pattern == "" {
		return nil, nil, nil
	}
	elems := splitRegexp(pattern)
	for _, e := range elems {
		if _, err := regexp.Compile(e); err != nil {
			return nil, nil, usageErrorf("%s %q: %v", flag, pattern, err)
		}
	}
	re, _ := regexp.Compile(elems[0])
	return elems, re, nil
}

// splitRegexp splits a pattern at the slashes outside brackets and
// parentheses, as go test's -run does.
func splitRegexp(s string) []string {
	var out []string
	depth, cs := 0, 0
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			cs++
		case ']':
			if cs > 0 {
				cs--
			}
		case '(':
			if cs == 0 {
				depth++
			}
		case ')':
			if cs == 0 && depth > 0 {
				depth--
			}
		case '\\':
			i++
		case '/':
			if depth == 0 && cs == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// selected reports whether a top-level test runs under -run and -skip.
func (d *driver) selected(name string) bool {
	if d.topRun != nil && !d.topRun.MatchString(name) {
		return false
	}
	if d.topSkip != nil && len(d.skipElems) == 1 && d.topSkip.MatchString(name) {
		return false
	}
	return true
}

// childFilters returns the child's -test.run and -test.skip for test name:
// the test, any seed, then the subtests the user's patterns name.
func (d *driver) childFilters(name string) (run, skip string) {
	run = "^" + regexp.QuoteMeta(name) + "$"
	if len(d.runElems) > 1 {
		run += "//" + strings.Join(d.runElems[1:], "/")
	}
	if len(d.skipElems) > 1 && d.topSkip.MatchString(name) {
		skip = "^" + regexp.QuoteMeta(name) + "$//" + strings.Join(d.skipElems[1:], "/")
	}
	return run, skip
}

func (d *driver) notef(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(d.errw, format+"\n", args...)
}
