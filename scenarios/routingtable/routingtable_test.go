package routingtable

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/routingtable"
)

// mustVariant returns the case's variant of that name, or fails the test.
func mustVariant(t *testing.T, name string) explore.Variant {
	t.Helper()
	v, err := Case().Variant(name)
	require.NoError(t, err)
	return v
}

// execute runs the workload of seed (with its own fault plan) in a World
// and returns the workload, for tests that look at what it did.
func execute(t *testing.T, v sys.Variant, cfg Config, seed int64) (*run, *harness.Result) {
	t.Helper()
	r := &run{variant: v, cfg: cfg, sh: shapeOf(seed, cfg), plan: planFor(seed, cfg)}
	res := scenarios.Execute(harness.Options{Seed: seed}, r)
	return r, res
}

// TestWorkload checks that the workload does what it says, over 60 Fixed
// seeds: every run completes without a violation, the coordinators push,
// lookups are answered from more than one table version, members are
// inspected, and the fault plans' episodes all happen somewhere: a
// member's node crashes and restarts, a member leaves during its Start (an
// aborted join) and rejoins, a push-crash fires.
func TestWorkload(t *testing.T) {
	seen := map[string]int{}
	for seed := int64(0); seed < 60; seed++ {
		r, res := execute(t, sys.Fixed, DefaultConfig, seed)
		require.NoError(t, res.Err())
		require.True(t, r.Completed(), "seed %d", seed)
		require.Empty(t, r.Violations(), "seed %d", seed)
		require.NotEmpty(t, r.pushes, "seed %d: no push", seed)
		require.GreaterOrEqual(t, len(r.incs), r.sh.members, "seed %d: a member never started", seed)
		versions := map[sys.Version]bool{}
		for _, l := range r.lookups {
			versions[l.version] = true
		}
		if len(versions) > 1 {
			seen["lookups saw several versions"]++
		}
		for _, inc := range r.incs {
			switch {
			case inc.lost:
				seen["member lost in a crash"]++
			case inc.aborted:
				seen["member shut down during its Start"]++
			case inc.err != nil:
				seen["Start failed under faults"]++
			}
			if inc.seq > r.sh.members {
				seen["member made after the joins (restart, rejoin)"]++
			}
		}
		for _, op := range r.ops.Operations() {
			seen["op "+op.Input.(opInput).Op]++
		}
		for _, s := range r.plan {
			seen["plan "+string(s.Fault.Kind)+" "+s.Fault.Action]++
		}
	}
	t.Logf("60 seeds: %v", seen)
	for _, want := range []string{"lookups saw several versions", "member lost in a crash", "member shut down during its Start",
		"member made after the joins (restart, rejoin)", "op start", "op shutdown", "op lookup", "op inspect", "op push",
		"plan crash ", "plan blackhole ", "plan restart ", "plan action leave", "plan action rejoin", "plan action push-crash"} {
		require.Positive(t, seen[want], "never: %s", want)
	}
}

// TestOverlaps shows that the workload calls every operation on a member
// concurrently with every other on that member, in some seeds: over 200
// Fixed seeds it counts, for each pair of operations, the seeds in which
// two of them (on one member's node, per the history's call and return
// order) overlapped. Start against Start is a new member started on a node
// while the Start of the one shut down before it still runs. On a client:
// lookup against lookup (clients that share one) and against Close.
func TestOverlaps(t *testing.T) {
	pairs := map[[2]string]int{}
	for seed := int64(0); seed < 200; seed++ {
		r, res := execute(t, sys.Fixed, DefaultConfig, seed)
		require.NoError(t, res.Err())
		ops := r.ops.Operations()
		found := map[[2]string]bool{}
		for i, a := range ops {
			for _, b := range ops[i+1:] {
				ai, bi := a.Input.(opInput), b.Input.(opInput)
				if ai.Object != bi.Object || !overlap(a, b) {
					continue
				}
				p := [2]string{ai.Op, bi.Op}
				if strings.HasPrefix(ai.Object, "client") {
					p = [2]string{"client " + ai.Op, "client " + bi.Op}
				}
				slices.Sort(p[:])
				found[p] = true
			}
		}
		for p := range found {
			pairs[p]++
		}
	}
	var report []string
	for p, n := range pairs {
		report = append(report, fmt.Sprintf("%s-%s:%d", p[0], p[1], n))
	}
	slices.Sort(report)
	t.Logf("seeds with overlapping operations on one member: %s", strings.Join(report, " "))
	ops := []string{"inspect", "lookup", "push", "shutdown", "start"}
	for i, a := range ops {
		for _, b := range ops[i:] {
			if a == "start" && b == "start" {
				continue
			}
			require.Positive(t, pairs[[2]string{a, b}], "%s and %s never overlap on one member", a, b)
		}
	}
	for _, p := range [][2]string{{"client lookup", "client lookup"}, {"client close", "client lookup"}} {
		require.Positive(t, pairs[p], "%s and %s never overlap on one client", p[0], p[1])
	}
}

// overlap reports whether two recorded operations were in flight at once.
func overlap(a, b harness.Operation) bool {
	end := func(o harness.Operation) int64 {
		if o.Return < 0 {
			return 1 << 62
		}
		return o.Return
	}
	return a.Call < end(b) && b.Call < end(a)
}

// TestBuggyInvariant: without the race detector the buggy variant is
// still caught, by its consequence: a member counts its partitions against
// a zero `this`. Every violation of the first 30 seeds is that one, and
// most seeds show it. (Under -race the race detector would report the race
// in this process; the explorer's child processes attribute it instead.)
func TestBuggyInvariant(t *testing.T) {
	if harness.RaceEnabled() {
		t.Skip("the buggy variant races on purpose")
	}
	buggy := mustVariant(t, "buggy")
	caught := 0
	for seed := int64(0); seed < 30; seed++ {
		_, vs := buggy.Check(harness.Options{Seed: seed}, buggy.Faults(seed))
		for _, x := range vs {
			require.Equal(t, checkers.Invariant, x.Kind, "seed %d: %s", seed, x.Message)
			require.Contains(t, x.Message, "has ownedPartitionCount 0", "seed %d", seed)
			require.True(t, buggy.Finds(x), "seed %d", seed)
		}
		if len(vs) > 0 {
			caught++
		}
	}
	require.GreaterOrEqual(t, caught, 10, "buggy caught in %d of 30 seeds", caught)
	t.Logf("buggy caught in %d of 30 seeds", caught)
}

// TestChecksHaveTeeth runs the Fixed variant with a fault in the
// workload's own code, to show that each check sees it, as the right kind.
func TestChecksHaveTeeth(t *testing.T) {
	for _, c := range []struct {
		fault string
		kind  harness.Kind
		says  string
	}{
		{"stale-lookup", checkers.NotLinearizable, "register"},
		{"wrong-owner", checkers.NotLinearizable, "that table says"},
		{"forget-push", checkers.NotLinearizable, "which no coordinator pushed"},
		{"tight-bootstrap", checkers.Timeliness, "bootstrapped"},
		{"no-shutdown", harness.Leak, "leak"},
		{"leak-conn", harness.Leak, "dialed connection m"},
		{"leak-timer", harness.Leak, "the clock ran on"},
		{"forget-leave", checkers.Invariant, "did not settle"},
		{"stray-recv", harness.Leak, "still in network calls after Shutdown returned"},
		{"early-check", checkers.Invariant, "its leave was not announced"},
		{"slow-abort", checkers.Timeliness, "it kept waiting once the member was shut down"},
		{"closed-answers", checkers.Invariant, "after it was closed"},
		{"leak-deadline", harness.Leak, "quiet moments"},
		{"slow-read", checkers.Timeliness, "reading its state"},
		{"impatient-wait", checkers.Timeliness, "a second Shutdown"},
		{"start-twice", checkers.Invariant, "a second Start"},
		{"hung-shutdown", checkers.Timeliness, "Shutdown has not returned"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultConfig
			cfg.fault = c.fault
			seed, v := scenarios.FirstCaught(t, Check(sys.Fixed, cfg), Faults(cfg), 100, nil)
			require.Equal(t, []harness.Kind{c.kind}, v.Kinds(), "seed %d: %v", seed, v)
			require.Contains(t, v.String(), c.says, "seed %d", seed)
			t.Logf("caught at seed %d: %s", seed, firstLine(v.Violations[0].Message))
		})
	}
}

// TestHalfOpenTeeth: with the end of m1's first accepted connection never
// really closed, the check that a member closes the connections whose
// dialer hung up sees it, as a Leak (so do the checks of what a member
// holds once shut down, when m1's member shuts down first).
func TestHalfOpenTeeth(t *testing.T) {
	cfg := DefaultConfig
	cfg.fault = "keep-accepted"
	check := Check(sys.Fixed, cfg)
	// The first seed whose verdict names the half-open connection.
	halfOpen := func(o harness.Options, p faults.Plan) (*harness.Result, []checkers.Violation) {
		res, vs := check(o, p)
		if !strings.Contains(checkers.Verdict{Violations: vs}.String(), "did not close its end on the end of stream") {
			return res, nil
		}
		return res, vs
	}
	seed, v := scenarios.FirstCaught(t, halfOpen, Faults(cfg), 300, nil)
	require.Equal(t, []harness.Kind{harness.Leak}, v.Kinds(), "seed %d: %v", seed, v)
	t.Logf("caught at seed %d", seed)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// TestPlans: every seed's plan is valid for its cluster, the same seed
// gives the same plan, plans read back from their notation, and over 500
// seeds the generator uses every fault and action, aims at joins (a step
// within 20ms after a member starts), and sometimes plans nothing.
func TestPlans(t *testing.T) {
	kinds := map[string]int{}
	atJoin, empty := 0, 0
	for seed := int64(0); seed < 500; seed++ {
		p := planFor(seed, DefaultConfig)
		sh := shapeOf(seed, DefaultConfig)
		require.NoError(t, checkPlan(p, sh.members), "seed %d: %s", seed, p)
		require.Equal(t, p, planFor(seed, DefaultConfig))
		back, err := faults.ParsePlan(p.String())
		require.NoError(t, err)
		require.Equal(t, p.String(), back.String())
		if len(p) == 0 {
			empty++
		}
		for _, s := range p {
			kinds[string(s.Fault.Kind)+" "+s.Fault.Action]++
			for _, at := range sh.startAt {
				if s.At >= at && s.At < at+20_000_000 {
					atJoin++
				}
			}
		}
	}
	t.Logf("500 plans: %v; %d steps aimed at a join; %d empty", kinds, atJoin, empty)
	for _, k := range []string{"crash ", "blackhole ", "restart ", "action leave", "action rejoin", "action push-crash"} {
		require.Positive(t, kinds[k], "no %q step", k)
	}
	require.Positive(t, atJoin)
	require.Positive(t, empty)
}

// TestPlanChecked: a plan the workload cannot carry out is refused before
// the run, as a violation naming the step.
func TestPlanChecked(t *testing.T) {
	fixed := mustVariant(t, "fixed")
	for _, bad := range []string{"+1s crash m9", "+1s partition m1<->m2", "+1s leave", "+1s leave m1 0", "+1s leave m1 two", "+1s push-crash m1 sideways", "+1s move p1"} {
		p, err := faults.ParsePlan(bad)
		require.NoError(t, err)
		res, vs := fixed.Check(harness.Options{Seed: 0}, p)
		require.Zero(t, res.Steps, bad)
		require.Len(t, vs, 1, bad)
		require.Contains(t, vs[0].Message, "cannot run", bad)
	}
	good, err := faults.ParsePlan("+5ms leave m1; +300ms rejoin m1; +400ms push-crash m2 blackhole; +2s restart m2; +2.5s leave m1 2")
	require.NoError(t, err)
	res, vs := fixed.Check(harness.Options{Seed: 1}, good)
	require.NoError(t, res.Err())
	require.Empty(t, vs)
}

// TestSavedSchedule replays the saved, shrunk failing schedule of the
// buggy variant, in process and without -race (under -race the report of
// the race would fail this test; the explorer's workers check the race):
// its invariant must break too. The saved schedule is a DataRace one: with
// seeds of a few thousand steps, `heddle replay` reports the race in 20 of
// 20 fresh processes, where the long seeds of the old workload had it
// reported in about half.
func TestSavedSchedule(t *testing.T) {
	if harness.RaceEnabled() {
		t.Skip("the buggy variant races on purpose")
	}
	saved, err := explore.LoadSaved(explore.DefaultSavedDir(), "routingtable", "buggy")
	require.NoError(t, err)
	require.NotEmpty(t, saved, "no saved schedule under testdata/heddle/routingtable/buggy")
	buggy := mustVariant(t, "buggy")
	for _, s := range saved {
		require.Contains(t, []harness.Kind{harness.DataRace, checkers.Invariant}, s.Kind, s.Path)
		out := explore.RunOnce(buggy, explore.RunSpec{Seed: s.Seed, Replay: true, Strict: true, Schedule: s.Schedule, Faults: s.Faults})
		x, ok := buggy.FoundIn(out.Violations, checkers.Invariant)
		require.True(t, ok, "%s: %v", s.Path, out.Violations)
		require.Contains(t, x.Message, "has ownedPartitionCount 0")
	}
}

// TestDeterministic: a seed runs the same twice (the buggy variant only
// without -race, for it races on purpose).
func TestDeterministic(t *testing.T) {
	names := []string{"buggy", "fixed"}
	if harness.RaceEnabled() {
		names = names[1:]
	}
	for _, name := range names {
		v := mustVariant(t, name)
		for seed := int64(0); seed < 5; seed++ {
			a := explore.RunOnce(v, explore.RunSpec{Seed: seed})
			b := explore.RunOnce(v, explore.RunSpec{Seed: seed})
			require.Equal(t, a.TraceHash, b.TraceHash, "%s seed %d", name, seed)
			require.Equal(t, a.Steps, b.Steps)
		}
	}
}

// BenchmarkFixedSeed runs Fixed seeds one after another and reports the
// scheduling steps per seed (the measure of a seed's length that does not
// depend on the machine).
func BenchmarkFixedSeed(b *testing.B) {
	v, err := Case().Variant("fixed")
	require.NoError(b, err)
	steps := 0
	for i := range b.N {
		o := explore.RunOnce(v, explore.RunSpec{Seed: int64(i % 2000)})
		if o.Failed() {
			b.Fatalf("seed %d: %v", i%2000, o.Violations)
		}
		steps += o.Steps
	}
	b.ReportMetric(float64(steps)/float64(b.N), "steps/seed")
}
