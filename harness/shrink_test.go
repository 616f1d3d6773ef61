package harness

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// lostUpdate is a check-then-act race: every worker reads the counter under
// the lock, lets go, and writes back what it read plus one. Noise goroutines
// only yield, to give a random walk many irrelevant preemptions.
func lostUpdate(workers, noise int) Variant {
	return Variant{
		Name:   "buggy",
		Expect: []string{"Invariant"},
		Check: func(opts Options) (*Result, []Violation) {
			var mu Mutex
			var wg WaitGroup
			x := 0
			res := Run(opts, func() {
				for i := 0; i < workers; i++ {
					wg.Go(func() {
						mu.Lock()
						v := x
						mu.Unlock()
						Yield()
						mu.Lock()
						x = v + 1
						mu.Unlock()
					})
				}
				for i := 0; i < noise; i++ {
					wg.Go(func() {
						for j := 0; j < 5; j++ {
							Yield()
						}
					})
				}
				wg.Wait()
			})
			var vs []Violation
			if x != workers {
				vs = append(vs, Violation{Kind: "Invariant", Message: fmt.Sprintf("counter is %d after %d increments", x, workers)})
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
		if o.Has("Invariant") && o.Preemptions >= 6 {
			first = o
			break
		}
	}
	require.True(t, first.Failed(), "no failing seed with >= 6 preemptions in 200")

	r := &InProcessRunner{Variant: v}
	sr, err := Shrink(context.Background(), r, ShrinkOptions{Seed: first.Seed, Kind: "Invariant", Schedule: first.Schedule})
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
		require.True(t, o.Has("Invariant"))
		require.Equal(t, sr.Preemptions, o.Preemptions)
	}
}

func TestShrinkRejectsAScheduleThatDoesNotFail(t *testing.T) {
	v := lostUpdate(2, 0)
	_, err := Shrink(context.Background(), &InProcessRunner{Variant: v}, ShrinkOptions{Seed: 1, Kind: "Invariant", Schedule: nil})
	require.ErrorContains(t, err, "does not show Invariant")
}

func TestShrinkRespectsAttemptBound(t *testing.T) {
	v := lostUpdate(3, 3)
	for seed := int64(0); seed < 200; seed++ {
		o := RunOnce(v, RunSpec{Seed: seed})
		if !o.Has("Invariant") || o.Preemptions < 4 {
			continue
		}
		sr, err := Shrink(context.Background(), &InProcessRunner{Variant: v},
			ShrinkOptions{Seed: seed, Kind: "Invariant", Schedule: o.Schedule, MaxAttempts: 3})
		require.NoError(t, err)
		require.False(t, sr.Complete)
		require.Equal(t, 3, sr.Attempts)
		return
	}
	t.Fatal("no failing seed")
}

func TestFaultShrinkerHook(t *testing.T) {
	v := lostUpdate(2, 0)
	var o Outcome
	for seed := int64(0); !o.Failed(); seed++ {
		o = RunOnce(v, RunSpec{Seed: seed})
	}
	var plans []string // the plans the runs were asked to use
	shrinkFaults := func(seed int64, plan string, reproduces func(string) bool) (string, error) {
		require.Equal(t, o.Seed, seed)
		require.Equal(t, "", plan, "the failing run used its seed's own plan")
		require.True(t, reproduces("crash n1 at 1s"))
		return "shortest", nil
	}
	recording := Variant{Check: func(opts Options) (*Result, []Violation) {
		plans = append(plans, opts.Faults)
		return v.Check(opts)
	}}
	sr, err := Shrink(context.Background(), &InProcessRunner{Variant: recording},
		ShrinkOptions{Seed: o.Seed, Kind: "Invariant", Schedule: o.Schedule, ShrinkFaults: shrinkFaults})
	require.NoError(t, err)
	require.Equal(t, "shortest", sr.Faults)
	require.Contains(t, plans, "crash n1 at 1s", "the candidate plan reaches Check through Options.Faults")
}
