// Command heddle explores heddle's race cases: it runs each case's variants
// over many seeds under the deterministic scheduler, judges them (a variant
// that carries a bug must show it, a fixed one must pass), replays and
// shrinks failures, and writes reports for people and for CI.
//
// Build it with the race detector, or data races cannot be detected:
//
//	go run -race ./cmd/heddle list
//	go run -race ./cmd/heddle run --all
//	go run -race ./cmd/heddle run mq --variant buggy --seeds 5000 --parallel 2 --json
//	go run -race ./cmd/heddle run --all --shard 2/4 --json > shard2.json
//	go run -race ./cmd/heddle merge shard*.json
//	go run -race ./cmd/heddle replay mq --variant buggy --seed 17 --trace --chrome trace.json
//	go run -race ./cmd/heddle replay mq --variant buggy --seed 17 --html mq.html
//	go run -race ./cmd/heddle run --all --html pages/
//	go run -race ./cmd/heddle shrink mq --variant buggy --seed 17
//	go run -race ./cmd/heddle run mq metaclient --variant buggy --explorations 20
//
// Every seed runs in a worker process (this program, re-run with the
// hidden worker subcommand) with GORACE=halt_on_error=1: the race detector
// reports each distinct race once per process and ends a worker at its
// first race with exit status 66, so the seed the worker had announced is
// the one that raced, and the next seed runs in a new worker.
//
// Measuring detection: run --explorations N runs N independent explorations
// of every selected variant. Exploration i (from 0) sweeps its own seeds,
// A+i*S to A+(i+1)*S-1, where A:A+S is --seeds (default 0 and the variant's
// budget), in worker processes of its own, and stops at its first failure;
// saved failures are not re-run and nothing is shrunk or saved (--keep-going,
// --save, --shrink and --shard are refused). --budget and --parallel apply to
// each exploration. The table then has a row per exploration (variant
// "buggy #3"), followed per variant by the seed ranges and a summary line.
// With --json, each exploration's report is printed, in order, followed by
// one object per case and variant with these fields:
//
//	type                   "explorations" (a report has no type)
//	case, variant, expect, strategy, mode
//	explorations           N
//	seeds_per_exploration  S
//	seed_ranges            the range of each exploration, as A:B (A to B-1)
//	ok                     every exploration's verdict is OK
//	verdicts               explorations by verdict, e.g. {"found": 19, "missed": 1}
//	found                  explorations that found the bug (verdict found: an
//	                       expected kind that the variant's Match accepts)
//	passed                 explorations in which every seed passed (fixed variants)
//	seeds_to_detect        {"median", "min", "max"} over the explorations that
//	                       found the bug, of the seeds tried up to and including
//	                       the first failing one; null when none found it
//	seconds_to_detect      the same for the wall time until it was found
//	kinds                  explorations by the kind at their first failing seed
//	seeds_tried_total      runs of all explorations
//	seeds_per_second       seeds_tried_total over the explorations' summed time
//	wall_seconds           the whole measurement's wall time
//
// The median of an even number of explorations is the mean of the two middle
// values. The exit status is as for run, over every exploration.
//
// Exit status: 0 when every variant that carries a bug showed an expected
// violation kind and every fixed variant passed its budget; 1 otherwise,
// with a line per failing variant on standard error; 2 for bad input.
//
// # Coverage
//
//	go run -race ./cmd/heddle run --all --cover .heddle-cover
//	go run -race ./cmd/heddle run mq --cover /tmp/cov --seeds 500 --json
//
// run --cover DIR measures how much of each case's system package
// (systems/<case>) a sweep runs. It builds this command again with -cover
// (the go build cache keeps that to seconds) and sweeps, in workers of that
// build, the variants that carry no bug (unless --variant names one) over
// 200 seeds (unless --seeds); each variant's workers write their counters
// under DIR/<case>-<variant>, merged into profile.txt there. Statements
// that only another variant runs (for fixed: the branches of
// `if s.variant == Buggy`, the else of `if v == Fixed`, what follows
// `if v == Fixed { ... return }`, switch cases of other variants, and the
// unexported types and functions only those use; see cover.VariantOnly)
// are left out of the figure. After the verdict table come the coverage
// table and, per variant, the lines that never ran with their first line of
// source. With --json, each report is followed by an object with "type":
// "coverage" (statements, covered, excluded, percent, uncovered_lines,
// uncovered: [{file, start, end, source}], excluded_regions: [{file,
// start_line, ..., why}], profile). It must run inside the module.
//
// # Mutation testing
//
//	go run -race ./cmd/heddle mutate mq
//	go run -race ./cmd/heddle mutate replica --seeds 200 --parallel 2 --json > replica.json
//	go run -race ./cmd/heddle mutate mq --list
//	go run -race ./cmd/heddle mutate mq --only split-section-e3e3ec2d --seeds 2000
//	go run -race ./cmd/heddle mutate routingtable --shard 2/4 --json
//
// mutate CASE asks how strong a case's checks are: would they catch the
// next concurrency bug in the system? It measures the fixed variant's
// coverage (as run --cover, over --cover-seeds, 200), generates mutants of
// the system package with concurrency operators (package harness/mutate:
// lock-pair, split-section, move-out, drop-cleanup, chan-buffer,
// drop-done-case, swap-chan, ignore-ctx, early-return), keeping only those
// in covered code that is not another variant's, builds each as the worker
// with `go build -race -overlay` (the tree is never written) and sweeps the
// fixed variant against it over --seeds (500) in fresh workers, --parallel
// at a time, stopping at the first failing seed. A mutant is killed by any
// violation, survives when every seed passes, and is left out when it does
// not compile or is marked in testdata/mutants/<case>.txt ("ID reason" a
// line; see mutate.ParseEquivalents). Ids (operator-8 hex digits) come from
// the file, function, operator and mutated text, not from line numbers, so
// they survive edits elsewhere. --shard k/n runs every n-th mutant, for CI
// matrices. Progress goes to standard error, a line per mutant. The table
// lists each mutant (id, operator, file:line, result, kind, first failing
// seed, what it changes), a summary (generated, compile errors, equivalent,
// killed, survived, kill rate = killed / (killed + survived)) and the
// survivors with their changed lines: the to-do list of the case's workload
// and checks. With --json: one object per mutant ("type": "mutant": id,
// operator, file, line, func, desc, before, after, changes, status, kind,
// first_failing_seed, message, seeds_tried, seconds, reason, error), then
// one summary ("type": "mutation": generated, off_path, compile_errors,
// equivalent, killed, survived, errors, kill_rate, coverage, by_operator,
// survivors, stale_equivalents, wall_seconds). Exit status 1 when a mutant
// could not be run, or the kill rate is below --min-kill-rate; 2 for bad
// input. `make mutate` runs every case; it is never part of `make test`.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios/catalog"
)

func main() {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	a := &app{
		cases:  catalog.All(),
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		exe:    exe,
		tty:    isTerminal(os.Stderr),
	}
	os.Exit(a.main(os.Args[1:]))
}

// app is the command with its surroundings, so that tests can run it with
// their own cases, streams and worker executable.
type app struct {
	// cases are the cases the command knows, sorted by name.
	cases          []explore.Case
	stdin          io.Reader
	stdout, stderr io.Writer
	// exe is the program that serves as worker: exe worker CASE VARIANT.
	exe string
	// workerEnv is added to every worker's environment.
	workerEnv []string
	// tty says whether stderr is a terminal (for the progress line).
	tty bool
	// synopsis holds each command's argument synopsis, for -h.
	synopsis map[string]string
	// parallel is the default of --parallel (zero: one worker per CPU).
	parallel int
	// workerMain is the main package that run --cover and mutate build as
	// worker (empty: this command's own package).
	workerMain string
	// systems is the module directory that holds a package per case's
	// system (empty: "systems").
	systems string
	// testEnv is the environment of heddle test's go commands and test
	// processes (nil: this process's).
	testEnv []string
}

const (
	exitOK      = 0
	exitFailed  = 1
	exitBadArgs = 2
)

// usageError is bad input: it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badArgs(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `usage: heddle <command> [arguments]

Build with the race detector, or data races cannot be detected:
    go run -race ./cmd/heddle <command> ...

Commands:
    list                          the cases, their variants and the bug each carries
    run [case...|--all] [flags]   explore cases and print the verdict table
    replay case --seed N [flags]  run one seed again: its trace, its HTML page (--html)
    shrink case --seed N [flags]  find the failing schedule with the fewest preemptions
    merge [report.json...]        combine the --json reports of several shards
    mutate case [flags]           mutation testing: run the fixed variant against concurrency
                                  mutants of the case's system and report which survive
    test [flags] [packages]       run the unmodified tests of a module's packages under the
                                  deterministic scheduler, once per seed (go tool heddle test)

Run "heddle <command> -h" for a command's flags.
`

func (a *app) main(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitBadArgs
	}
	var err error
	cmd, rest := args[0], args[1:]
	status := exitOK
	switch cmd {
	case "list":
		err = a.list(rest)
	case "run":
		status, err = a.run(rest)
	case "replay":
		status, err = a.replay(rest)
	case "shrink":
		status, err = a.shrink(rest)
	case "merge":
		status, err = a.merge(rest)
	case "mutate":
		status, err = a.mutate(rest)
	case "test":
		status, err = a.test(rest)
	case "worker":
		err = a.worker(rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.stdout, usage)
		return exitOK
	default:
		err = badArgs("unknown command %q", cmd)
	}
	if err != nil {
		if _, ok := err.(usageError); ok {
			fmt.Fprintf(a.stderr, "heddle %s: %v\n", cmd, err)
			if cmd == "" || (cmd != "list" && cmd != "run" && cmd != "replay" && cmd != "shrink" && cmd != "merge" && cmd != "mutate" && cmd != "test") {
				fmt.Fprint(a.stderr, usage)
			}
			return exitBadArgs
		}
		if err == errHelp {
			return exitOK
		}
		fmt.Fprintf(a.stderr, "heddle %s: %v\n", cmd, err)
		return exitFailed
	}
	return status
}

// worker serves runs of one variant on stdin/stdout (see explore.ServeWorker).
func (a *app) worker(args []string) error {
	if len(args) != 2 {
		return badArgs("usage: heddle worker CASE VARIANT (run by heddle itself)")
	}
	c, err := a.lookup(args[0])
	if err != nil {
		return usageError{err.Error()}
	}
	v, err := c.Variant(args[1])
	if err != nil {
		return usageError{err.Error()}
	}
	return explore.ServeWorker(v, a.stdin, a.stdout)
}

// lookup returns the named case, or an error that lists the known names.
func (a *app) lookup(name string) (explore.Case, error) {
	for _, c := range a.cases {
		if c.Name == name {
			return c, nil
		}
	}
	if len(a.cases) == 0 {
		return explore.Case{}, fmt.Errorf("unknown case %q: no cases are known", name)
	}
	return explore.Case{}, fmt.Errorf("unknown case %q; known cases: %s", name, strings.Join(a.names(), ", "))
}

// names returns the names of the known cases.
func (a *app) names() []string {
	var names []string
	for _, c := range a.cases {
		names = append(names, c.Name)
	}
	return names
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
