package scenarios

import (
	"os"
	"testing"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
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
