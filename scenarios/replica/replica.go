// Package replica is race case 2: the Pegasus Go client never refreshes
// its routing after a replica server dies (apache/incubator-pegasus #1856,
// fixed by #1916), on the reference implementation in systems/replica.
//
// Every seed draws its own cluster, client settings and workload
// (ConfigFor: three to five replica servers, one to eight partitions of
// two or three replicas, failure-detection and client timings around the
// upstream defaults, one to three clients with one or two callers each,
// one to four keys that every caller reads and writes with a drawn mix of
// get, set, del and incr) and its own fault plan (Faults: crashes,
// vanishings, restarts and cuts from meta aimed at the primaries of the
// partitions the keys fall in, often while a call to them is in flight,
// administrator moves, rejoins, heals; half the plans first restart a
// primary before the clients open). Callers call in rounds, at nearly
// the same moment, so that calls on one key overlap.
//
// Checks: every call returns within its deadline; a client's calls to a
// partition succeed again within a bound after meta changed its
// configuration (Buggy: never, once the primary's server crashed); the
// table is linearizable (get, set, del and incr per key, across crashes,
// failovers and rejoins, with a final audit); pendingResp holds no more
// calls than there are callers; refreshes respect the rate limit; a
// client's routing table is always one meta gave and never goes back; the
// calls in flight when a client closes end at once (within a retry
// backoff); meta drops the connection of a running server it declares
// dead; no timer, ticker or deadline is left armed at the quiet moments
// (a server once its partitions synced, Open once it returned, an idle
// client); and every connection, listener, session and goroutine that a
// client or a server opened is closed once the client is closed or the
// server shut down (a crashed server's own excepted).
package replica

import (
	"fmt"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/replica"
)

// Case is race case 2. Buggy must show the bounded-recovery violation
// (Timeliness): calls issued well after meta moved the primary away from a
// crashed server still fail. Fixed must pass every check.
func Case() explore.Case {
	return explore.Case{
		Name:    "replica",
		Bug:     "apache/incubator-pegasus #1856 (fix #1916)",
		Summary: "Pegasus Go client: when a replica server dies, pending calls wait for their deadline and DeadlineExceeded refreshes nothing, so the client routes to the dead node forever",
		Variants: []explore.Variant{
			{
				Name:   "buggy",
				Expect: []harness.Kind{checkers.Timeliness},
				Match:  recoveryMatch,
				Seeds:  50,
				Faults: Faults,
				Check:  Check(sys.Buggy, nil),
			},
			{
				Name:   "fixed",
				Seeds:  2000,
				Faults: Faults,
				Check:  Check(sys.Fixed, nil),
			},
		},
	}
}

// recoveryMatch tells the bug from other timeliness violations: the
// bounded-recovery property broken on a partition whose primary moved away
// from a dead node, crashed or cut off from everyone (not the call
// deadline).
func recoveryMatch(v checkers.Violation) bool {
	return v.Kind == checkers.Timeliness && strings.HasPrefix(v.Message, "bounded recovery: ") &&
		(strings.Contains(v.Message, "moved away from crashed") || strings.Contains(v.Message, "moved away from isolated"))
}

// Check returns the Check of a variant: it runs the seed's workload
// (ConfigFor, changed by tweak if not nil) with the given fault plan and
// returns the run's result and every violation its checks found.
func Check(v sys.Variant, tweak func(*Config)) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return func(opts harness.Options, plan faults.Plan) (*harness.Result, []checkers.Violation) {
		var w *run
		check := scenarios.Check(func(opts harness.Options, plan faults.Plan) (scenarios.Workload, error) {
			cfg := ConfigFor(opts.Seed)
			if tweak != nil {
				tweak(&cfg)
			}
			if err := checkPlan(plan, cfg); err != nil {
				return nil, fmt.Errorf("fault plan: %w", err)
			}
			w = newRun(v, cfg, plan, opts.Seed)
			return w, nil
		})
		res, vs := check(opts, plan)
		if w != nil && w.Completed() && !res.Failed() {
			if late := res.Elapsed - w.mainEnd; late > clockSlack {
				vs = append(vs, checkers.Violationf(harness.Leak,
					"the clock ran on for %v after every server shut down and every client closed (the workload ended at %v): a timer or ticker was left armed, or a context deadline never cancelled", late, w.mainEnd))
			}
		}
		return res, vs
	}
}

// clockSlack is how long the World may go on after Main returned: messages
// still in flight (a few link latencies), nothing more. The World's clock
// stops when no timer is pending, so a clock that runs on longer means a
// timer that nothing stopped.
const clockSlack = 10 * time.Millisecond
