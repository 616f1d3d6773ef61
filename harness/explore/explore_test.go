package explore

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"

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

func TestSweepFindsTheLowestFailingSeedWithSeveralLanes(t *testing.T) {
	seeds, _ := Seeds(0, 100, 1, 1)
	for lanes := 1; lanes <= 4; lanes++ {
		var rs []Runner
		for i := 0; i < lanes; i++ {
			// Only one World runs at a time in a process: lanes of a real
			// sweep are worker processes. These lanes only pretend.
			rs = append(rs, fakeRunner(func(seed int64) []checkers.Violation {
				if seed == 13 || seed == 14 || seed == 40 {
					return []checkers.Violation{{Kind: checkers.Invariant}}
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

type fakeRunner func(seed int64) []checkers.Violation

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
	v := Variant{Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
		mu.Lock()
		n++
		if n == 5 {
			cancel()
		}
		mu.Unlock()
		return harness.Run(opts, func() {}), nil
	}}
	seeds, _ := Seeds(0, 1000, 1, 1)
	sw := Sweep(ctx, SweepOptions{Seeds: seeds, Runners: []Runner{&InProcessRunner{Variant: v}}})
	require.True(t, sw.Interrupted)
	require.Equal(t, 5, sw.Tried)
	require.Nil(t, sw.First)
}

func TestVerdicts(t *testing.T) {
	buggy := Variant{Expect: []harness.Kind{harness.DataRace, harness.Leak}}
	fixed := Variant{}
	race := &Outcome{Violations: []checkers.Violation{{Kind: harness.Panic}, {Kind: harness.Leak}}}
	dead := &Outcome{Violations: []checkers.Violation{{Kind: harness.Deadlock}}}
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
	require.Equal(t, harness.Leak, kindOf(buggy, *race), "an expected kind is reported first")
}

func TestRunOnceAddsRuntimeFailuresAndCheckPanics(t *testing.T) {
	v := Variant{Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
		return harness.Run(opts, func() {
			ch := harness.NewChan[int](0)
			ch.Recv()
		}), nil
	}}
	o := RunOnce(v, RunSpec{Seed: 1})
	require.Equal(t, []harness.Kind{harness.Deadlock}, o.Kinds())

	v = Variant{Check: func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) { panic("checker bug") }}
	o = RunOnce(v, RunSpec{Seed: 1})
	require.Equal(t, []harness.Kind{harness.Panic}, o.Kinds())
	require.Contains(t, o.Violations[0].Message, "checker bug")
}

// TestSavedFailuresRunFirst saves a schedule and checks that the next
// exploration replays it before trying any seed.
func TestSavedFailuresRunFirst(t *testing.T) {
	dir := t.TempDir()
	base := lostUpdate(2, 0)
	var calls []string
	v := Variant{Name: "buggy", Expect: []harness.Kind{checkers.Invariant}, Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
		calls = append(calls, fmt.Sprintf("%d/%s", opts.Seed, opts.Strategy))
		return base.Check(opts, plan)
	}}
	c := Case{Name: "counter", Variants: []Variant{v}}
	seeds, _ := Seeds(0, 50, 1, 1)
	cfg := VariantConfig{Seeds: seeds, Runners: []Runner{&InProcessRunner{Variant: v}}, Save: true, Dir: dir,
		Shrinker: func(harness.Kind) Runner { return &InProcessRunner{Variant: base} }}
	rep := ExploreVariant(context.Background(), c, v, cfg)
	require.Equal(t, VerdictFound, rep.Verdict, rep.Reason)
	require.NotEmpty(t, rep.SavedPath)
	require.NotNil(t, rep.Shrunk)
	require.FileExists(t, rep.SavedPath)

	saved, err := LoadSaved(dir, "counter", "buggy")
	require.NoError(t, err)
	require.Len(t, saved, 1)
	require.Equal(t, checkers.Invariant, saved[0].Kind)
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

// An event record names its site's file with the whole path, so that a
// report can read the line; Site keeps the short form the text trace shows.
func TestEventRecordsFile(t *testing.T) {
	res := harness.Run(harness.Options{Seed: 1, Trace: true}, func() {
		harness.Go(func() {})
		harness.Yield()
	})
	recs := EventRecords(res.Trace)
	require.Len(t, recs, len(res.Trace))
	wd, err := os.Getwd()
	require.NoError(t, err)
	here := filepath.Join(wd, "explore_test.go")
	found := false
	for i, r := range recs {
		if r.Site == "" {
			require.Empty(t, r.File, "event %d", i)
			continue
		}
		if strings.HasPrefix(r.Site, "explore/explore_test.go:") {
			found = true
			require.Equal(t, here, r.File)
		}
		require.True(t, strings.HasSuffix(r.File, "/"+r.Site[:strings.LastIndexByte(r.Site, ':')]), "%s in %s", r.Site, r.File)
	}
	require.True(t, found, "the test's own sites are in the trace")
}

// TestLoadSavedKeepsTheGoodFiles: a corrupt file, a file of another case
// and a file without a kind are each named in the error, and the good file
// is still returned.
func TestLoadSavedKeepsTheGoodFiles(t *testing.T) {
	dir := t.TempDir()
	good := SavedFailure{Case: "c", Variant: "buggy", Seed: 3, Kind: checkers.Invariant, Schedule: []int{1, 2}}
	path, err := good.Save(dir)
	require.NoError(t, err)
	vdir := SavedDir(dir, "c", "buggy")
	require.NoError(t, os.WriteFile(filepath.Join(vdir, "a-corrupt.json"), []byte("{not json"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(vdir, "b-nokind.json"), []byte(`{"case":"c","variant":"buggy","seed":1}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(vdir, "c-other.json"), []byte(`{"case":"d","variant":"buggy","seed":1,"kind":"Leak"}`), 0o644))

	saved, err := LoadSaved(dir, "c", "buggy")
	require.Len(t, saved, 1)
	require.Equal(t, path, saved[0].Path)
	require.Error(t, err)
	var bad *BadSavedError
	require.ErrorAs(t, err, &bad)
	for _, name := range []string{"a-corrupt.json", "b-nokind.json", "c-other.json"} {
		require.Contains(t, err.Error(), name)
	}
	require.Contains(t, err.Error(), "no violation kind")
	require.Contains(t, err.Error(), "not c/buggy")
}

// flakyRaceRunner reports a DataRace at seed 3; its strict replays (of a
// schedule to be saved) show the race only every other time, as a race the
// detector does not see in every process.
type flakyRaceRunner struct{ strict int }

func (f *flakyRaceRunner) Do(_ context.Context, spec RunSpec) (Outcome, error) {
	out := Outcome{Seed: spec.Seed, Schedule: []int{1, 2, 1}}
	race := []checkers.Violation{{Kind: harness.DataRace, Message: "data race"}}
	switch {
	case spec.Strict:
		f.strict++
		if f.strict%2 == 1 {
			out.Violations = race
		}
	case spec.Seed == 3:
		out.Violations = race
	}
	return out, nil
}

func (f *flakyRaceRunner) Close() {}

// TestRaceThatDoesNotReplayIsNotSaved: a race schedule is saved only when
// every one of its fresh replays shows the race.
func TestRaceThatDoesNotReplayIsNotSaved(t *testing.T) {
	dir := t.TempDir()
	v := Variant{Name: "buggy", Expect: []harness.Kind{harness.DataRace}}
	r := &flakyRaceRunner{}
	seeds, err := Seeds(0, 10, 1, 1)
	require.NoError(t, err)
	rep := ExploreVariant(context.Background(), Case{Name: "flaky"}, v, VariantConfig{Seeds: seeds, Runners: []Runner{r},
		Save: true, Dir: dir, Shrinker: func(harness.Kind) Runner { return r }})
	require.Equal(t, VerdictFound, rep.Verdict)
	require.Empty(t, rep.SavedPath)
	require.NotEmpty(t, rep.Notes)
	require.Contains(t, rep.Notes[len(rep.Notes)-1], "not saved: its schedule showed the race in 2 of 3 fresh replays")
	saved, err := LoadSaved(dir, "flaky", "buggy")
	require.NoError(t, err)
	require.Empty(t, saved)
}

// TestFailingScheduleOnly checks that a run asked for its schedule only if
// it fails (as a sweep asks) sends none when it passes, and the whole
// schedule, the same as without the flag, when it fails.
func TestFailingScheduleOnly(t *testing.T) {
	program := func(deadlock bool) Variant {
		return Variant{Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			return harness.Run(opts, func() {
				ch := harness.NewChan[int](0)
				for i := 0; i < 3; i++ {
					harness.Go(func() { ch.Send(i) })
				}
				for i := 0; i < 3; i++ {
					ch.Recv()
				}
				if deadlock {
					ch.Recv()
				}
			}), nil
		}}
	}
	pass := RunOnce(program(false), RunSpec{Seed: 2, FailingScheduleOnly: true})
	require.False(t, pass.Failed())
	require.Empty(t, pass.Schedule)
	require.NotEmpty(t, RunOnce(program(false), RunSpec{Seed: 2}).Schedule)

	fail := RunOnce(program(true), RunSpec{Seed: 2, FailingScheduleOnly: true})
	require.True(t, fail.Failed())
	require.NotEmpty(t, fail.Schedule)
	require.Equal(t, RunOnce(program(true), RunSpec{Seed: 2}).Schedule, fail.Schedule)
}

// TestServeWorkerGCPercent checks that a worker raises GOGC to
// workerGCPercent unless the environment sets GOGC.
func TestServeWorkerGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	require.NoError(t, ServeWorker(Variant{}, strings.NewReader(""), io.Discard))
	require.Equal(t, workerGCPercent, debug.SetGCPercent(100))

	t.Setenv("GOGC", "100")
	require.NoError(t, ServeWorker(Variant{}, strings.NewReader(""), io.Discard))
	require.Equal(t, 100, debug.SetGCPercent(100))
}
