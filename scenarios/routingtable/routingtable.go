package routingtable

import (
	"fmt"
	"strings"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/routingtable"
)

// Case is race case 3: Olric v0.5.5, RoutingTable.Start against the
// UPDATEROUTING handler (buraksezer/olric #247, fixed by #248 in v0.5.6).
// Each seed draws a cluster (two to five members, started at random
// moments, with Olric's and memberlist's configurations drawn around their
// defaults), clients that look partition owners up while members join, an
// inspector that reads members' state, and a fault plan (see Faults) of
// crashes, black holes, restarts, leaves, rejoins and crashes or leaves
// during pushes, aimed at the joins, the coordinator and the pushes. Every
// run ends with Starts cut short by Shutdowns on each node (see
// abortStarts). Buggy must show the
// data race on `this` (Start's write against setOwnedPartitionCount's read)
// or its consequence, an ownedPartitionCount counted for a zero member;
// Fixed must pass every check.
func Case() explore.Case {
	return explore.Case{
		Name:    "routingtable",
		Bug:     "buraksezer/olric #247 (fix #248, v0.5.6)",
		Summary: "Olric v0.5.5: a routing-table push handled while Start joins reads `this` as Start writes it (data race); ownedPartitionCount is then counted for a zero member until the next push",
		Variants: []explore.Variant{
			{
				Name:   "buggy",
				Expect: []harness.Kind{harness.DataRace, checkers.Invariant},
				Match:  isTheBug,
				Seeds:  100,
				Faults: Faults(DefaultConfig),
				Check:  Check(sys.Buggy, DefaultConfig),
			},
			{
				Name:   "fixed",
				Seeds:  2000,
				Faults: Faults(DefaultConfig),
				Check:  Check(sys.Fixed, DefaultConfig),
			},
		},
	}
}

// isTheBug tells #247 from any other violation of the same kinds: the
// race must be on `this` between join (Start's assignment) and
// setOwnedPartitionCount, the invariant must be the ownedPartitionCount one.
func isTheBug(v checkers.Violation) bool {
	switch v.Kind {
	case harness.DataRace:
		return strings.Contains(v.Message, "setOwnedPartitionCount") && strings.Contains(v.Message, "(*RoutingTable).join")
	case checkers.Invariant:
		return strings.Contains(v.Message, "has ownedPartitionCount")
	}
	return false
}

// Config bounds the workloads the seeds draw.
type Config struct {
	// MinMembers and MaxMembers bound the size of the cluster.
	MinMembers, MaxMembers int

	// fault breaks the workload's own code on purpose, for the tests that
	// show the checks can fail: "stale-lookup" (the client records the
	// initial version for a key it read before), "wrong-owner" (it records
	// another owner), "no-shutdown" (one member is never shut down),
	// "tight-bootstrap" (bootstrap must take under a millisecond),
	// "forget-push" (the workload forgets the pushes that succeeded),
	// "leak-conn" (m1's first dialed connection is never really closed),
	// "leak-timer" (a client arms a ticker it never stops), "forget-leave"
	// (the final checks take members that left for live ones),
	// "stray-recv" (a goroutine of the first member's node still waits on
	// one of its connections after its Shutdown), "early-check" (the check
	// that a leave was announced runs before Shutdown returns),
	// "slow-abort" (a Start that failed is taken to return a second late),
	// "closed-answers" (a lookup on a closed client is taken to succeed),
	// "leak-deadline" (a goroutine of the first member's node arms a
	// deadline it never cancels, once its Start returned), "slow-read" (a
	// read of a member's state after its Shutdown is taken not to return),
	// "impatient-wait" (the second Shutdown is taken to return late),
	// "keep-accepted" (the end of m1's first accepted connection is never
	// really closed, as if its serveConn had not closed it), "start-twice"
	// (a second Start is taken to succeed), "hung-shutdown" (a leave's
	// Shutdown is given a microsecond to return).
	fault string
}

// DefaultConfig is the workload the case runs.
var DefaultConfig = Config{MinMembers: 2, MaxMembers: 5}

// Check returns the Check of a variant: it runs the workload with opts and
// plan and returns the run's result and every violation found, the clock's
// (checkClock) included.
func Check(v sys.Variant, cfg Config) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
		var w *run
		check := scenarios.Check(func(opts harness.Options, plan faults.Plan) (scenarios.Workload, error) {
			sh := shapeOf(opts.Seed, cfg)
			if err := checkPlan(plan, sh.members); err != nil {
				return nil, fmt.Errorf("fault plan: %w", err)
			}
			w = &run{variant: v, cfg: cfg, sh: sh, plan: plan}
			return w, nil
		})
		res, vs := check(opts, plan)
		if w != nil && w.Completed() && !res.Failed() {
			vs = append(vs, w.checkClock(res)...)
		}
		return res, vs
	}
}
