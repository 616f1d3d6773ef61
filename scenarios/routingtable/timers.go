package routingtable

import (
	"fmt"
	"slices"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Timers at rest. A member keeps two timers for its whole life: the
// prober's ticker and the periodic push's. Every other timer it arms is a
// deadline of a call (a join, a push, a probe, a gossip message, the
// bootstrap wait) or a join retry's sleep, which its function cancels or
// stops as it returns. A deadline whose cancel is skipped stays pending
// until it expires, RequestTimeout or ProbeTimeout later, and a Shutdown
// that cancels the member's context hides it (a child's deadline ends with
// its parent): the clock check at the end of the run cannot see it. So the
// workload counts a member's node's timers (harness.Node.PendingTimers) at
// moments when the member should be at rest, before its context is
// cancelled: when its Start returned, once the cluster settled, and once
// its Shutdown returned (then none may be left: a timer, unlike a deadline,
// does not end with a context).
//
// A count is taken only while none of the member's calls is in progress
// (a quiet sample: a call's deadline is pending while it runs, and a call
// to a black-holed member runs for its whole timeout). A message in flight
// to the node arms a timer there until it arrives (a link's latency), so
// one quiet sample may count more than the resting number: the workload
// samples for restWait, and a node is at rest if one quiet sample counts
// no more. A deadline left pending lasts ProbeTimeout (200 ms or more) or
// RequestTimeout (a second or more), longer than restWait.

// timerWatch is one member whose node's timers are counted at rest.
type timerWatch struct {
	inc  *incarnation
	want int // the timers the node keeps at rest
	// still reports whether the moment lasts (the member neither leaves
	// nor is replaced); ready whether a sample may be taken now.
	still, ready func() bool

	quiet, least int // quiet samples taken, the smallest count among them
}

const (
	// The workload samples every restGap (an odd gap, not a round
	// fraction of the members' periods) for restWait, and judges a member
	// that was quiet in at least restSamples of them.
	restSamples = 10
	restGap     = 1013 * time.Microsecond
	restWait    = 50 * time.Millisecond
)

// checkTimersAtRest counts the timers of each watched member's node at
// rest, and reports a Leak for each whose node keeps more than it should
// in every quiet sample. Members that crash, leave or are replaced
// meanwhile, or that are never quiet long enough, get no verdict.
func (r *run) checkTimersAtRest(when string, ws []*timerWatch) {
	for _, w := range ws {
		w.least = -1
	}
	start := r.Since()
	for {
		over := r.Since()-start >= restWait
		keep := ws[:0]
		for _, w := range ws {
			switch r.sampleTimers(w) {
			case sampleAtRest, sampleGone:
			default:
				keep = append(keep, w)
			}
		}
		ws = keep
		if len(ws) == 0 {
			return
		}
		if over {
			break
		}
		harness.Sleep(restGap)
	}
	for _, w := range ws {
		if w.quiet >= restSamples {
			rest := "none once it shut down"
			if w.want > 0 {
				rest = fmt.Sprintf("%d while it runs (the prober's and the periodic push's tickers)", w.want)
			}
			r.violate(harness.Leak, "%s, %s: its node kept at least %d timer(s) pending in each of %d quiet moments over %v (none of its calls in progress), where a member keeps %s: a deadline not cancelled or a timer not stopped", w.inc, when, w.least, w.quiet, restWait, rest)
		}
	}
}

// A sample's outcome.
const (
	sampleAtRest = iota // a quiet sample counted no more than at rest
	sampleAbove         // a quiet sample counted more, or none was quiet
	sampleGone          // the moment ended: no verdict
)

// sampleTimers takes one sample of w.
func (r *run) sampleTimers(w *timerWatch) int {
	nd := r.nodes[w.inc.node]
	if r.crashed(w.inc) || !w.still() {
		return sampleGone
	}
	if !w.ready() || w.inc.host.calling() {
		return sampleAbove
	}
	armed, ok := nd.PendingTimers()
	if !ok {
		return sampleGone
	}
	w.quiet++
	if w.least < 0 || armed < w.least {
		w.least = armed
	}
	if armed <= w.want {
		return sampleAtRest
	}
	return sampleAbove
}

// restingWatch watches inc, the current member of its node, with want
// timers at rest: liveTimers while it runs (the watch ends if it begins to
// leave), none once its Shutdown returned. A sample is taken only once
// inc's Start has returned and every earlier member of the node's
// incarnation has shut down (a failed Start's Shutdown may still run
// beside a rejoined member).
func (r *run) restingWatch(inc *incarnation, want int) *timerWatch {
	return &timerWatch{inc: inc, want: want,
		still: func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.cur[inc.node] == inc && (want == 0 || !inc.leaving)
		},
		ready: func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			if !inc.started {
				return false
			}
			for _, x := range r.incs {
				if x != inc && x.node == inc.node && x.nodeInc == inc.nodeInc && !(x.started && x.shutDone) {
					return false
				}
			}
			return true
		}}
}

// liveTimers is how many timers a started member keeps at rest.
const liveTimers = 2

// checkTimersSettled counts the timers of every member's node once the
// cluster settled: each live member keeps its two tickers, a node whose
// member shut down keeps none.
func (r *run) checkTimersSettled() {
	var ws []*timerWatch
	live := r.live()
	for i := range r.sh.members {
		inc := r.current(i)
		if inc == nil || r.crashed(inc) {
			continue
		}
		r.mu.Lock()
		down := inc.shutDone
		r.mu.Unlock()
		switch {
		case slices.Contains(live, inc):
			ws = append(ws, r.restingWatch(inc, liveTimers))
		case down:
			ws = append(ws, r.restingWatch(inc, 0))
		}
	}
	r.checkTimersAtRest("once the cluster settled", ws)
}
