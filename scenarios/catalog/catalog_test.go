package catalog

import (
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness/heddletest"
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
	for _, c := range All() {
		t.Run(c.Name, func(t *testing.T) {
			opts := heddletest.Options{NoSave: true, NoShrink: true}
			if os.Getenv("HEDDLE_LONG") == "" {
				opts.Seeds = 200
			}
			heddletest.Explore(t, c, opts)
		})
	}
}

// TestEveryCaseIsWellFormed: every registered case names its upstream bug,
// has a buggy variant that expects known violation kinds and says which
// violations are its bug (Match), and a fixed variant with a budget of at
// least 2,000 seeds.
func TestEveryCaseIsWellFormed(t *testing.T) {
	cases := All()
	require.Len(t, cases, 5, "the five race cases the README lists")
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			require.Contains(t, c.Bug, "#", "names the upstream report")
			require.NotEmpty(t, c.Summary)
			require.NoError(t, c.Validate())
			buggy, err := c.Variant("buggy")
			require.NoError(t, err)
			require.NotEmpty(t, buggy.Expect)
			for _, k := range buggy.Expect {
				require.True(t, slices.Contains(checkers.Kinds, k), "unknown kind %q", k)
			}
			require.NotNil(t, buggy.Match, "detection must be the reported bug, not any violation of the kind")
			require.Positive(t, buggy.Seeds)
			fixed, err := c.Variant("fixed")
			require.NoError(t, err)
			require.Empty(t, fixed.Expect)
			require.GreaterOrEqual(t, fixed.Seeds, 2000)
		})
	}
}

func TestLookup(t *testing.T) {
	names := Names()
	require.True(t, slices.IsSorted(names))
	require.Equal(t, []string{"duplicator", "metaclient", "mq", "replica", "routingtable"}, names)
	c, err := Lookup("mq")
	require.NoError(t, err)
	require.Equal(t, "mq", c.Name)
	_, err = Lookup("nope")
	require.EqualError(t, err, `unknown case "nope"; known cases: duplicator, metaclient, mq, replica, routingtable`)
}
