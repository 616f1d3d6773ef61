package scenarios

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/systems/replica"
	"github.com/stretchr/testify/require"
)

// requireReplicaRecovery checks that vs is the Buggy detection: only
// Timeliness, and the bounded-recovery property, not the call deadline.
func requireReplicaRecovery(t *testing.T, seed int64, vs []harness.Violation) {
	t.Helper()
	v := checkers.Verdict{Violations: vs}
	require.Equal(t, []string{"Timeliness"}, v.Kinds(), "seed %d:\n%v", seed, v)
	for _, x := range vs {
		require.True(t, replicaRecoveryMatch(x), "seed %d: the variant's Match takes it: %s", seed, x.Message)
		require.True(t, strings.HasPrefix(x.Message, "bounded recovery: "), "seed %d: %s", seed, x.Message)
		require.Contains(t, x.Message, "moved away from crashed", "seed %d: %s", seed, x.Message)
		require.Contains(t, x.Message, "context deadline exceeded", "seed %d: the stuck calls time out: %s", seed, x.Message)
		require.NotContains(t, x.Message, "call deadline", "seed %d", seed)
	}
}

// TestReplicaBuggyRecovery runs buggy seeds: the first within the budget
// shows the bounded-recovery violation, and every violation of the first
// seeds is that one (the calls that time out return at their deadline:
// Buggy breaks nothing else).
func TestReplicaBuggyRecovery(t *testing.T) {
	c, _ := Lookup("replica")
	buggy, _ := c.Variant("buggy")
	found := int64(-1)
	detected := 0
	for seed := int64(0); seed < 20 || (found < 0 && seed < int64(buggy.Seeds)); seed++ {
		_, vs := buggy.Check(harness.Options{Seed: seed})
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

// TestReplicaSavedSchedule replays the saved, shrunk failing schedule of
// the buggy variant: it must still show the recovery violation.
func TestReplicaSavedSchedule(t *testing.T) {
	saved, err := harness.LoadSaved(harness.DefaultSavedDir(), "replica", "buggy")
	require.NoError(t, err)
	require.NotEmpty(t, saved, "no saved schedule under testdata/heddle/replica/buggy")
	c, _ := Lookup("replica")
	buggy, _ := c.Variant("buggy")
	for _, s := range saved {
		require.Equal(t, "Timeliness", s.Kind, s.Path)
		require.NotEmpty(t, s.Faults, "the fault plan was shrunk too")
		out := harness.RunOnce(buggy, harness.RunSpec{Seed: s.Seed, Replay: true, Schedule: s.Schedule, Faults: s.Faults})
		requireReplicaRecovery(t, s.Seed, out.Violations)
	}
}

// TestReplicaDeterministic: a seed runs the same twice, and its schedule
// replays to the same run.
func TestReplicaDeterministic(t *testing.T) {
	c, _ := Lookup("replica")
	for _, name := range []string{"buggy", "fixed"} {
		v, _ := c.Variant(name)
		a := harness.RunOnce(v, harness.RunSpec{Seed: 5})
		b := harness.RunOnce(v, harness.RunSpec{Seed: 5})
		r := harness.RunOnce(v, harness.RunSpec{Seed: 5, Replay: true, Schedule: a.Schedule})
		require.Equal(t, a.TraceHash, b.TraceHash, name)
		require.Equal(t, a.TraceHash, r.TraceHash, name)
		require.Equal(t, a.Kinds(), b.Kinds(), name)
	}
}

// TestReplicaChecksHaveTeeth runs the fixed variant with a fault in the
// workload's own client code, to show that the checks see it, as the right
// kind.
func TestReplicaChecksHaveTeeth(t *testing.T) {
	// An Incr applied twice needs an ambiguous failure whose retry reaches
	// a primary that already has it: the administrator moves the counter's
	// primary while increments are in flight (the old primary aborts them).
	moveCounter := func(seed int64) string {
		return fmt.Sprintf("move p%d @%dms", replica.PartitionOf("ctr0", DefaultReplicaConfig.Partitions), 1200+seed*37%1000)
	}
	for _, c := range []struct {
		fault, prefix string
		kind          checkers.Kind
		plan          func(seed int64) string
	}{
		{"lose-write", "", checkers.NotLinearizable, nil},                   // a Set recorded, never made
		{"late-return", "call deadline: ", checkers.Timeliness, nil},        // a call past its deadline
		{"blind-incr", "counters: ", checkers.NotLinearizable, moveCounter}, // Incr retried after an abort: applied twice
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultReplicaConfig
			cfg.fault = c.fault
			check := ReplicaCheck(replica.Fixed, cfg)
			seed, v := firstCaught(t, check, 300, func(seed int64) harness.Options {
				opts := harness.Options{Seed: seed}
				if c.plan != nil {
					opts.Faults = c.plan(seed)
				}
				return opts
			})
			require.True(t, v.Has(c.kind), "seed %d: %v", seed, v)
			for _, x := range v.Violations {
				if x.Kind == string(c.kind) {
					require.True(t, strings.HasPrefix(x.Message, c.prefix), "seed %d: %s", seed, x.Message)
				}
				require.False(t, replicaRecoveryMatch(x), "seed %d: not the recovery property: %s", seed, x.Message)
			}
			t.Logf("%s: found at seed %d", c.fault, seed)
		})
	}
}

// TestReplicaPlan: the fault plan notation reads back what it writes, the
// seed's plan is the one a run uses, a bad plan is an error, and the
// shrinker drops every step the violation does not need.
func TestReplicaPlan(t *testing.T) {
	cfg := DefaultReplicaConfig
	kinds := map[string]int{}
	for seed := int64(0); seed < 200; seed++ {
		p := replicaPlanFor(seed, cfg)
		require.Equal(t, p, replicaPlanFor(seed, cfg))
		q, err := parseReplicaPlan(p.String(), cfg)
		require.NoError(t, err, p.String())
		require.Equal(t, p, q, p.String())
		for _, s := range p {
			kinds[s.Kind]++
		}
	}
	for _, k := range []string{"move", "crash", "blackhole", "refresh-crash"} {
		require.Positive(t, kinds[k], "no plan of 200 has a %s", k)
	}
	for _, bad := range []string{"crash", "crash p9 @1s", "move p1 1s", "blackhole r0 @1s", "blackhole r1 @-1s", "explode @1s"} {
		_, err := parseReplicaPlan(bad, cfg)
		require.Error(t, err, bad)
	}

	// A plan given in Options.Faults replaces the seed's: with no crash at
	// all, the buggy client has nothing to be stuck on.
	c, _ := Lookup("replica")
	buggy, _ := c.Variant("buggy")
	_, vs := buggy.Check(harness.Options{Seed: 0, Faults: "move p1 @500ms"})
	require.Empty(t, vs)
	_, vs = buggy.Check(harness.Options{Seed: 0, Faults: "crash p9 @1s"})
	require.Len(t, vs, 1)
	require.Contains(t, vs[0].Message, "fault plan")

	shrunk, err := buggy.ShrinkFaults(3, "move p2 @300ms; crash p1 @600ms; blackhole r2 @900ms; refresh-crash",
		func(plan string) bool { return strings.Contains(plan, "crash p1") })
	require.NoError(t, err)
	require.Equal(t, "crash p1 @600ms", shrunk)
}
