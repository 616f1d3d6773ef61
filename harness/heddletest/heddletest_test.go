package heddletest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

// failsAt is a variant whose seeds in bad fail with an Invariant.
func failsAt(bad ...int64) explore.Variant {
	return explore.Variant{Name: "fixed", Check: func(opts harness.Options, _ faults.Plan) (*harness.Result, []checkers.Violation) {
		res := harness.Run(opts, func() { harness.Yield() })
		for _, b := range bad {
			if opts.Seed == b {
				return res, []checkers.Violation{checkers.Violationf(checkers.Invariant, "bad seed")}
			}
		}
		return res, nil
	}}
}

func TestExplorePassingVariant(t *testing.T) {
	c := explore.Case{Name: "calm", Variants: []explore.Variant{failsAt(), {Name: "other", Check: failsAt().Check}}}
	Explore(t, c, Options{Variant: "fixed", Seeds: 20, Dir: t.TempDir()})
}

// racyOnOrder races only when the reader takes the lock before the writer:
// the writer's unlocked write is then unordered with the reader's.
func racyOnOrder() explore.Variant {
	return explore.Variant{Name: "buggy", Expect: []harness.Kind{harness.DataRace}, Seeds: 200, Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
		var mu harness.Mutex
		var wg harness.WaitGroup
		x, done := 0, false
		res := harness.Run(opts, func() {
			wg.Go(func() {
				x = 1
				mu.Lock()
				done = true
				mu.Unlock()
			})
			wg.Go(func() {
				mu.Lock()
				d := done
				mu.Unlock()
				if !d {
					x = 2
				}
			})
			wg.Wait()
		})
		_ = x
		return res, nil
	}}
}

// TestExploreFindsARaceInAChildProcess explores a variant expected to race:
// its seeds run in a child process (this test binary), so the race it is
// meant to find does not fail this test.
func TestExploreFindsARaceInAChildProcess(t *testing.T) {
	if !harness.RaceEnabled() {
		t.Skip("needs go test -race")
	}
	c := explore.Case{Name: "order", Variants: []explore.Variant{racyOnOrder()}}
	if IsChild() {
		t.Run("first", func(t *testing.T) { Explore(t, c, Options{}) })
		t.Run("again", func(t *testing.T) { Explore(t, c, Options{}) })
		return
	}
	dir := t.TempDir()
	t.Run("first", func(t *testing.T) {
		Explore(t, c, Options{Dir: dir, ShrinkTime: 20e9})
	})
	files, _ := filepath.Glob(filepath.Join(dir, "order", "buggy", "datarace-*.json"))
	require.Len(t, files, 1, "the race was saved")
	s, err := explore.ReadSaved(files[0])
	require.NoError(t, err)
	require.True(t, s.Shrunk)
	require.LessOrEqual(t, s.Preemptions, 1)
	t.Run("again", func(t *testing.T) {
		Explore(t, c, Options{Dir: dir})
	})
	files, _ = filepath.Glob(filepath.Join(dir, "order", "buggy", "*.json"))
	require.Len(t, files, 1, "nothing new saved")
}

// TestExploreReportsAFailure runs a failing exploration in a child test
// process and checks what it prints.
func TestExploreReportsAFailure(t *testing.T) {
	if dir := os.Getenv("HEDDLE_TEST_FAILING_EXPLORE"); dir != "" {
		c := explore.Case{Name: "flaky", Variants: []explore.Variant{failsAt(7, 9)}}
		Explore(t, c, Options{Dir: dir, Seeds: 20})
		return
	}
	dir := t.TempDir()
	run := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExploreReportsAFailure$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "HEDDLE_TEST_FAILING_EXPLORE="+dir)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "the exploration fails the test")
		return string(out)
	}
	out := run()
	require.Contains(t, out, "heddle: flaky/fixed: fail: Invariant at seed 7")
	require.Contains(t, out, "replay: go test -race -run '^TestExploreReportsAFailure$/^fixed$' -heddle.seed=7")
	require.Contains(t, out, "--- FAIL: TestExploreReportsAFailure/fixed/seed=7")
	require.NotContains(t, out, "seed=8", "stops at the first failure")
	files, _ := filepath.Glob(filepath.Join(dir, "flaky", "fixed", "invariant-seed7-*.json"))
	require.Len(t, files, 1, out)

	// The saved failure is re-run first, and fails again without a sweep.
	out = run()
	require.Contains(t, out, "saved/seed=7")
	require.NotContains(t, out, "=== RUN   TestExploreReportsAFailure/fixed/seed=0")
	require.Contains(t, out, "saved schedule")
}

// TestExploreAttributesARaceToItsSeedSubtest explores, in a child test
// process, a variant that must pass but races: the race fails the subtest of
// its seed, and the failure is shrunk (in grandchild processes) and saved.
func TestExploreAttributesARaceToItsSeedSubtest(t *testing.T) {
	if !harness.RaceEnabled() {
		t.Skip("needs go test -race")
	}
	v := racyOnOrder()
	v.Name, v.Expect = "fixed", nil
	c := explore.Case{Name: "order", Variants: []explore.Variant{v}}
	if dir := os.Getenv("HEDDLE_TEST_RACY_EXPLORE"); dir != "" || IsChild() {
		Explore(t, c, Options{Dir: dir, Seeds: 50})
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestExploreAttributesARaceToItsSeedSubtest$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "HEDDLE_TEST_RACY_EXPLORE="+dir)
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	require.Error(t, err)
	require.Contains(t, out, "WARNING: DATA RACE")
	require.Regexp(t, `--- FAIL: TestExploreAttributesARaceToItsSeedSubtest/fixed/seed=\d+`, out)
	require.Regexp(t, `heddle: order/fixed: fail: DataRace at seed \d+`, out)
	require.Contains(t, out, "shrunk: ")
	files, _ := filepath.Glob(filepath.Join(dir, "order", "fixed", "datarace-*.json"))
	require.Len(t, files, 1, out)
}

// TestWorkerRunTimeout serves a variant that never returns from Check in a
// child process, and checks that the runner kills it and reports Stuck.
func TestWorkerRunTimeout(t *testing.T) {
	hang := explore.Variant{Name: "fixed", Check: func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) { select {} }}
	c := explore.Case{Name: "hang", Variants: []explore.Variant{hang}}
	if IsChild() {
		Explore(t, c, Options{})
		return
	}
	t.Run("fixed", func(t *testing.T) {
		w := explore.NewWorkerRunner(childCommand(t, c, hang), true)
		w.RunTimeout = 300 * time.Millisecond
		defer w.Close()
		out, err := w.Do(context.Background(), explore.RunSpec{Seed: 4})
		require.NoError(t, err)
		require.Equal(t, []harness.Kind{harness.Stuck}, out.Kinds())
		require.Contains(t, out.Violations[0].Message, "did not finish seed 4")
	})
}

// TestExploreNamesABadSavedFile: a corrupt saved failure fails the test,
// naming the file, and the good saved failures and the sweep still run.
func TestExploreNamesABadSavedFile(t *testing.T) {
	if dir := os.Getenv("HEDDLE_TEST_BAD_SAVED"); dir != "" {
		c := explore.Case{Name: "calm", Variants: []explore.Variant{failsAt()}}
		Explore(t, c, Options{Dir: dir, Seeds: 5})
		return
	}
	dir := t.TempDir()
	vdir := explore.SavedDir(dir, "calm", "fixed")
	require.NoError(t, os.MkdirAll(vdir, 0o755))
	bad := filepath.Join(vdir, "leak-seed1-0.json")
	require.NoError(t, os.WriteFile(bad, []byte("{oops"), 0o644))
	cmd := exec.Command(os.Args[0], "-test.run=^TestExploreNamesABadSavedFile$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "HEDDLE_TEST_BAD_SAVED="+dir)
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	require.Error(t, err, "a bad saved file fails the test")
	require.Contains(t, out, bad)
	require.Contains(t, out, "heddle: calm/fixed: pass: 5 seed(s) tried", "the sweep still ran")
}
