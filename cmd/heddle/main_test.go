package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios/catalog"
)

// The tests run the command with cases of their own; its workers are this
// test binary, which TestMain turns into the command when workerEnv is set.
const workerEnv = "HEDDLE_CLI_TEST_WORKER"

// catalogEnv makes such a worker serve the catalog's cases instead of the
// tests' own (the browser tests replay the cases' saved failures).
const catalogEnv = "HEDDLE_CLI_TEST_CATALOG"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		var cases []explore.Case
		if os.Getenv(catalogEnv) == "1" {
			cases = catalog.All()
		}
		a := testApp(cases)
		a.stdin, a.stdout, a.stderr = os.Stdin, os.Stdout, os.Stderr
		os.Exit(a.main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// racy races (two unsynchronised increments) on seeds that are 3 mod 7 in
// its buggy variant; its fixed variant always locks.
func racy() explore.Case {
	variant := func(name string, buggy bool) explore.Variant {
		v := explore.Variant{Name: name, Seeds: 30, Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			race := buggy && opts.Seed%7 == 3
			x := 0
			var mu harness.Mutex
			res := harness.Run(opts, func() {
				var wg harness.WaitGroup
				for i := 0; i < 2; i++ {
					wg.Go(func() {
						if race {
							x++
							return
						}
						mu.Lock()
						x++
						mu.Unlock()
					})
				}
				wg.Wait()
			})
			return res, checkers.FromResult(res)
		}}
		if buggy {
			v.Expect = []harness.Kind{harness.DataRace}
		}
		return v
	}
	return explore.Case{Name: "racy", Bug: "test#1", Summary: "races on seeds 3 mod 7",
		Variants: []explore.Variant{variant("buggy", true), variant("fixed", false)}}
}

// counter loses updates (check-then-act under a lock taken twice).
func counter() explore.Case {
	variant := func(name string, buggy bool) explore.Variant {
		v := explore.Variant{Name: name, Seeds: 200, Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			x := 0
			var mu harness.Mutex
			res := harness.Run(opts, func() {
				var wg harness.WaitGroup
				for i := 0; i < 3; i++ {
					wg.Go(func() {
						mu.Lock()
						v := x
						if !buggy {
							x = v + 1
							mu.Unlock()
							return
						}
						mu.Unlock()
						harness.Yield()
						mu.Lock()
						x = v + 1
						mu.Unlock()
					})
				}
				for i := 0; i < 2; i++ {
					wg.Go(func() {
						for j := 0; j < 4; j++ {
							harness.Yield()
						}
					})
				}
				wg.Wait()
			})
			vs := checkers.FromResult(res)
			if x != 3 {
				vs = append(vs, checkers.Violationf(checkers.Invariant, "counter is %d after 3 increments", x))
			}
			return res, vs
		}}
		if buggy {
			v.Expect = []harness.Kind{checkers.Invariant}
		}
		return v
	}
	return explore.Case{Name: "counter", Bug: "test#2", Summary: "lost update",
		Variants: []explore.Variant{variant("buggy", true), variant("fixed", false)}}
}

// flaky's only variant deadlocks on seed 5.
func flaky() explore.Case {
	return explore.Case{Name: "flaky", Variants: []explore.Variant{{Name: "fixed", Seeds: 20,
		Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			res := harness.Run(opts, func() {
				if opts.Seed == 5 {
					harness.NewChan[int](0).Recv()
				}
			})
			return res, checkers.FromResult(res)
		}}}}
}

// whoami's buggy variant fails (Invariant) on the last of every 5 seeds,
// naming the process that ran it.
func whoami() explore.Case {
	return explore.Case{Name: "whoami", Variants: []explore.Variant{{Name: "buggy", Seeds: 5, Expect: []harness.Kind{checkers.Invariant},
		Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			res := harness.Run(opts, func() {})
			vs := checkers.FromResult(res)
			if opts.Seed%5 == 4 {
				vs = append(vs, checkers.Violationf(checkers.Invariant, "ran in process %d", os.Getpid()))
			}
			return res, vs
		}}}}
}

// tangle's buggy variant races and leaks in the same run, on seed 2: the
// race detector ends a worker at the race, before the leak is found, unless
// the run is asked for every finding.
func tangle() explore.Case {
	return explore.Case{Name: "tangle", Bug: "test#5", Summary: "a race and a leak in one run",
		Variants: []explore.Variant{{Name: "buggy", Seeds: 5, Expect: []harness.Kind{harness.DataRace, harness.Leak},
			Check: func(opts harness.Options, _ faults.Plan) (*harness.Result, []checkers.Violation) {
				bad := opts.Seed == 2
				x := 0
				res := harness.Run(opts, func() {
					var wg harness.WaitGroup
					for i := 0; i < 2; i++ {
						wg.Go(func() {
							if bad {
								x++
							}
						})
					}
					wg.Wait()
					if bad {
						harness.Go(func() { harness.NewChan[int](0).Recv() }) // never ends
					}
				})
				return res, checkers.FromResult(res)
			}}}}
}

// testApp makes the command with the test cases (nil: racy, counter,
// flaky and whoami).
func testApp(cases []explore.Case) *app {
	if cases == nil {
		cases = []explore.Case{counter(), flaky(), racy(), tangle(), whoami()}
	}
	// One worker lane: the tests count the seeds a sweep tries.
	return &app{cases: cases, stdin: strings.NewReader(""), exe: os.Args[0], workerEnv: []string{workerEnv + "=1"}, parallel: 1}
}

type result struct {
	status         int
	stdout, stderr string
}

func runApp(t *testing.T, a *app, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a.stdout, a.stderr = &out, &errb
	st := a.main(args)
	return result{st, out.String(), errb.String()}
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	return runApp(t, testApp(nil), args...)
}

func needRace(t *testing.T) {
	if !harness.RaceEnabled() {
		t.Skip("needs a -race build: go test -race ./cmd/heddle")
	}
}

func reports(t *testing.T, stdout string) []explore.Report {
	t.Helper()
	reps, err := explore.ReadJSONLines(strings.NewReader(stdout))
	require.NoError(t, err)
	return reps
}

func TestBadInputExits2(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"run"},
		{"run", "nope"},
		{"run", "--all", "racy"},
		{"run", "racy", "--seeds", "0"},
		{"run", "racy", "--seeds", "-3"},
		{"run", "racy", "--seeds", "9:3"},
		{"run", "racy", "--seeds", "x"},
		{"run", "racy", "--shard", "0/2"},
		{"run", "racy", "--shard", "3/2"},
		{"run", "racy", "--shard", "two"},
		{"run", "racy", "--strategy", "dfs"},
		{"run", "racy", "--strategy", "pct:0"},
		{"run", "racy", "--parallel", "0"},
		{"run", "racy", "--variant", "slow"},
		{"run", "racy", "--mode", "fast"},
		{"run", "racy", "--mode", "real", "--save"},
		{"run", "racy", "--frob"},
		{"run", "racy", "--explorations", "0"},
		{"run", "racy", "--explorations", "-2"},
		{"run", "racy", "--explorations", "x"},
		{"run", "racy", "--explorations", "20000"},
		{"run", "racy", "--explorations", "3", "--keep-going"},
		{"run", "racy", "--explorations", "3", "--save"},
		{"run", "racy", "--explorations", "3", "--shrink"},
		{"run", "racy", "--explorations", "3", "--shard", "2/3"},
		{"list", "extra"},
		{"replay", "racy", "--variant", "buggy"},
		{"replay", "racy", "--seed", "3"},
		{"replay", "racy", "--variant", "nope", "--seed", "3"},
		{"replay", "racy", "--variant", "buggy", "--seed", "3x"},
		{"replay", "nope", "--seed", "3"},
		{"shrink", "racy", "--variant", "buggy"},
		{"merge", "/nonexistent/report.json"},
	} {
		r := run(t, args...)
		require.Equal(t, exitBadArgs, r.status, "%v: stdout %q stderr %q", args, r.stdout, r.stderr)
		require.NotEmpty(t, r.stderr, "%v says why", args)
	}
	r := run(t, "run", "nope")
	require.Contains(t, r.stderr, `unknown case "nope"; known cases: counter, flaky, racy, tangle, whoami`)
	r = run(t, "run", "racy", "--shard", "3/2")
	require.Contains(t, r.stderr, "bad shard")
	r = run(t, "run", "racy", "--strategy", "dfs")
	require.Contains(t, r.stderr, "bad strategy")
	r = run(t, "run", "racy", "--seeds", "9:3")
	require.Contains(t, r.stderr, "bad seed range")
	r = run(t, "run", "racy", "--explorations", "0")
	require.Contains(t, r.stderr, "bad --explorations 0: want a whole number from 1 to")
	r = run(t, "run", "racy", "--explorations", "2", "--keep-going")
	require.Contains(t, r.stderr, "drop --keep-going")
}

func TestHelp(t *testing.T) {
	r := run(t, "run", "-h")
	require.Equal(t, exitOK, r.status)
	require.Contains(t, r.stdout, "usage: heddle run")
	require.Contains(t, r.stdout, "-shard")
	r = run(t, "help")
	require.Equal(t, exitOK, r.status)
	require.Contains(t, r.stdout, "replay case --seed N")
}

func TestNoCasesYet(t *testing.T) {
	a := testApp([]explore.Case{})
	r := runApp(t, a, "run", "--all")
	require.Equal(t, exitOK, r.status)
	require.Equal(t, "no cases yet\n", r.stdout)
	r = runApp(t, a, "list")
	require.Equal(t, "no cases yet\n", r.stdout)
}

func TestList(t *testing.T) {
	r := run(t, "list")
	require.Equal(t, exitOK, r.status)
	require.Regexp(t, `racy\s+buggy\s+DataRace\s+30\s+test#1`, r.stdout)
	require.Regexp(t, `racy\s+fixed\s+pass\s+30`, r.stdout)
	require.Contains(t, r.stdout, "counter: lost update")
}

// TestRaceAttributedToSeedByExitStatus sweeps every seed of a case that
// races on seeds 3, 10, 17 and 24: each race ends its worker with status 66,
// is attributed to the seed the worker announced, and the sweep goes on in
// a new worker.
func TestRaceAttributedToSeedByExitStatus(t *testing.T) {
	needRace(t)
	r := run(t, "run", "racy", "--variant", "buggy", "--keep-going", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	reps := reports(t, r.stdout)
	require.Len(t, reps, 1)
	rep := reps[0]
	require.Equal(t, explore.VerdictFound, rep.Verdict)
	require.Equal(t, harness.DataRace, rep.Kind)
	require.Equal(t, int64(3), *rep.FirstFailingSeed)
	require.Equal(t, 30, rep.SeedsTried)
	require.Equal(t, 4, rep.FailingSeeds, "seeds 3, 10, 17 and 24, each in its own worker")
	require.Contains(t, rep.Message, "data race")
	require.Contains(t, rep.Message, "main_test.go", "the parsed report names the racing line")
	require.Equal(t, "go run -race ./cmd/heddle replay racy --variant buggy --seed 3 --trace", rep.Replay)

	// Stopping at the first failure, with two workers: still seed 3.
	r = run(t, "run", "racy", "--variant", "buggy", "--parallel", "2", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	rep = reports(t, r.stdout)[0]
	require.Equal(t, int64(3), *rep.FirstFailingSeed)
	require.Less(t, rep.SeedsTried, 10)
}

func TestVerdictTableAndExitStatus(t *testing.T) {
	needRace(t)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	r := run(t, "run", "racy", "flaky", "--junit", junit)
	require.Equal(t, exitFailed, r.status)
	require.Regexp(t, `CASE\s+VARIANT\s+VERDICT\s+KIND\s+FIRST SEED\s+SEEDS\s+TIME`, r.stdout)
	require.Regexp(t, `racy\s+buggy\s+found\s+DataRace\s+3\s+4\s`, r.stdout)
	require.Regexp(t, `racy\s+fixed\s+pass\s+-\s+-\s+30\s`, r.stdout)
	require.Regexp(t, `flaky\s+fixed\s+FAIL\s+Deadlock\s+5\s+6\s`, r.stdout)
	require.Equal(t, "heddle: flaky/fixed: fail: Deadlock at seed 5 (replay: go run -race ./cmd/heddle replay flaky --variant fixed --seed 5 --trace)\n", r.stderr)

	data, err := os.ReadFile(junit)
	require.NoError(t, err)
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	require.NoError(t, xml.Unmarshal(data, &doc))
	require.Equal(t, 3, doc.Tests)
	require.Equal(t, 1, doc.Failures)
	require.NotContains(t, r.stderr, "\r", "no progress line when stderr is not a terminal")

	// A buggy variant whose bug is not found in its budget fails the gate.
	r = run(t, "run", "racy", "--variant", "buggy", "--seeds", "3")
	require.Equal(t, exitFailed, r.status)
	require.Contains(t, r.stderr, "heddle: racy/buggy: missed: expected [DataRace], but 3 seed(s) passed")
}

func TestJSONShape(t *testing.T) {
	r := run(t, "run", "flaky", "--json")
	require.Equal(t, exitFailed, r.status)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 1)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m))
	for k, want := range map[string]any{"case": "flaky", "variant": "fixed", "verdict": "fail", "kind": "Deadlock",
		"first_failing_seed": 5.0, "seeds_tried": 6.0} {
		require.Equal(t, want, m[k], k)
	}
	for _, k := range []string{"seeds_per_second", "time_to_detect_seconds", "replay"} {
		require.Contains(t, m, k)
	}
}

func TestShardsCoverTheSweepAndMerge(t *testing.T) {
	dir := t.TempDir()
	var files []string
	tried := 0
	for k := 1; k <= 3; k++ {
		r := run(t, "run", "counter", "--variant", "fixed", "--seeds", "10:40", "--shard", fmt.Sprintf("%d/3", k), "--json")
		require.Equal(t, exitOK, r.status, r.stderr)
		rep := reports(t, r.stdout)[0]
		require.Equal(t, 10, rep.SeedsTried)
		require.Equal(t, fmt.Sprintf("%d/3", k), rep.Shard)
		tried += rep.SeedsTried
		f := filepath.Join(dir, fmt.Sprintf("shard%d.json", k))
		require.NoError(t, os.WriteFile(f, []byte(r.stdout), 0o644))
		files = append(files, f)
	}
	require.Equal(t, 30, tried)
	r := run(t, append([]string{"merge", "--json"}, files...)...)
	require.Equal(t, exitOK, r.status, r.stderr)
	m := reports(t, r.stdout)
	require.Len(t, m, 1)
	require.Equal(t, 30, m[0].SeedsTried)
	require.Equal(t, explore.VerdictPass, m[0].Verdict)
	require.Equal(t, "1/3,2/3,3/3", m[0].Shard)

	// The buggy variant's shards disagree on their first failing seed; the
	// merge takes the lowest, which is the first of the whole sweep.
	var all bytes.Buffer
	firsts := map[int64]bool{}
	for k := 1; k <= 2; k++ {
		r := run(t, "run", "counter", "--variant", "buggy", "--shard", fmt.Sprintf("%d/2", k), "--json")
		require.Equal(t, exitOK, r.status, r.stderr)
		firsts[*reports(t, r.stdout)[0].FirstFailingSeed] = true
		all.WriteString(r.stdout)
	}
	a := testApp(nil)
	a.stdin = &all
	r = runApp(t, a, "merge")
	require.Equal(t, exitOK, r.status, r.stderr)
	whole := run(t, "run", "counter", "--variant", "buggy", "--json")
	first := *reports(t, whole.stdout)[0].FirstFailingSeed
	require.True(t, firsts[first])
	require.Regexp(t, fmt.Sprintf(`counter\s+buggy\s+found\s+Invariant\s+%d\s`, first), r.stdout)
}

func TestReplayTraceAndChrome(t *testing.T) {
	needRace(t)
	chrome := filepath.Join(t.TempDir(), "trace.json")
	r := run(t, "replay", "racy", "--variant", "buggy", "--seed", "3", "--trace", "--chrome", chrome)
	require.Equal(t, exitFailed, r.status, "a replay that shows a violation exits 1")
	require.Contains(t, r.stdout, "heddle: racy/buggy seed 3")
	require.Contains(t, r.stdout, "[1] DataRace: data race")
	require.Contains(t, r.stdout, " run ")
	require.Contains(t, r.stdout, "main_test.go:")
	data, err := os.ReadFile(chrome)
	require.NoError(t, err)
	var doc struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	require.NotEmpty(t, doc.TraceEvents)

	r = run(t, "replay", "racy", "--variant", "buggy", "--seed", "4")
	require.Equal(t, exitOK, r.status, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "no violation")
}

func TestShrinkSavesAndRunReplaysSavedFirst(t *testing.T) {
	dir := t.TempDir()
	// Find a failing seed with a random walk's many preemptions.
	r := run(t, "run", "counter", "--variant", "buggy", "--strategy", "random", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	seed := *reports(t, r.stdout)[0].FirstFailingSeed

	r = run(t, "shrink", "counter", "--variant", "buggy", "--seed", fmt.Sprint(seed), "--strategy", "random", "--dir", dir)
	require.Equal(t, exitOK, r.status, r.stderr)
	require.Contains(t, r.stdout, "Invariant")
	files, _ := filepath.Glob(filepath.Join(dir, "counter", "buggy", "invariant-*.json"))
	require.Len(t, files, 1, r.stdout)
	s, err := explore.ReadSaved(files[0])
	require.NoError(t, err)
	require.True(t, s.Shrunk)
	require.LessOrEqual(t, s.Preemptions, 2)
	t.Log(strings.TrimSpace(r.stdout))

	// The saved schedule replays, and run re-runs it before the sweep.
	r = run(t, "replay", "counter", "--schedule", files[0])
	require.Equal(t, exitFailed, r.status)
	require.Contains(t, r.stdout, "Invariant: counter is")
	r = run(t, "run", "counter", "--variant", "buggy", "--dir", dir, "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	rep := reports(t, r.stdout)[0]
	require.Len(t, rep.Saved, 1)
	require.Empty(t, rep.Saved[0].Problem)
	// Schedules are kept per variant: the fixed variant has none.
	r = run(t, "run", "counter", "--variant", "fixed", "--dir", dir, "--seeds", "5", "--json")
	require.Empty(t, reports(t, r.stdout)[0].Saved)
}

func TestRunSaveShrinksTheFirstFailure(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "run", "flaky", "--save", "--dir", dir, "--json")
	require.Equal(t, exitFailed, r.status)
	rep := reports(t, r.stdout)[0]
	require.NotEmpty(t, rep.SavedPath)
	require.Contains(t, r.stderr, "saved "+rep.SavedPath)
	// The next run fails on the saved schedule without sweeping.
	r = run(t, "run", "flaky", "--dir", dir, "--json")
	require.Equal(t, exitFailed, r.status)
	rep = reports(t, r.stdout)[0]
	require.Equal(t, 0, rep.SeedsTried)
	require.Contains(t, rep.Reason, "saved schedule")
	require.Contains(t, rep.Replay, "--schedule "+rep.Saved[0].Path)
}

func TestRealModeStressLoop(t *testing.T) {
	r := run(t, "run", "counter", "--variant", "fixed", "--mode", "real", "--seeds", "20", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	rep := reports(t, r.stdout)[0]
	require.Equal(t, "real", rep.Mode)
	require.Equal(t, 20, rep.SeedsTried)
	require.Empty(t, rep.Replay)
}

func TestPCTCalibration(t *testing.T) {
	r := run(t, "run", "counter", "--variant", "buggy", "--strategy", "pct:2", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	rep := reports(t, r.stdout)[0]
	require.Regexp(t, `^pct:2:\d+$`, rep.Strategy, "the report names the calibrated strategy")
	require.Contains(t, rep.Replay, "--strategy "+rep.Strategy)
}

// TestAllFindings: a run that races and leaks shows only the race when the
// race detector ends its worker, and both with --all-findings.
func TestAllFindings(t *testing.T) {
	needRace(t)
	r := run(t, "run", "tangle", "--json")
	require.Equal(t, exitOK, r.status, r.stderr)
	rep := reports(t, r.stdout)[0]
	require.Equal(t, harness.DataRace, rep.Kind)
	require.NotContains(t, rep.Message, "still alive", "halted at the race")

	r = run(t, "run", "tangle", "--json", "--all-findings", "--keep-going")
	require.Equal(t, exitOK, r.status, r.stderr)
	rep = reports(t, r.stdout)[0]
	require.Equal(t, int64(2), *rep.FirstFailingSeed)
	require.Equal(t, 1, rep.FailingSeeds)
	out := run(t, "replay", "tangle", "--seed", "2")
	require.Contains(t, out.stdout+out.stderr, "DataRace")
	require.Contains(t, out.stdout+out.stderr, "Leak")
}

// TestCorruptSavedFile: a saved failure that cannot be read is bad input
// (exit 2, the file named), and the other cases still run.
func TestCorruptSavedFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "counter", "fixed")
	require.NoError(t, os.MkdirAll(bad, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "leak-seed1-00000000.json"), []byte("{oops"), 0o644))
	r := run(t, "run", "counter", "whoami", "--dir", dir, "--json")
	require.Equal(t, exitBadArgs, r.status, r.stderr)
	require.Contains(t, r.stderr, filepath.Join(bad, "leak-seed1-00000000.json"))
	reps := reports(t, r.stdout)
	var names []string
	for _, rep := range reps {
		names = append(names, rep.Case+"/"+rep.Variant)
	}
	require.Equal(t, []string{"counter/buggy", "counter/fixed", "whoami/buggy"}, names, "every variant still ran")
}
