package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/heddle-go/heddle/harness/gotest/driver"
)

const testSynopsis = "[flags] [packages]"

const testHelp = `Test runs the unmodified tests of the named packages (default ".") of a Go
module under heddle's deterministic scheduler: each Test function once per
seed, its body the main goroutine of a World. The main module's packages the
tests need are rewritten onto heddle's runtime (go statements, channels,
select, sync, sync/atomic, time, context) and built through go test -overlay:
the module's files are never written, except each failing schedule, kept
under its package's testdata/heddle/ and re-run first next time.

    go get -tool github.com/heddle-go/heddle/cmd/heddle
    go tool heddle test -race -seeds 1000 ./...
    go tool heddle test -race -run '^TestTransfer$' -seeds 17:18 -strategy random ./bank

A failing seed prints the test, the kind (DataRace, Deadlock, Leak, Panic,
TestFailed, StepLimit, Stuck), the seed, the strategy and the command that
replays it. Exit status: 0 when every test passed every seed, 1 when one
failed (or a package did not build), 2 for bad input.
`

// test runs heddle test.
func (a *app) test(args []string) (int, error) {
	fs := a.newFlagSet("test", testSynopsis)
	var seeds seedRange
	fs.Var(&seeds, "seeds", "seeds of each test: N (0..N-1) or A:B (A..B-1) (default 100)")
	strategy := fs.String("strategy", "random", "scheduling strategy: random, pct:DEPTH or pct:DEPTH:STEPS")
	shard := fs.String("shard", "", "run only every n-th seed, from the k-th: k/n")
	keepGoing := fs.Bool("keep-going", false, "run every seed of a test instead of stopping at its first failing one (failing fractions)")
	jsonOut := fs.Bool("json", false, "print a JSON object per failing run, test, package and the summary")
	html := fs.String("html", "", "write a failure page (HTML timeline) per failing run into this directory")
	save := fs.Bool("save", true, "keep failing schedules under each package's testdata/heddle/")
	run := fs.String("run", "", "go test -run: run only the tests (and subtests) the pattern matches")
	skip := fs.String("skip", "", "go test -skip: do not run the tests (and subtests) the pattern matches")
	race := fs.Bool("race", false, "go test -race: build with the race detector (data races are failures)")
	verbose := fs.Bool("v", false, "go test -v: print every run's output as it happens")
	count := fs.Int("count", 1, "go test -count: run each test's sweep this many times")
	timeout := fs.Duration("timeout", 10*time.Minute, "go test -timeout: bound each test's process")
	tags := fs.String("tags", "", "go test -tags: build tags")
	parallel := fs.Int("p", 0, "packages tested at once (default: the number of CPUs; 1 with -v)")
	cache := fs.String("cache", "", "directory of the rewrite cache (default: the user cache directory's heddle/test)")
	heddleDir := fs.String("heddle", "", "heddle's module directory, for a module that does not require heddle (default: found)")
	watchdog := fs.Duration("watchdog", 0, "how long a goroutine may run or block outside heddle before its run fails as Stuck (default 10s)")
	maxSteps := fs.Int("max-steps", 0, "scheduling points after which a run fails as StepLimit (default 1,000,000)")
	pkgs, err := a.parse(fs, args)
	if err == errHelp {
		fmt.Fprint(a.stdout, "\n"+testHelp)
		return exitOK, err
	}
	if err != nil {
		return exitBadArgs, err
	}
	opts := driver.Options{
		Patterns: pkgs, Strategy: *strategy, KeepGoing: *keepGoing, JSON: *jsonOut, HTML: *html, Save: *save,
		Run: *run, Skip: *skip, Race: *race, Verbose: *verbose, TestCount: *count, Timeout: *timeout, Tags: *tags,
		Parallel: *parallel, CacheDir: *cache, HeddleDir: *heddleDir, Watchdog: *watchdog, MaxSteps: *maxSteps,
		Stdout: a.stdout, Stderr: a.stderr, Env: a.testEnv,
	}
	if seeds.set {
		opts.First, opts.Count = seeds.first, seeds.count
	}
	if *shard != "" {
		if opts.Shard, opts.Shards, err = parseShard(*shard); err != nil {
			return exitBadArgs, usageError{err.Error()}
		}
	}
	if *count < 1 {
		return exitBadArgs, badArgs("-count %d: must be at least 1", *count)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := driver.Test(ctx, opts)
	if err != nil {
		if driver.IsUsage(err) {
			return exitBadArgs, usageError{err.Error()}
		}
		return exitFailed, err
	}
	if sum.Failed() {
		return exitFailed, nil
	}
	return exitOK, nil
}
