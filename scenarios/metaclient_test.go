package scenarios

import (
	"testing"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/systems/metaclient"
	"github.com/stretchr/testify/require"
)

// TestMetaClientBuggyLeaks finds the leak in this process: with three
// metas, all known to the clients, no forward names an unknown address,
// nothing is appended and the buggy variant has no data race to report;
// its backup goroutines still outlive Run.
func TestMetaClientBuggyLeaks(t *testing.T) {
	cfg := DefaultMetaClientConfig
	cfg.Metas = 3
	check := MetaClientCheck(metaclient.Buggy, cfg)
	for seed := int64(0); seed < 100; seed++ {
		_, vs := check(harness.Options{Seed: seed})
		if len(vs) == 0 {
			continue
		}
		verdict := checkers.Verdict{Violations: vs}
		for _, v := range vs {
			require.Equal(t, string(checkers.Leak), v.Kind, "seed %d: %v", seed, verdict)
			require.Contains(t, v.Message, "still running after Run returned")
		}
		t.Logf("seed %d: %s", seed, vs[0].Message)
		return
	}
	t.Fatal("no leak in 100 seeds")
}

// TestMetaClientFixedThreeMetas runs the fixed variant where every meta is
// known (no appends), as the buggy one above.
func TestMetaClientFixedThreeMetas(t *testing.T) {
	cfg := DefaultMetaClientConfig
	cfg.Metas = 3
	check := MetaClientCheck(metaclient.Fixed, cfg)
	for seed := int64(0); seed < 100; seed++ {
		_, vs := check(harness.Options{Seed: seed})
		require.Empty(t, vs, "seed %d:\n%v", seed, checkers.Verdict{Violations: vs})
	}
}

// TestMetaClientChecksHaveTeeth runs the fixed variant with a fault in the
// workload's own side, to show that each check sees it, as the right kind.
func TestMetaClientChecksHaveTeeth(t *testing.T) {
	for _, c := range []struct {
		fault string
		kind  checkers.Kind
		says  string
	}{
		{"stale-read", checkers.NotLinearizable, "register"},
		{"wrong-leader", checkers.Invariant, "leader index"},
		{"short-addrs", checkers.Invariant, "list consistency"},
		{"slow-call", checkers.Timeliness, "latency with a live leader"},
		{"skip-cancel", checkers.Timeliness, "did not return within their deadline"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			cfg := DefaultMetaClientConfig
			cfg.fault = c.fault
			check := MetaClientCheck(metaclient.Fixed, cfg)
			seed, verdict := firstCaught(t, check, 100, nil)
			require.True(t, verdict.Has(c.kind), "seed %d: %v", seed, verdict)
			require.Contains(t, verdict.String(), c.says)
		})
	}
}

// TestMetaClientRealMode runs the fixed variant once with real goroutines
// and real time (a few seconds: the backup delay is real).
func TestMetaClientRealMode(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	c, _ := Lookup("metaclient")
	fixed, _ := c.Variant("fixed")
	res, vs := fixed.Check(harness.Options{Seed: 1, Mode: harness.Real})
	require.Empty(t, vs, "%v", checkers.Verdict{Violations: vs})
	require.False(t, res.Failed())
}
