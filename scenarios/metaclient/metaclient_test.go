package metaclient

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/metaclient"
)

// TestBuggyLeaks finds the leak in this process: with three
// metas, all known to the clients, no forward names an unknown address,
// nothing is appended and the buggy variant has no data race to report;
// its backup goroutines still outlive Run.
func TestBuggyLeaks(t *testing.T) {
	cfg := DefaultConfig
	cfg.Metas = 3
	check := Check(sys.Buggy, cfg)
	for seed := int64(0); seed < 100; seed++ {
		_, vs := check(harness.Options{Seed: seed}, nil)
		if len(vs) == 0 {
			continue
		}
		verdict := checkers.Verdict{Violations: vs}
		for _, v := range vs {
			require.Equal(t, harness.Leak, v.Kind, "seed %d: %v", seed, verdict)
			require.Contains(t, v.Message, "still running after Run returned")
		}
		t.Logf("seed %d: %s", seed, vs[0].Message)
		return
	}
	t.Fatal("no leak in 100 seeds")
}

// TestFixedThreeMetas runs the fixed variant where every meta is
// known (no appends), as the buggy one above.
func TestFixedThreeMetas(t *testing.T) {
	cfg := DefaultConfig
	cfg.Metas = 3
	check := Check(sys.Fixed, cfg)
	for seed := int64(0); seed < 100; seed++ {
		_, vs := check(harness.Options{Seed: seed}, nil)
		require.Empty(t, vs, "seed %d:\n%v", seed, checkers.Verdict{Violations: vs})
	}
}

// TestChecksHaveTeeth runs the fixed variant with a fault in the
// workload's own side, to show that each check sees it, as the right kind.
func TestChecksHaveTeeth(t *testing.T) {
	for _, c := range []struct {
		fault string
		kind  harness.Kind
		says  string
	}{
		{"stale-read", checkers.NotLinearizable, "register"},
		{"wrong-leader", checkers.Invariant, "leader index"},
		{"short-addrs", checkers.Invariant, "list consistency"},
		{"slow-call", checkers.Timeliness, "latency with a live leader"},
		{"skip-cancel", checkers.Timeliness, "did not return within their deadline"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultConfig
			cfg.fault = c.fault
			check := Check(sys.Fixed, cfg)
			seed, verdict := scenarios.FirstCaught(t, check, nil, 100, nil)
			require.True(t, verdict.Has(c.kind), "seed %d: %v", seed, verdict)
			require.Contains(t, verdict.String(), c.says)
		})
	}
}

// TestRealMode runs the fixed variant once with real goroutines
// and real time (a few seconds: the backup delay is real).
func TestRealMode(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	fixed := mustVariant(t, "fixed")
	res, vs := fixed.Check(harness.Options{Seed: 1, Mode: harness.Real}, nil)
	require.Empty(t, vs, "%v", checkers.Verdict{Violations: vs})
	require.False(t, res.Failed())
}

// mustVariant returns the case's variant of that name, or fails the test.
func mustVariant(t *testing.T, name string) explore.Variant {
	t.Helper()
	v, err := Case().Variant(name)
	require.NoError(t, err)
	return v
}
