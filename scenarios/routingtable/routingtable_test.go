package routingtable

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/routingtable"
)

// TestWorkload checks that the workload does what it says:
// every phase ran, the coordinator pushed, the client's lookups were
// answered, and the aborted rejoin happens on some seeds.
func TestWorkload(t *testing.T) {
	aborted, lookups := 0, 0
	for seed := int64(0); seed < 20; seed++ {
		r := &run{variant: sys.Fixed, cfg: DefaultConfig}
		res := scenarios.Execute(harness.Options{Seed: seed}, r)
		require.NoError(t, res.Err())
		require.True(t, r.Completed())
		require.Empty(t, r.Violations())
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
		versions := map[sys.Version]bool{}
		for _, l := range r.lookups {
			versions[l.version] = true
		}
		require.Greater(t, len(versions), 1, "seed %d: the lookups saw one table version only", seed)
	}
	require.Greater(t, aborted, 0, "no seed shut a member down during its join")
	require.Greater(t, lookups, 200, "too few lookups answered")
	t.Logf("20 seeds: %d lookups answered, %d aborted rejoins", lookups, aborted)
}

// TestBuggyInvariant: without the race detector the buggy
// variant is still caught, by its consequence: a member counts its
// partitions against a zero `this`. (Under -race the race detector would
// report the race in this process; the explorer's child processes
// attribute it instead.)
func TestBuggyInvariant(t *testing.T) {
	if harness.RaceEnabled() {
		t.Skip("the buggy variant races on purpose")
	}
	buggy := mustVariant(t, "buggy")
	for seed := int64(0); seed < 10; seed++ {
		_, vs := buggy.Check(harness.Options{Seed: seed}, nil)
		v := checkers.Verdict{Violations: vs}
		require.Equal(t, []harness.Kind{checkers.Invariant}, v.Kinds(), "seed %d: %v", seed, v)
		for _, x := range vs {
			require.Contains(t, x.Message, "has ownedPartitionCount 0", "seed %d", seed)
		}
	}
}

// TestChecksHaveTeeth runs the fixed variant with a fault in
// the workload's own code, to show that each check sees it, as the right
// kind.
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
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultConfig
			cfg.fault = c.fault
			check := Check(sys.Fixed, cfg)
			_, vs := check(harness.Options{Seed: 1}, nil)
			v := checkers.Verdict{Violations: vs}
			require.Equal(t, []harness.Kind{c.kind}, v.Kinds(), "%v", v)
			require.True(t, strings.Contains(v.String(), c.says), "%v", v)
		})
	}
}

// mustVariant returns the case's variant of that name, or fails the test.
func mustVariant(t *testing.T, name string) explore.Variant {
	t.Helper()
	v, err := Case().Variant(name)
	require.NoError(t, err)
	return v
}
