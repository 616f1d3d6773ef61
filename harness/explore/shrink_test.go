package explore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"

	"github.com/stretchr/testify/require"
)

// lostUpdate is a check-then-act race: every worker reads the counter under
// the lock, lets go, and writes back what it read plus one. Noise goroutines
// only yield, to give a random walk many irrelevant preemptions.
func lostUpdate(workers, noise int) Variant {
	return Variant{
		Name:   "buggy",
		Expect: []harness.Kind{checkers.Invariant},
		Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			var mu harness.Mutex
			var wg harness.WaitGroup
			x := 0
			res := harness.Run(opts, func() {
				for i := 0; i < workers; i++ {
					wg.Go(func() {
						mu.Lock()
						v := x
						mu.Unlock()
						harness.Yield()
						mu.Lock()
						x = v + 1
						mu.Unlock()
					})
				}
				for i := 0; i < noise; i++ {
					wg.Go(func() {
						for j := 0; j < 5; j++ {
							harness.Yield()
						}
					})
				}
				wg.Wait()
			})
			var vs []checkers.Violation
			if x != workers {
				vs = append(vs, checkers.Violation{Kind: checkers.Invariant, Message: fmt.Sprintf("counter is %d after %d increments", x, workers)})
			}
			return res, vs
		},
	}
}

func TestShrinkReducesPreemptions(t *testing.T) {
	v := lostUpdate(3, 3)
	// Find a failing seed with plenty of preemptions.
	var first Outcome
	for seed := int64(0); seed < 200; seed++ {
		o := RunOnce(v, RunSpec{Seed: seed, Strategy: "random"})
		if o.Has(checkers.Invariant) && o.Preemptions >= 6 {
			first = o
			break
		}
	}
	require.True(t, first.Failed(), "no failing seed with >= 6 preemptions in 200")

	r := &InProcessRunner{Variant: v}
	sr, err := Shrink(context.Background(), r, ShrinkOptions{Seed: first.Seed, Kind: checkers.Invariant, Schedule: first.Schedule})
	require.NoError(t, err)
	t.Logf("seed %d: %d preemptions -> %d (%d of %d choices kept, %d replays)",
		first.Seed, first.Preemptions, sr.Preemptions, sr.Kept, len(first.Schedule), sr.Attempts)
	require.True(t, sr.Complete)
	require.Equal(t, first.Preemptions, sr.OriginalPreemptions)
	require.Less(t, sr.Preemptions, first.Preemptions)
	// A lost update needs one worker preempted between its read and its
	// write while another worker runs: one or two preemptions.
	require.LessOrEqual(t, sr.Preemptions, 2)

	// The shrunk schedule replays to the same violation, exactly.
	for _, sched := range [][]int{sr.Schedule, sr.Choices} {
		o := RunOnce(v, RunSpec{Seed: first.Seed, Replay: true, Schedule: sched})
		require.True(t, o.Has(checkers.Invariant))
		require.Equal(t, sr.Preemptions, o.Preemptions)
	}
}

func TestShrinkRejectsAScheduleThatDoesNotFail(t *testing.T) {
	v := lostUpdate(2, 0)
	_, err := Shrink(context.Background(), &InProcessRunner{Variant: v}, ShrinkOptions{Seed: 1, Kind: checkers.Invariant, Schedule: nil})
	require.ErrorContains(t, err, "does not show Invariant")
}

func TestShrinkRespectsAttemptBound(t *testing.T) {
	v := lostUpdate(3, 3)
	for seed := int64(0); seed < 200; seed++ {
		o := RunOnce(v, RunSpec{Seed: seed})
		if !o.Has(checkers.Invariant) || o.Preemptions < 4 {
			continue
		}
		sr, err := Shrink(context.Background(), &InProcessRunner{Variant: v},
			ShrinkOptions{Seed: seed, Kind: checkers.Invariant, Schedule: o.Schedule, MaxAttempts: 3})
		require.NoError(t, err)
		require.False(t, sr.Complete)
		require.Equal(t, 3, sr.Attempts)
		return
	}
	t.Fatal("no failing seed")
}

// TestShrinkDropsFaultsTheFailureDoesNotNeed shrinks a failure whose cause
// is one step of a four-step fault plan: the saved plan keeps that step only,
// and every candidate reached Check as its plan argument.
func TestShrinkDropsFaultsTheFailureDoesNotNeed(t *testing.T) {
	full := faults.Plan{
		{At: 1 * time.Second, Fault: faults.Crash("n1")},
		{At: 2 * time.Second, Fault: faults.Restart("n1")},
		{At: 3 * time.Second, Fault: faults.Partition("n1", "n2")},
		{At: 4 * time.Second, Fault: faults.Crash("n2")},
	}
	var seen []string
	v := Variant{Name: "buggy", Expect: []harness.Kind{checkers.Invariant},
		Faults: func(int64) faults.Plan { return full },
		Check: func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
			seen = append(seen, plan.String())
			res := harness.Run(opts, func() { harness.Yield() })
			for _, s := range plan {
				if s.Fault == faults.Crash("n2") {
					return res, []checkers.Violation{checkers.Violationf(checkers.Invariant, "n2 crashed")}
				}
			}
			return res, nil
		}}
	o := RunOnce(v, RunSpec{Seed: 3})
	require.True(t, o.Failed())
	require.NotNil(t, o.Faults)
	require.Equal(t, full.String(), *o.Faults, "the outcome names the plan the seed made")

	sr, err := Shrink(context.Background(), &InProcessRunner{Variant: v},
		ShrinkOptions{Seed: 3, Kind: checkers.Invariant, Schedule: o.Schedule, Faults: o.Faults})
	require.NoError(t, err)
	require.NotNil(t, sr.Faults)
	want := faults.Plan{{At: 0, Fault: faults.Crash("n2")}} // dropped to one step, then moved to the start
	require.Equal(t, want.String(), *sr.Faults)
	require.Contains(t, seen, want.String(), "the candidate plan reaches Check")
}
