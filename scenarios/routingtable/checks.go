package routingtable

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/routingtable"
)

// settleBound bounds how long after the plan's end (every fault over, every
// Start returned) the live members must agree. A crashed member is found by
// the prober within one round over the others (members x ProbeInterval)
// and ProbeTimeout. The coordinator's routing table learns of membership
// changes one event at a time, and each event's push waits RequestTimeout
// for a member that died and that the table still holds; the periodic push,
// which waits as long, may come between two events: so each membership
// event (a member made, a member gone: at most two per member made) may
// cost two RequestTimeouts. A member that refused a push (it still took
// another member for the coordinator) is caught up by the periodic push.
// Plus a margin for the gossip and the pushes themselves.
func (r *run) settleBound() time.Duration {
	c := r.sh.cfg
	events := 2 * r.count()
	return time.Duration(2*events)*c.requestTimeout + time.Duration(r.sh.members)*c.probeInterval + c.probeTimeout + c.pushPeriod + 2*time.Second
}

// live returns the members that are up: made, started successfully, not
// shut down, not crashed.
func (r *run) live() []*incarnation {
	var out []*incarnation
	for i := range r.sh.members {
		inc := r.current(i)
		if inc == nil || r.crashed(inc) {
			continue
		}
		r.mu.Lock()
		up := inc.in != nil && inc.started && inc.err == nil
		// The workload fault "forget-leave" takes members that left for
		// live ones.
		ok := up && (!inc.leaving || r.cfg.fault == "forget-leave")
		r.mu.Unlock()
		if ok {
			out = append(out, inc)
		}
	}
	return out
}

// settle waits until the live members agree, then checks them: each knows
// exactly the live members and takes the oldest for its coordinator, each
// is bootstrapped, all have applied the same table (same signature, the
// live members), and each member's ownedPartitionCount is the number of
// partitions it is the primary owner of in that table. No fault strikes
// any more, so it calls the members from the main goroutine.
func (r *run) settle() {
	live := r.live()
	if len(live) == 0 {
		return
	}
	start, bound := r.Since(), r.settleBound()
	var why string
	for {
		if why = r.agree(live); why == "" || r.Since()-start >= bound {
			break
		}
		harness.Sleep(poll)
	}
	r.settled = r.Since() - start
	if why != "" {
		r.violate(checkers.Invariant, "the cluster did not settle within %v of the fault plan's end: %s", bound, why)
		return
	}
	for _, inc := range live {
		r.checkView(inc, "once the cluster settled")
	}
}

// agree returns "" if the live members agree, or what they disagree on. It
// first compares what the members keep in atomics (no scheduling point),
// and only then reads their membership and views.
func (r *run) agree(live []*incarnation) string {
	ins := make([]*sys.Instance, len(live))
	for i, inc := range live {
		r.mu.Lock()
		ins[i] = inc.in
		r.mu.Unlock()
	}
	sig := ins[0].RoutingTable().Signature()
	for i, in := range ins {
		rt := in.RoutingTable()
		switch {
		case !rt.IsBootstrapped():
			return fmt.Sprintf("%s is not bootstrapped", live[i])
		case int(rt.NumMembers()) != len(live):
			return fmt.Sprintf("%s counts %d members, %d are live", live[i], rt.NumMembers(), len(live))
		case rt.Signature() != sig:
			var sigs []string
			for j, x := range ins {
				sigs = append(sigs, fmt.Sprintf("%s:%x", live[j], x.RoutingTable().Signature()))
			}
			return "the members' signatures differ: " + strings.Join(sigs, " ")
		}
	}
	oldest := ins[0].Self()
	var want []string
	for _, in := range ins {
		s := in.Self()
		want = append(want, fmt.Sprintf("%s/%x", s.Name, s.ID))
		if s.Birthdate < oldest.Birthdate || (s.Birthdate == oldest.Birthdate && s.ID < oldest.ID) {
			oldest = s // the system's order: birth date, then id
		}
	}
	slices.Sort(want)
	for i, in := range ins {
		var known []string
		for _, m := range in.Members() {
			known = append(known, fmt.Sprintf("%s/%x", m.Name, m.ID))
		}
		if !slices.Equal(known, want) {
			return fmt.Sprintf("%s knows the members %v, the live ones are %v", live[i], known, want)
		}
		if c := in.Coordinator(); c.ID != oldest.ID {
			return fmt.Sprintf("%s takes %s for the coordinator, the oldest live member is %s", live[i], c, oldest)
		}
		v := in.View()
		var inTable []string
		for _, m := range v.Table.Members {
			inTable = append(inTable, fmt.Sprintf("%s/%x", m.Name, m.ID))
		}
		if !slices.Equal(inTable, want) {
			return fmt.Sprintf("%s's table (version %v) has the members %v, the live ones are %v", live[i], v.Version, inTable, want)
		}
	}
	return ""
}

// resourceList renders resources for a message, one a line.
func resourceList(rs []resource) string {
	var items []string
	for _, r := range rs {
		items = append(items, r.String())
	}
	return scenarios.Lines(items)
}

// Check judges the finished run: each member's Start, the resources every
// member and client opened, the register of lookups, and every lookup's
// owner against the table of its version.
func (r *run) Check() []checkers.Violation {
	vs := r.checkStarts()
	for _, inc := range r.incs {
		if inc.lost {
			continue // its node crashed: the network dropped what it held
		}
		if open := inc.host.open(false); len(open) > 0 {
			vs = append(vs, checkers.Violationf(harness.Leak, "%s was shut down, but %d connection(s) or listener(s) it opened were never closed: %s", inc, len(open), resourceList(open)))
		}
	}
	for _, h := range r.clients {
		if open := h.open(false); len(open) > 0 {
			vs = append(vs, checkers.Violationf(harness.Leak, "%s was closed, but %d connection(s) it opened were never closed: %s", h.owner, len(open), resourceList(open)))
		}
	}
	vs = append(vs, owners.Check(r.h.Operations(), checkers.LinOptions{Name: "routingtable-lookups", NoVisualization: true})...)
	return append(vs, r.checkLookups()...)
}

// checkStarts judges every member's Start. A Start the cluster's faults
// left alone (no node down, no crash, restart, leave or rejoin while it ran)
// must succeed, and be bootstrapped within BootstrapTimeout of its join;
// the join itself may retry MaxJoinAttempts times, JoinRetryInterval apart,
// while the other members start. A Start that a fault struck may fail (its
// push to a crashed member failed, it waited for a push from a coordinator
// that died); one shut down while it ran may fail with ErrServerGone.
func (r *run) checkStarts() []checkers.Violation {
	var vs []checkers.Violation
	c := r.sh.cfg
	bound := time.Duration(c.maxJoinAttempts)*c.joinRetry + c.bootstrap + time.Second
	if r.cfg.fault == "tight-bootstrap" {
		bound = time.Millisecond
	}
	for _, inc := range r.incs {
		if inc.aborted && inc.started && inc.shutDone && inc.endAt > inc.shutAt+abortSlack {
			// Shutdown cancels everything Start waits on: a Start it
			// aborted returns with it, not after a join retry's sleep.
			vs = append(vs, checkers.Violationf(checkers.Timeliness, "%s: Shutdown returned at %v while Start ran, but Start returned only at %v (%v later): it kept waiting once the member was shut down", inc, inc.shutAt, inc.endAt, inc.endAt-inc.shutAt))
		}
		if inc.aborted || inc.disturbed || !inc.started {
			continue
		}
		var boot []time.Duration
		switch {
		case inc.err == nil:
			boot = append(boot, inc.endAt)
		case errors.Is(inc.err, sys.ErrOperationTimeout):
			vs = append(vs, checkers.Violationf(checkers.Timeliness, "%s: Start failed, no fault around: it was not bootstrapped within BootstrapTimeout (%v): %v", inc, c.bootstrap, inc.err))
			continue
		default:
			vs = append(vs, checkers.Violationf(checkers.Invariant, "%s: Start failed, no fault around: %v", inc, inc.err))
			continue
		}
		vs = append(vs, checkers.Within(inc.String()+" Start", []time.Duration{inc.startAt}, inc.String()+" bootstrapped", boot, bound)...)
	}
	return vs
}

// abortSlack is how long a Start may still run once the Shutdown that
// aborted it returned: its calls see the cancelled context at once, so a
// few wake-ups' work.
const abortSlack = 5 * time.Millisecond

// checkLookups checks every lookup's answer against the table of the
// version it names: a coordinator pushed that version, and its table gives
// the partition that owner.
func (r *run) checkLookups() []checkers.Violation {
	var bad []string
	for _, l := range r.lookups {
		var p *push
		for _, x := range r.pushes {
			if x.version == l.version {
				p = x
			}
		}
		switch {
		case p == nil:
			bad = append(bad, fmt.Sprintf("%s answered partition %d from version %v, which no coordinator pushed", l.member, l.part, l.version))
		case p.owners[l.part] != l.owner:
			bad = append(bad, fmt.Sprintf("%s answered owner %s for partition %d at version %v; that table says %s", l.member, l.owner, l.part, l.version, p.owners[l.part]))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.NotLinearizable, "owner lookups that no pushed table explains:%s", scenarios.Lines(bad))}
}

// clockSlack is how long the World may go on after Main returned: messages
// still in flight (a few link latencies), nothing more.
const clockSlack = 10 * time.Millisecond

// checkClock checks that nothing was left armed once every member shut
// down and every client closed: the World's clock stops when no timer is
// pending, so a clock that ran on after Main returned means a Timer or
// Ticker never stopped, or a context deadline never cancelled.
func (r *run) checkClock(res *harness.Result) []checkers.Violation {
	if late := res.Elapsed - r.mainEnd; late > clockSlack {
		return []checkers.Violation{checkers.Violationf(harness.Leak,
			"the clock ran on for %v after every member shut down and every client closed (the workload ended at %v): a timer or ticker was left armed, or a context deadline never cancelled", late, r.mainEnd)}
	}
	return nil
}
