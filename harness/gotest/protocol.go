package gotest

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// The protocol between `heddle test` (the parent) and a test binary it runs
// (the child). The parent writes a Spec as JSON into a file and names it in
// the child's environment (SpecEnv); the child reads it when its first
// wrapped test starts, and removes the variable from its own environment so
// that a test which runs the test binary again (a crash test) runs a plain
// copy. The child reports on standard error, which the parent reads together
// with standard output: one line per record, MarkerPrefix followed by a
// Record as JSON. Standard error keeps the order of the race detector's
// reports, which land between the begin and end records of the seed that
// caused them.

// SpecEnv is the environment variable that names the Spec file of a child.
const SpecEnv = "HEDDLE_TEST_SPEC"

// MarkerPrefix starts every line of the protocol in a child's output.
const MarkerPrefix = "@@heddle-test@@ "

// Spec tells a child what to run for each wrapped test.
type Spec struct {
	// First and Count are the seeds of the sweep: First to First+Count-1.
	First int64 `json:"first"`
	Count int   `json:"count"`
	// Shard and Shards keep the seeds s with s % Shards == Shard-1
	// (Shards 0: every seed).
	Shard  int `json:"shard,omitempty"`
	Shards int `json:"shards,omitempty"`
	// Strategy is "random", "pct:D" or "pct:D:K"; PCT without K is
	// calibrated on a run of seed 0 with the random walk, unless Steps
	// gives K.
	Strategy string `json:"strategy"`
	Steps    int    `json:"steps,omitempty"`
	// KeepGoing runs every seed; otherwise a test stops at its first
	// failing seed. A data race or a Stuck run ends the child anyway (the
	// race detector reports a race once per process; a Stuck run leaves
	// the process unable to run another World): the parent goes on in a
	// new child from the next seed.
	KeepGoing bool `json:"keep_going,omitempty"`
	// Saved are failing schedules to re-run first, before the sweep.
	Saved []Saved `json:"saved,omitempty"`
	// Trace records every run's trace and sends it with a failure (for
	// the failure's HTML page).
	Trace bool `json:"trace,omitempty"`
	// MaxSteps and Watchdog are harness.Options' (zero: its defaults).
	MaxSteps int           `json:"max_steps,omitempty"`
	Watchdog time.Duration `json:"watchdog_ns,omitempty"`
}

// Saved is a failing schedule kept under a package's testdata/heddle/.
type Saved struct {
	// Test is the top-level test it belongs to; File is where it is kept
	// (relative to the package directory).
	Test string `json:"test"`
	File string `json:"file,omitempty"`
	// Seed, Strategy and Schedule replay the run (harness.Guided).
	Seed     int64  `json:"seed"`
	Strategy string `json:"strategy"`
	Schedule []int  `json:"schedule"`
	// Kinds and Message are what the run found when it was saved.
	Kinds   []string `json:"kinds,omitempty"`
	Message string   `json:"message,omitempty"`
}

// Record types.
const (
	RecBegin      = "begin"      // a run starts
	RecEnd        = "end"        // a run ended (Passed or not)
	RecCalibrated = "calibrated" // PCT's step count is known (Steps)
	RecDone       = "done"       // the test's sweep is over
	RecRestart    = "restart"    // the child stops: go on in a new one from Seed+1
)

// errorPrefix starts the error a failing run reports to testing (after
// testing's file:line), so that the parent can tell it from the test's own
// output.
const errorPrefix = "heddle: "

// KindTestFailed is the kind of a seed whose test failed (t.Error, t.Fatal)
// without a failure of the runtime's.
const KindTestFailed = "TestFailed"

// Record is one line of a child's report.
type Record struct {
	Type string `json:"type"`
	Test string `json:"test"`
	// Run is the subtest's name: "seed=17", "calibrate", or "saved=FILE".
	Run  string `json:"run,omitempty"`
	Seed int64  `json:"seed"`
	// Strategy is the run's, in Spec.Strategy's notation; Saved is the
	// file of the saved schedule the run replays.
	Strategy string `json:"strategy,omitempty"`
	Saved    string `json:"saved,omitempty"`
	// Steps: the run's scheduling points (or PCT's calibrated count).
	Steps int `json:"steps,omitempty"`
	// Passed, Skipped and Failures: how the run ended. A run that
	// failed has one Failure per runtime failure, and one of kind
	// KindTestFailed when the test itself failed.
	Passed   bool      `json:"passed,omitempty"`
	Skipped  bool      `json:"skipped,omitempty"`
	Failures []Failure `json:"failures,omitempty"`
	// Schedule, TraceHash and Preemptions replay and identify the run.
	Schedule    []int  `json:"schedule,omitempty"`
	TraceHash   uint64 `json:"trace_hash,omitempty"`
	Preemptions int    `json:"preemptions,omitempty"`
	// Trace is the run's trace, with Spec.Trace.
	Trace []Event `json:"trace,omitempty"`
	// Seeds counts the runs of a done test; Failed those that failed.
	Seeds  int `json:"seeds,omitempty"`
	Failed int `json:"failed,omitempty"`
}

// Failure is one failure of a run.
type Failure struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Text is the failure as harness.Failure.String renders it: with the
	// goroutines involved and their sites.
	Text string `json:"text,omitempty"`
}

// Event is a trace event with its site resolved (Site: dir/file:line; File:
// the whole path), so that it can leave the child.
type Event struct {
	Step   int           `json:"step"`
	Time   time.Duration `json:"time_ns"`
	G      int           `json:"g"`
	Node   string        `json:"node,omitempty"`
	Kind   string        `json:"kind"`
	Site   string        `json:"site,omitempty"`
	File   string        `json:"file,omitempty"`
	Detail string        `json:"detail,omitempty"`
}

// ParseRecord reads a line of a child's output: ok is false for a line that
// is not a record.
func ParseRecord(line string) (r Record, ok bool, err error) {
	rest, found := strings.CutPrefix(strings.TrimRight(line, "\r\n"), MarkerPrefix)
	if !found {
		return Record{}, false, nil
	}
	if err := json.Unmarshal([]byte(rest), &r); err != nil {
		return Record{}, true, fmt.Errorf("heddle test: a bad record from the test binary: %w", err)
	}
	return r, true, nil
}

// emit writes a record on standard error, on a line of its own.
func emit(r Record) {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("heddle test: encoding a record: %v", err))
	}
	buf := make([]byte, 0, len(b)+len(MarkerPrefix)+2)
	buf = append(buf, '\n')
	buf = append(buf, MarkerPrefix...)
	buf = append(append(buf, b...), '\n')
	os.Stderr.Write(buf)
}

// ParseStrategy parses Spec.Strategy's notation: "random", "pct:D" or
// "pct:D:K" (K 0 when not given).
func ParseStrategy(s string) (name string, depth, steps int, err error) {
	switch {
	case s == "random":
		return "random", 0, 0, nil
	case s == "pct" || strings.HasPrefix(s, "pct:"):
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return "", 0, 0, fmt.Errorf("bad strategy %q: want pct:DEPTH or pct:DEPTH:STEPS", s)
		}
		d, err := strconv.Atoi(parts[1])
		if err != nil || d < 1 {
			return "", 0, 0, fmt.Errorf("bad strategy %q: PCT's depth must be a whole number >= 1", s)
		}
		k := 0
		if len(parts) == 3 {
			if k, err = strconv.Atoi(parts[2]); err != nil || k < 1 {
				return "", 0, 0, fmt.Errorf("bad strategy %q: PCT's steps must be a whole number >= 1", s)
			}
		}
		return "pct", d, k, nil
	}
	return "", 0, 0, fmt.Errorf("bad strategy %q: want random, pct:DEPTH or pct:DEPTH:STEPS", s)
}

// newStrategy makes the strategy a parsed notation names; a PCT without
// steps must be calibrated first.
func newStrategy(name string, depth, steps int) harness.Strategy {
	if name == "pct" {
		st, err := harness.PCT(depth, max(steps, 1))
		if err != nil {
			panic(err) // ParseStrategy made sure of depth
		}
		return st
	}
	return harness.RandomWalk()
}
