package scenarios

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/systems/routingtable"
)

// TestRoutingTableWorkload checks that the workload does what it says:
// every phase ran, the coordinator pushed, the client's lookups were
// answered, and the aborted rejoin happens on some seeds.
func TestRoutingTableWorkload(t *testing.T) {
	aborted, lookups := 0, 0
	for seed := int64(0); seed < 20; seed++ {
		r := &rtRun{variant: routingtable.Fixed, cfg: DefaultRoutingTableConfig}
		res := harness.Run(harness.Options{Seed: seed}, r.main)
		require.NoError(t, res.Err())
		require.True(t, r.done)
		require.Empty(t, r.vs)
		require.GreaterOrEqual(t, len(r.pushes), 5, "seed %d", seed)
		require.GreaterOrEqual(t, len(r.lookups), 3, "seed %d", seed)
		lookups += len(r.lookups)
		// 5 joins, a rejoin (maybe after an aborted one), a restart.
		require.GreaterOrEqual(t, len(r.incs), 7)
		for _, inc := range r.incs {
			if inc.aborted {
				aborted++
				require.Error(t, inc.err, "seed %d: the aborted Start succeeded", seed)
			}
		}
		versions := map[routingtable.Version]bool{}
		for _, l := range r.lookups {
			versions[l.version] = true
		}
		require.Greater(t, len(versions), 1, "seed %d: the lookups saw one table version only", seed)
	}
	require.Greater(t, aborted, 0, "no seed shut a member down during its join")
	require.Greater(t, lookups, 200, "too few lookups answered")
	t.Logf("20 seeds: %d lookups answered, %d aborted rejoins", lookups, aborted)
}

// TestRoutingTableBuggyInvariant: without the race detector the buggy
// variant is still caught, by its consequence: a member counts its
// partitions against a zero `this`. (Under -race the race detector would
// report the race in this process; the explorer's child processes
// attribute it instead.)
func TestRoutingTableBuggyInvariant(t *testing.T) {
	if harness.RaceEnabled() {
		t.Skip("the buggy variant races on purpose")
	}
	c, _ := Lookup("routingtable")
	buggy, _ := c.Variant("buggy")
	for seed := int64(0); seed < 10; seed++ {
		_, vs := buggy.Check(harness.Options{Seed: seed})
		v := checkers.Verdict{Violations: vs}
		require.Equal(t, []string{"Invariant"}, v.Kinds(), "seed %d: %v", seed, v)
		for _, x := range vs {
			require.Contains(t, x.Message, "has ownedPartitionCount 0", "seed %d", seed)
		}
	}
}

// TestRoutingTableChecksHaveTeeth runs the fixed variant with a fault in
// the workload's own code, to show that each check sees it, as the right
// kind.
func TestRoutingTableChecksHaveTeeth(t *testing.T) {
	for _, c := range []struct {
		fault string
		kind  checkers.Kind
		says  string
	}{
		{"stale-lookup", checkers.NotLinearizable, "register"},
		{"wrong-owner", checkers.NotLinearizable, "that table says"},
		{"forget-push", checkers.NotLinearizable, "which no coordinator pushed"},
		{"tight-bootstrap", checkers.Timeliness, "bootstrapped"},
		{"no-shutdown", checkers.Leak, "leak"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultRoutingTableConfig
			cfg.fault = c.fault
			check := RoutingTableCheck(routingtable.Fixed, cfg)
			_, vs := check(harness.Options{Seed: 1})
			v := checkers.Verdict{Violations: vs}
			require.Equal(t, []string{string(c.kind)}, v.Kinds(), "%v", v)
			require.True(t, strings.Contains(v.String(), c.says), "%v", v)
		})
	}
}
