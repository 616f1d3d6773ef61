package explore

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
)

// updateShrink rewrites testdata/shrink_transcript.txt from Shrink as it
// is. Use it only when a change to the search is intended.
var updateShrink = flag.Bool("update-shrink", false, "rewrite harness/explore/testdata/shrink_transcript.txt")

// toyRunner stands for a program of three goroutines and 40 scheduling
// points, without the runtime, so that the transcript below depends on
// Shrink alone. A point the candidate leaves unset (or sets to a goroutine
// that does not exist) continues the goroutine that ran before (no
// preemption); the run fails when goroutine 2 runs at point 7 and goroutine
// 1 at point 30 and, when the plan has faults, n2 has crashed.
// A candidate shorter than dieBelow makes the run's process die
// (Outcome.Incomplete).
type toyRunner struct {
	log      []string
	dieBelow int
}

const fakePoints = 40

func (f *toyRunner) Do(_ context.Context, spec RunSpec) (Outcome, error) {
	full := make([]int, fakePoints)
	pre := 0
	for i := range full {
		if i > 0 {
			full[i] = full[i-1]
		}
		if i < len(spec.Schedule) && spec.Schedule[i] >= 0 && spec.Schedule[i] < 3 {
			full[i] = spec.Schedule[i]
		}
		if i > 0 && full[i] != full[i-1] {
			pre++
		}
	}
	out := Outcome{Seed: spec.Seed, Schedule: full, Preemptions: pre, Steps: fakePoints}
	fails := full[7] == 2 && full[30] == 1
	plan := "-"
	if spec.Faults != nil {
		plan = *spec.Faults
		fails = fails && strings.Contains(plan, "crash n2")
	}
	if len(spec.Schedule) < f.dieBelow {
		f.log = append(f.log, fmt.Sprintf("%v %s -> incomplete", spec.Schedule, plan))
		return Outcome{Seed: spec.Seed, Incomplete: true}, nil
	}
	if fails {
		out.Violations = []checkers.Violation{checkers.Violationf(checkers.Invariant, "lost update")}
	}
	f.log = append(f.log, fmt.Sprintf("%v %s -> failed=%v preemptions=%d", spec.Schedule, plan, fails, pre))
	return out, nil
}

func (f *toyRunner) Close() {}

// fakeSchedule is a random failing schedule of the fake program.
func fakeSchedule(seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 3))
	s := make([]int, fakePoints)
	for i := range s {
		s[i] = r.IntN(3)
	}
	s[7], s[30] = 2, 1
	return s
}

// TestShrinkTranscript shrinks failing schedules (and a fault plan) of the
// fake program and checks every candidate Shrink replayed, in order, and
// its result against testdata/shrink_transcript.txt.
func TestShrinkTranscript(t *testing.T) {
	plan := faults.Plan{
		{At: 1e9, Fault: faults.Crash("n1")},
		{At: 2e9, Fault: faults.Restart("n1")},
		{At: 3e9, Fault: faults.Partition("n1", "n2")},
		{At: 4e9, Fault: faults.Crash("n2")},
	}.String()
	cases := []struct {
		name     string
		opts     ShrinkOptions
		dieBelow int
	}{
		{"seed 1", ShrinkOptions{Seed: 1, Kind: checkers.Invariant, Schedule: fakeSchedule(1)}, 0},
		{"seed 2", ShrinkOptions{Seed: 2, Kind: checkers.Invariant, Schedule: fakeSchedule(2)}, 0},
		{"seed 3 with a fault plan", ShrinkOptions{Seed: 3, Kind: checkers.Invariant, Schedule: fakeSchedule(3), Faults: &plan}, 0},
		{"seed 4 bounded", ShrinkOptions{Seed: 4, Kind: checkers.Invariant, Schedule: fakeSchedule(4), MaxAttempts: 12}, 0},
		{"seed 5 matched", ShrinkOptions{Seed: 5, Kind: checkers.Invariant, Schedule: fakeSchedule(5),
			Match: func(v checkers.Violation) bool { return v.Message == "lost update" }}, 0},
		{"does not fail", ShrinkOptions{Seed: 6, Kind: checkers.Invariant, Schedule: []int{0, 1}}, 0},
		{"another kind", ShrinkOptions{Seed: 7, Kind: harness.Deadlock, Schedule: fakeSchedule(7)}, 0},
		{"a replay dies", ShrinkOptions{Seed: 8, Kind: checkers.Invariant, Schedule: fakeSchedule(8)}, 25},
	}
	var b strings.Builder
	for _, c := range cases {
		f := &toyRunner{dieBelow: c.dieBelow}
		res, err := Shrink(context.Background(), f, c.opts)
		js, jerr := json.Marshal(res)
		require.NoError(t, jerr)
		fmt.Fprintf(&b, "=== %s\nerr: %v\nresult: %s\n%s\n", c.name, err, js, strings.Join(f.log, "\n"))
	}
	path := filepath.Join("testdata", "shrink_transcript.txt")
	if *updateShrink {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), b.String())
}
