package faults_test

import (
	"context"
	"hash/fnv"
	"slices"
	"testing"
	"time"

	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// recorder wraps a fails function: it checks what Shrink may call it with
// (valid plans, never the original, never twice the same) and keeps the
// calls.
type recorder struct {
	t     require.TestingT
	orig  faults.Plan
	fails func(faults.Plan) bool
	calls []string
}

func (r *recorder) call(p faults.Plan) bool {
	require.NoError(r.t, p.Validate(), "Shrink called fails with an invalid plan")
	text := p.String()
	require.NotEqual(r.t, r.orig.String(), text, "Shrink called fails with the original plan")
	require.NotContains(r.t, r.calls, text, "Shrink called fails twice with the same plan")
	r.calls = append(r.calls, text)
	return r.fails(p)
}

// shrinkBound is the most calls Shrink makes for n steps (its doc comment).
func shrinkBound(n int) int { return n*n + 9*n + 1 }

// has reports whether p holds a step equal to s.
func has(p faults.Plan, s faults.Step) bool { return slices.Contains(p, s) }

func eightSteps(t *testing.T) faults.Plan {
	p, err := faults.ParsePlan("+100ms crash a; +200ms partition b<->c; +300ms move p2; +400ms restart a; " +
		"+500ms delay a->b 20ms; +600ms crash b; +700ms refresh-crash; +800ms heal")
	require.NoError(t, err)
	require.Len(t, p, 8)
	return p
}

// Of 8 steps, the two that together cause the failure are all that is left.
func TestShrinkFindsTheTwoCulprits(t *testing.T) {
	p := eightSteps(t)
	a, b := p[2], p[5] // "+300ms move p2", "+600ms crash b", at exactly these times
	r := &recorder{t: t, orig: p, fails: func(c faults.Plan) bool { return has(c, a) && has(c, b) }}
	got := faults.Shrink(p, r.call)
	require.Equal(t, faults.Plan{a, b}, got)
	require.LessOrEqual(t, len(r.calls), shrinkBound(len(p)))
	// With 2 culprits among 8, the chunk passes find them quickly: far
	// fewer calls than the worst case.
	require.LessOrEqual(t, len(r.calls), 20, "calls: %q", r.calls)
	t.Logf("%d calls (bound %d)", len(r.calls), shrinkBound(len(p)))

	// Deterministic: the same answers give the same calls.
	again := &recorder{t: t, orig: p, fails: r.fails}
	require.Equal(t, got, faults.Shrink(p, again.call))
	require.Equal(t, r.calls, again.calls)
	require.Equal(t, eightSteps(t), p, "Shrink does not change its argument")
}

// A plan that fails only as a whole comes back unchanged.
func TestShrinkNothingToDrop(t *testing.T) {
	p := eightSteps(t)
	r := &recorder{t: t, orig: p, fails: func(c faults.Plan) bool { return c.String() == p.String() }}
	require.Equal(t, p, faults.Shrink(p, r.call))
	require.NotEmpty(t, r.calls)
	require.LessOrEqual(t, len(r.calls), shrinkBound(len(p)))
	t.Logf("%d calls (bound %d)", len(r.calls), shrinkBound(len(p)))

	one := faults.Plan{{At: 5500 * time.Microsecond, Fault: faults.Heal()}}
	r = &recorder{t: t, orig: one, fails: func(faults.Plan) bool { return false }}
	require.Equal(t, one, faults.Shrink(one, r.call))
	require.Equal(t, []string{"none", "+0s heal", "+5ms heal"}, r.calls, "the empty plan, then earlier times")
}

// Steps move earlier, to the previous step's time or a rounder one, as far
// as the failure allows.
func TestShrinkMovesStepsEarlier(t *testing.T) {
	p, err := faults.ParsePlan("+150.123ms crash a; +400.5ms restart a; +700ms heal; +1.2345s move p1")
	require.NoError(t, err)
	crashAt := func(c faults.Plan) time.Duration {
		for _, s := range c {
			if s.Fault == faults.Crash("a") {
				return s.At
			}
		}
		return -1
	}
	// Fails when a crashes at 100ms or later, and p1 moves at 1.2s or later.
	fails := func(c faults.Plan) bool {
		if crashAt(c) < 100*time.Millisecond {
			return false
		}
		return slices.ContainsFunc(c, func(s faults.Step) bool {
			return s.Fault == faults.Act("move", "p1") && s.At >= 1200*time.Millisecond
		})
	}
	r := &recorder{t: t, orig: p, fails: fails}
	got := faults.Shrink(p, r.call)
	require.Equal(t, "+100ms crash a; +1.2s move p1", got.String())
	require.True(t, fails(got))
	require.LessOrEqual(t, len(r.calls), shrinkBound(len(p)))
}

// Empty and invalid plans come back as they are, without a call.
func TestShrinkEmptyOrInvalid(t *testing.T) {
	never := func(faults.Plan) bool { t.Fatal("fails called"); return false }
	require.Nil(t, faults.Shrink(nil, never))
	bad := faults.Plan{{At: 2, Fault: faults.Heal()}, {At: 1, Fault: faults.Heal()}}
	require.Equal(t, bad, faults.Shrink(bad, never))
	require.Equal(t, faults.Plan(nil), faults.Shrink(eightSteps(t), func(faults.Plan) bool { return true }),
		"a failure that needs no fault shrinks to the empty plan")
}

// For any plan and any answers, monotone or not, Shrink stays within its
// bound, calls fails only as it promises, returns a plan that fails (or the
// original), and, when the answers do not depend on time, one from which no
// single step can be dropped.
func TestShrinkProperties(t *testing.T) {
	gen, err := faults.Gen{Nodes: []string{"a", "b", "c"}, Horizon: time.Second, MaxSteps: 14, MaxDown: 2,
		Actions: []faults.ActionGen{{Name: "move", Args: []string{"p0", "p1"}}}}.Generator()
	require.NoError(t, err)
	maxCalls := map[int]int{}
	rapid.Check(t, func(t *rapid.T) {
		p := gen.Draw(t, "plan")
		salt := rapid.Uint64().Draw(t, "salt")
		monotone := rapid.Bool().Draw(t, "monotone")
		var fails func(faults.Plan) bool
		if monotone { // fails when it holds every fault of a random subset
			var need []faults.Fault
			for _, s := range p {
				if rapid.IntRange(0, 3).Draw(t, "need") == 0 {
					need = append(need, s.Fault)
				}
			}
			fails = func(c faults.Plan) bool {
				for _, f := range need {
					if !slices.ContainsFunc(c, func(s faults.Step) bool { return s.Fault == f }) {
						return false
					}
				}
				return true
			}
		} else { // any answer, by a hash of the plan: non-monotone
			fails = func(c faults.Plan) bool {
				h := fnv.New64a()
				h.Write([]byte(c.String()))
				return (h.Sum64()^salt)%3 == 0
			}
		}
		r := &recorder{t: t, orig: p, fails: fails}
		got := faults.Shrink(p, r.call)
		if len(p) == 0 {
			require.Empty(t, r.calls)
			return
		}
		require.LessOrEqual(t, len(r.calls), shrinkBound(len(p)), "n=%d", len(p))
		maxCalls[len(p)] = max(maxCalls[len(p)], len(r.calls))
		require.NoError(t, got.Validate())
		require.LessOrEqual(t, len(got), len(p))
		if got.String() != p.String() {
			require.True(t, fails(got), "the result fails")
		}
		if monotone {
			for i := range got {
				require.False(t, fails(slices.Delete(slices.Clone(got), i, i+1)), "step %d of %s can be dropped", i+1, got)
			}
		}
	})
	t.Logf("most calls by plan length: %v", maxCalls)
}

// On a real service: a generated plan that breaks an echo service shrinks
// to the single fault that does it, and that plan still breaks it.
func TestShrinkOnService(t *testing.T) {
	gen := faults.Gen{Nodes: []string{"server", "client"}, Horizon: 100 * time.Millisecond, MaxSteps: 6,
		Kinds: []faults.Kind{faults.KindCrash, faults.KindPartition, faults.KindDelay, faults.KindHeal}}
	// broken runs the plan against the service, calling it every 20ms.
	broken := func(plan faults.Plan) bool {
		ok := true
		res := harness.Run(harness.Options{Seed: 1}, func() {
			p := newPair(t)
			ctx, cancel := harness.WithCancel(context.Background())
			defer cancel()
			require.NoError(t, faults.Go(ctx, plan, nil))
			for i := 0; i < 6 && ok; i++ {
				_, err := p.call("x", 15*time.Millisecond)
				ok = err == nil
				harness.Sleep(20 * time.Millisecond)
			}
			cancel()
			harness.Sleep(time.Millisecond)
			_ = faults.Apply(faults.Crash("server"))
		})
		require.NoError(t, res.Err())
		return !ok
	}
	var plan faults.Plan
	for seed := int64(0); ; seed++ {
		require.Less(t, seed, int64(100), "no seed's plan breaks the service")
		var err error
		plan, err = gen.Example(seed)
		require.NoError(t, err)
		if len(plan) > 2 && broken(plan) {
			break
		}
	}
	r := &recorder{t: t, orig: plan, fails: broken}
	got := faults.Shrink(plan, r.call)
	require.Len(t, got, 1, "from %s", plan)
	require.True(t, broken(got))
	t.Logf("%s\n  shrinks in %d runs to %s", plan, len(r.calls), got)
}
