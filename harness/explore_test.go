package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStrategy(t *testing.T) {
	for _, s := range []string{"random", "pct:3", "pct:2:150"} {
		spec, err := ParseStrategy(s)
		require.NoError(t, err)
		require.Equal(t, s, spec.String())
	}
	spec, err := ParseStrategy("")
	require.NoError(t, err)
	require.True(t, spec.IsDefault())
	spec, _ = ParseStrategy("pct:3")
	require.True(t, spec.NeedsCalibration())
	require.Equal(t, "pct:3:40", spec.WithSteps(40).String())
	for _, bad := range []string{"dfs", "pct", "pct:0", "pct:x", "pct:2:0", "pct:1:2:3", "random:1"} {
		_, err := ParseStrategy(bad)
		require.Error(t, err, bad)
	}
}

func TestSeedsShardSplit(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64} {
		seen := map[int64]int{}
		for k := 1; k <= n; k++ {
			s1, err := Seeds(100, 50, k, n)
			require.NoError(t, err)
			s2, _ := Seeds(100, 50, k, n)
			require.Equal(t, s1, s2, "deterministic")
			for i, s := range s1 {
				seen[s]++
				if i > 0 {
					require.Greater(t, s, s1[i-1], "ascending")
				}
			}
		}
		require.Len(t, seen, 50, "shards of %d cover the range", n)
		for s, c := range seen {
			require.Equal(t, 1, c, "seed %d in exactly one shard", s)
			require.True(t, s >= 100 && s < 150)
		}
	}
	for _, bad := range [][2]int{{0, 4}, {5, 4}, {1, 0}} {
		_, err := Seeds(0, 10, bad[0], bad[1])
		require.Error(t, err)
	}
	_, err := Seeds(0, -1, 1, 1)
	require.Error(t, err)
}

// failsAt is a variant whose seeds in bad fail with an Invariant.
func failsAt(bad ...int64) Variant {
	return Variant{Name: "fixed", Check: func(opts Options) (*Result, []Violation) {
		res := Run(opts, func() { Yield() })
		for _, b := range bad {
			if opts.Seed == b {
				return res, []Violation{{Kind: "Invariant", Message: "bad seed"}}
			}
		}
		return res, nil
	}}
}

func TestSweepFindsTheLowestFailingSeedWithSeveralLanes(t *testing.T) {
	seeds, _ := Seeds(0, 100, 1, 1)
	for lanes := 1; lanes <= 4; lanes++ {
		var rs []Runner
		for i := 0; i < lanes; i++ {
			// Only one World runs at a time in a process: lanes of a real
			// sweep are worker processes. These lanes only pretend.
			rs = append(rs, fakeRunner(func(seed int64) []Violation {
				if seed == 13 || seed == 14 || seed == 40 {
					return []Violation{{Kind: "Invariant"}}
				}
				return nil
			}))
		}
		sw := Sweep(context.Background(), SweepOptions{Seeds: seeds, Runners: rs})
		require.NoError(t, sw.Err)
		require.NotNil(t, sw.First)
		require.Equal(t, int64(13), sw.First.Seed, "lanes %d", lanes)
		require.GreaterOrEqual(t, sw.Tried, 14)

		sw = Sweep(context.Background(), SweepOptions{Seeds: seeds, Runners: rs, KeepGoing: true})
		require.Equal(t, 100, sw.Tried)
		require.Equal(t, 3, sw.Failing)
		require.Equal(t, int64(13), sw.First.Seed)
	}
}

type fakeRunner func(seed int64) []Violation

func (f fakeRunner) Do(ctx context.Context, spec RunSpec) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	return Outcome{Seed: spec.Seed, Violations: f(spec.Seed)}, nil
}

func (f fakeRunner) Close() {}

func TestSweepStopsAtBudget(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	n := 0
	v := Variant{Check: func(opts Options) (*Result, []Violation) {
		mu.Lock()
		n++
		if n == 5 {
			cancel()
		}
		mu.Unlock()
		return Run(opts, func() {}), nil
	}}
	seeds, _ := Seeds(0, 1000, 1, 1)
	sw := Sweep(ctx, SweepOptions{Seeds: seeds, Runners: []Runner{&InProcessRunner{Variant: v}}})
	require.True(t, sw.Interrupted)
	require.Equal(t, 5, sw.Tried)
	require.Nil(t, sw.First)
}

func TestVerdicts(t *testing.T) {
	buggy := Variant{Expect: []string{"DataRace", "Leak"}}
	fixed := Variant{}
	race := &Outcome{Violations: []Violation{{Kind: "Panic"}, {Kind: "Leak"}}}
	dead := &Outcome{Violations: []Violation{{Kind: "Deadlock"}}}
	for _, c := range []struct {
		v    Variant
		o    *Outcome
		want string
		ok   bool
	}{
		{buggy, nil, VerdictMissed, false},
		{buggy, race, VerdictFound, true},
		{buggy, dead, VerdictUnexpected, false},
		{fixed, nil, VerdictPass, true},
		{fixed, dead, VerdictFail, false},
	} {
		got, ok := verdict(c.v, c.o)
		require.Equal(t, c.want, got)
		require.Equal(t, c.ok, ok)
	}
	require.Equal(t, "Leak", kindOf(buggy, *race), "an expected kind is reported first")
}

func TestRunOnceAddsRuntimeFailuresAndCheckPanics(t *testing.T) {
	v := Variant{Check: func(opts Options) (*Result, []Violation) {
		return Run(opts, func() {
			ch := NewChan[int](0)
			ch.Recv()
		}), nil
	}}
	o := RunOnce(v, RunSpec{Seed: 1})
	require.Equal(t, []string{"Deadlock"}, o.Kinds())

	v = Variant{Check: func(Options) (*Result, []Violation) { panic("checker bug") }}
	o = RunOnce(v, RunSpec{Seed: 1})
	require.Equal(t, []string{"Panic"}, o.Kinds())
	require.Contains(t, o.Violations[0].Message, "checker bug")
}

// TestSavedFailuresRunFirst saves a schedule and checks that the next
// exploration replays it before trying any seed.
func TestSavedFailuresRunFirst(t *testing.T) {
	dir := t.TempDir()
	base := lostUpdate(2, 0)
	var calls []string
	v := Variant{Name: "buggy", Expect: []string{"Invariant"}, Check: func(opts Options) (*Result, []Violation) {
		calls = append(calls, fmt.Sprintf("%d/%s", opts.Seed, opts.Strategy))
		return base.Check(opts)
	}}
	c := Case{Name: "counter", Variants: []Variant{v}}
	seeds, _ := Seeds(0, 50, 1, 1)
	cfg := VariantConfig{Seeds: seeds, Runners: []Runner{&InProcessRunner{Variant: v}}, Save: true, Dir: dir,
		Shrinker: func(string) Runner { return &InProcessRunner{Variant: base} }}
	rep := ExploreVariant(context.Background(), c, v, cfg)
	require.Equal(t, VerdictFound, rep.Verdict, rep.Reason)
	require.NotEmpty(t, rep.SavedPath)
	require.NotNil(t, rep.Shrunk)
	require.FileExists(t, rep.SavedPath)

	saved, err := LoadSaved(dir, "counter", "buggy")
	require.NoError(t, err)
	require.Len(t, saved, 1)
	require.Equal(t, "Invariant", saved[0].Kind)
	require.True(t, saved[0].Shrunk)
	require.Equal(t, *rep.FirstFailingSeed, saved[0].Seed)
	data, _ := os.ReadFile(rep.SavedPath)
	require.Contains(t, string(data), "\n  \"schedule\": [")

	calls = nil
	cfg.Saved = saved
	rep2 := ExploreVariant(context.Background(), c, v, cfg)
	require.Equal(t, VerdictFound, rep2.Verdict)
	require.Len(t, rep2.Saved, 1)
	require.Empty(t, rep2.Saved[0].Problem)
	require.True(t, strings.HasPrefix(calls[0], fmt.Sprintf("%d/replay(", saved[0].Seed)), "first call %q replays the saved schedule", calls[0])
	require.Empty(t, rep2.SavedPath, "a buggy variant saves a kind only once")
	files, _ := filepath.Glob(filepath.Join(dir, "counter", "buggy", "*.json"))
	require.Len(t, files, 1)

	// For a fixed variant the same saved schedule is a regression: it fails.
	fixed := Variant{Name: "buggy", Check: base.Check}
	cfg.Runners = []Runner{&InProcessRunner{Variant: fixed}}
	rep3 := ExploreVariant(context.Background(), c, fixed, cfg)
	require.Equal(t, VerdictFail, rep3.Verdict)
	require.Contains(t, rep3.Reason, "saved schedule")
	require.Zero(t, rep3.SeedsTried, "a failing saved schedule decides without a sweep")
}

func TestExplorePassingVariant(t *testing.T) {
	c := Case{Name: "calm", Variants: []Variant{failsAt(), {Name: "other", Check: failsAt().Check}}}
	Explore(t, c, ExploreOptions{Variant: "fixed", Seeds: 20, Dir: t.TempDir()})
}

// racyOnOrder races only when the reader takes the lock before the writer:
// the writer's unlocked write is then unordered with the reader's.
func racyOnOrder() Variant {
	return Variant{Name: "buggy", Expect: []string{KindDataRace}, Seeds: 200, Check: func(opts Options) (*Result, []Violation) {
		var mu Mutex
		var wg WaitGroup
		x, done := 0, false
		res := Run(opts, func() {
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
	if !RaceEnabled() {
		t.Skip("needs go test -race")
	}
	c := Case{Name: "order", Variants: []Variant{racyOnOrder()}}
	if IsExploreChild() {
		t.Run("first", func(t *testing.T) { Explore(t, c, ExploreOptions{}) })
		t.Run("again", func(t *testing.T) { Explore(t, c, ExploreOptions{}) })
		return
	}
	dir := t.TempDir()
	t.Run("first", func(t *testing.T) {
		Explore(t, c, ExploreOptions{Dir: dir, ShrinkTime: 20e9})
	})
	files, _ := filepath.Glob(filepath.Join(dir, "order", "buggy", "datarace-*.json"))
	require.Len(t, files, 1, "the race was saved")
	s, err := ReadSaved(files[0])
	require.NoError(t, err)
	require.True(t, s.Shrunk)
	require.LessOrEqual(t, s.Preemptions, 1)
	t.Run("again", func(t *testing.T) {
		Explore(t, c, ExploreOptions{Dir: dir})
	})
	files, _ = filepath.Glob(filepath.Join(dir, "order", "buggy", "*.json"))
	require.Len(t, files, 1, "nothing new saved")
}

// TestExploreReportsAFailure runs a failing exploration in a child test
// process and checks what it prints.
func TestExploreReportsAFailure(t *testing.T) {
	if dir := os.Getenv("HEDDLE_TEST_FAILING_EXPLORE"); dir != "" {
		c := Case{Name: "flaky", Variants: []Variant{failsAt(7, 9)}}
		Explore(t, c, ExploreOptions{Dir: dir, Seeds: 20})
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
	if !RaceEnabled() {
		t.Skip("needs go test -race")
	}
	v := racyOnOrder()
	v.Name, v.Expect = "fixed", nil
	c := Case{Name: "order", Variants: []Variant{v}}
	if dir := os.Getenv("HEDDLE_TEST_RACY_EXPLORE"); dir != "" || IsExploreChild() {
		Explore(t, c, ExploreOptions{Dir: dir, Seeds: 50})
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
	hang := Variant{Name: "fixed", Check: func(Options) (*Result, []Violation) { select {} }}
	c := Case{Name: "hang", Variants: []Variant{hang}}
	if IsExploreChild() {
		Explore(t, c, ExploreOptions{})
		return
	}
	t.Run("fixed", func(t *testing.T) {
		w := NewWorkerRunner(childCommand(t, c, hang), true)
		w.RunTimeout = 300 * time.Millisecond
		defer w.Close()
		out, err := w.Do(context.Background(), RunSpec{Seed: 4})
		require.NoError(t, err)
		require.Equal(t, []string{KindStuck}, out.Kinds())
		require.Contains(t, out.Violations[0].Message, "did not finish seed 4")
	})
}
