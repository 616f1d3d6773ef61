package scenarios

import (
	"os"
	"slices"
	"testing"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/stretchr/testify/require"
)

// TestCases explores every registered race case the way a user's go test
// would: each case's saved failures are re-run first; a Buggy variant passes
// when its bug is found as one of its expected violation kinds (its seeds run
// in child processes under -race, so the race detector's report is
// attributed to its seed); a Fixed variant must pass every seed, each one a
// subtest. With HEDDLE_LONG=1 every variant gets its full seed budget (Fixed:
// at least 2,000 seeds); by default the sweep is shortened to keep make test
// quick.
func TestCases(t *testing.T) {
	cases := All()
	if len(cases) == 0 {
		t.Skip("no cases registered")
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			opts := harness.ExploreOptions{NoSave: true, NoShrink: true, ParseRaces: checkers.ParseRaceReports}
			if os.Getenv("HEDDLE_LONG") == "" {
				opts.Seeds = 200
			}
			harness.Explore(t, c, opts)
		})
	}
}

// TestEveryCaseIsWellFormed: every registered case names its upstream bug,
// has a buggy variant that expects known violation kinds and says which
// violations are its bug (Match), and a fixed variant with a budget of at
// least 2,000 seeds.
func TestEveryCaseIsWellFormed(t *testing.T) {
	cases := All()
	require.Len(t, cases, 5, "the five race cases of CASES.md")
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			require.Contains(t, c.Bug, "#", "names the upstream report")
			require.NotEmpty(t, c.Summary)
			buggy, ok := c.Variant("buggy")
			require.True(t, ok)
			require.NotEmpty(t, buggy.Expect)
			for _, k := range buggy.Expect {
				require.True(t, slices.Contains(checkers.Kinds, checkers.Kind(k)), "unknown kind %q", k)
			}
			require.NotNil(t, buggy.Match, "detection must be the reported bug, not any violation of the kind")
			require.Positive(t, buggy.Seeds)
			fixed, ok := c.Variant("fixed")
			require.True(t, ok)
			require.Empty(t, fixed.Expect)
			require.GreaterOrEqual(t, fixed.Seeds, 2000)
		})
	}
}

// firstCaught runs check on seeds 0, 1, ... (with the options opts makes for
// a seed; nil: only the seed) until one shows a violation, and returns that
// seed and its verdict. It fails the test if none does within n seeds: the
// "checks have teeth" tests use it to show a deliberately broken workload
// is caught.
func firstCaught(t *testing.T, check func(harness.Options) (*harness.Result, []harness.Violation), n int, opts func(seed int64) harness.Options) (int64, checkers.Verdict) {
	t.Helper()
	for seed := int64(0); seed < int64(n); seed++ {
		o := harness.Options{Seed: seed}
		if opts != nil {
			o = opts(seed)
		}
		if _, vs := check(o); len(vs) > 0 {
			return seed, checkers.Verdict{Violations: vs}
		}
	}
	t.Fatalf("went unnoticed for %d seeds", n)
	return 0, checkers.Verdict{}
}
