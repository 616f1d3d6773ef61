package replica

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/replica"
)

// requireReplicaRecovery checks that vs is the Buggy detection: only
// Timeliness, and the bounded-recovery property, not the call deadline.
func requireReplicaRecovery(t *testing.T, seed int64, vs []checkers.Violation) {
	t.Helper()
	v := checkers.Verdict{Violations: vs}
	require.Equal(t, []harness.Kind{checkers.Timeliness}, v.Kinds(), "seed %d:\n%v", seed, v)
	for _, x := range vs {
		require.True(t, recoveryMatch(x), "seed %d: the variant's Match takes it: %s", seed, x.Message)
		require.True(t, strings.HasPrefix(x.Message, "bounded recovery: "), "seed %d: %s", seed, x.Message)
		require.Contains(t, x.Message, "moved away from crashed", "seed %d: %s", seed, x.Message)
		require.Contains(t, x.Message, "context deadline exceeded", "seed %d: the stuck calls time out: %s", seed, x.Message)
		require.NotContains(t, x.Message, "call deadline", "seed %d", seed)
	}
}

// TestBuggyRecovery runs buggy seeds: the first within the budget
// shows the bounded-recovery violation, and every violation of the first
// seeds is that one (the calls that time out return at their deadline:
// Buggy breaks nothing else).
func TestBuggyRecovery(t *testing.T) {
	buggy := mustVariant(t, "buggy")
	found := int64(-1)
	detected := 0
	for seed := int64(0); seed < 20 || (found < 0 && seed < int64(buggy.Seeds)); seed++ {
		_, vs := buggy.Check(harness.Options{Seed: seed}, buggy.Faults(seed))
		if len(vs) == 0 {
			continue
		}
		requireReplicaRecovery(t, seed, vs)
		detected++
		if found < 0 {
			found = seed
		}
	}
	require.GreaterOrEqual(t, found, int64(0), "buggy not detected within its budget of %d seeds", buggy.Seeds)
	t.Logf("buggy: first detection at seed %d; %d of the first 20 seeds detect it", found, detected)
}

// TestSavedSchedule replays the saved, shrunk failing schedule of
// the buggy variant: it must still show the recovery violation.
func TestSavedSchedule(t *testing.T) {
	saved, err := explore.LoadSaved(explore.DefaultSavedDir(), "replica", "buggy")
	require.NoError(t, err)
	require.NotEmpty(t, saved, "no saved schedule under testdata/heddle/replica/buggy")
	buggy := mustVariant(t, "buggy")
	for _, s := range saved {
		require.Equal(t, checkers.Timeliness, s.Kind, s.Path)
		require.NotNil(t, s.Faults, "the fault plan was saved")
		plan, err := faults.ParsePlan(*s.Faults)
		require.NoError(t, err)
		require.Less(t, len(plan), len(planFor(s.Seed, DefaultConfig)), "the fault plan was shrunk too")
		out := explore.RunOnce(buggy, explore.RunSpec{Seed: s.Seed, Replay: true, Schedule: s.Schedule, Faults: s.Faults})
		requireReplicaRecovery(t, s.Seed, out.Violations)
	}
}

// TestDeterministic: a seed runs the same twice, and its schedule
// replays to the same run.
func TestDeterministic(t *testing.T) {
	for _, name := range []string{"buggy", "fixed"} {
		v := mustVariant(t, name)
		a := explore.RunOnce(v, explore.RunSpec{Seed: 5})
		b := explore.RunOnce(v, explore.RunSpec{Seed: 5})
		r := explore.RunOnce(v, explore.RunSpec{Seed: 5, Replay: true, Schedule: a.Schedule})
		require.NotZero(t, a.TraceHash, name)
		require.Equal(t, a.TraceHash, b.TraceHash, name)
		require.Equal(t, a.TraceHash, r.TraceHash, name)
		require.Equal(t, a.Kinds(), b.Kinds(), name)
	}
}

// TestChecksHaveTeeth runs the fixed variant with a fault in the
// workload's own client code, to show that the checks see it, as the right
// kind.
func TestChecksHaveTeeth(t *testing.T) {
	// An Incr applied twice needs an ambiguous failure whose retry reaches
	// a primary that already has it: the administrator moves the counter's
	// primary while increments are in flight (the old primary aborts them).
	moveCounter := func(seed int64) faults.Plan {
		return faults.Plan{{At: time.Duration(1200+seed*37%1000) * time.Millisecond,
			Fault: faults.Act(actMove, fmt.Sprintf("p%d", sys.PartitionOf("ctr0", DefaultConfig.Partitions)))}}
	}
	for _, c := range []struct {
		fault, prefix string
		kind          harness.Kind
		plan          func(seed int64) faults.Plan
	}{
		{"lose-write", "", checkers.NotLinearizable, nil},                   // a Set recorded, never made
		{"late-return", "call deadline: ", checkers.Timeliness, nil},        // a call past its deadline
		{"blind-incr", "counters: ", checkers.NotLinearizable, moveCounter}, // Incr retried after an abort: applied twice
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultConfig
			cfg.fault = c.fault
			check := Check(sys.Fixed, cfg)
			plan := c.plan
			if plan == nil {
				plan = Faults(cfg)
			}
			seed, v := scenarios.FirstCaught(t, check, plan, 300, nil)
			require.True(t, v.Has(c.kind), "seed %d: %v", seed, v)
			for _, x := range v.Violations {
				if x.Kind == c.kind {
					require.True(t, strings.HasPrefix(x.Message, c.prefix), "seed %d: %s", seed, x.Message)
				}
				require.False(t, recoveryMatch(x), "seed %d: not the recovery property: %s", seed, x.Message)
			}
			t.Logf("%s: found at seed %d", c.fault, seed)
		})
	}
}

// TestPlan: the seed's plan is made of the case's actions, every kind of
// them shows up, it reads back from its text, a plan the workload cannot
// carry out is an error, and a plan given to Check replaces the seed's.
func TestPlan(t *testing.T) {
	cfg := DefaultConfig
	kinds := map[string]int{}
	for seed := int64(0); seed < 200; seed++ {
		p := planFor(seed, cfg)
		require.Equal(t, p, planFor(seed, cfg))
		require.NoError(t, checkPlan(p, cfg), p.String())
		q, err := faults.ParsePlan(p.String())
		require.NoError(t, err, p.String())
		require.Equal(t, p, q, p.String())
		for _, s := range p {
			kinds[s.Fault.Action]++
		}
	}
	for _, k := range []string{actMove, actCrashPrimary, actBlackHole, actRefreshCrash} {
		require.Positive(t, kinds[k], "no plan of 200 has a %s", k)
	}
	for _, bad := range []string{"+1s crash r1", "+1s crash-primary p9", "+1s move 1", "+1s blackhole-replica r0",
		"+1s refresh-crash now", "+1s explode p1"} {
		p, err := faults.ParsePlan(bad)
		require.NoError(t, err, bad)
		require.Error(t, checkPlan(p, cfg), bad)
	}

	// A given plan replaces the seed's: with no crash at all, the buggy
	// client has nothing to be stuck on.
	buggy := mustVariant(t, "buggy")
	move, err := faults.ParsePlan("+500ms move p1")
	require.NoError(t, err)
	_, vs := buggy.Check(harness.Options{Seed: 0}, move)
	require.Empty(t, vs)
	bad, err := faults.ParsePlan("+1s crash-primary p9")
	require.NoError(t, err)
	_, vs = buggy.Check(harness.Options{Seed: 0}, bad)
	require.Len(t, vs, 1)
	require.Contains(t, vs[0].Message, "fault plan")
}

// mustVariant returns the case's variant of that name, or fails the test.
func mustVariant(t *testing.T, name string) explore.Variant {
	t.Helper()
	v, err := Case().Variant(name)
	require.NoError(t, err)
	return v
}
