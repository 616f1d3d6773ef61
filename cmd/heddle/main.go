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
			if cmd == "" || (cmd != "list" && cmd != "run" && cmd != "replay" && cmd != "shrink" && cmd != "merge") {
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
