package replica

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/replica"
)

// Check judges the finished run: the system's promises (CASES.md, replica)
// and the resources it must give back.
func (r *run) Check() []checkers.Violation {
	calls := r.h.Operations()
	var vs []checkers.Violation
	vs = append(vs, r.checkDeadlines(calls)...)
	vs = append(vs, r.checkRecovery(calls)...)
	vs = append(vs, r.checkClients()...)
	vs = append(vs, r.checkRequests()...)
	vs = append(vs, r.checkAvailable(calls)...)
	vs = append(vs, r.checkLearners()...)
	vs = append(vs, r.checkRoutes()...)
	vs = append(vs, checkLinearizable(r.name, calls)...)
	vs = append(vs, checkResources(r.ledger.Operations(), r.crashed)...)
	vs = append(vs, r.checkDeadDropped()...)
	vs = append(vs, r.checkClosedCalls(calls)...)
	return vs
}

// checkClosedCalls: the calls a client closed early had in flight end
// once Close has closed its sessions: a call waiting in a session fails at
// once, one sleeping before a retry finds the client closed when it wakes
// (at most the longest backoff later). None waits for its deadline. (It
// leans on the plan's budget: a partition whose configuration names no
// primary makes the client retry without a session, until the call's
// deadline even once closed; meta publishes no primary only when every
// replica of a partition is down, which the budget never allows.)
func (r *run) checkClosedCalls(calls []harness.Operation) []checkers.Violation {
	var bad []string
	for i, from := range r.closing {
		if from == 0 {
			continue
		}
		until := r.closed[i] + r.cfg.MaxRetryBackoff + epsilon
		for _, op := range calls {
			in := op.Input.(kvIn)
			if in.Client != i || op.CallTime > r.closed[i] || (op.Returned() && op.ReturnTime <= until) {
				continue
			}
			bad = append(bad, fmt.Sprintf("client %d, closed from %v to %v: caller %d %s called at %v returned at %v", i+1, from, r.closed[i], op.Client, describeIn(in), op.CallTime, op.ReturnTime))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Timeliness,
		"calls at close: a call in flight when its client closes must end within the longest retry backoff (%v) + %v of Close's return:%s",
		r.cfg.MaxRetryBackoff, epsilon, scenarios.Lines(bad))}
}

// checkDeadDropped: when meta declares a running replica server dead (it
// went silent for a grace: cut off from meta), it drops the connection
// that server beaconed on, at once. Such a server is still running: the
// connection is half open (the server gave up on it, and its close was
// lost with the link), and meta would hold it until it stops. Meta holds
// one beacon connection per server, so of meta's connections from that
// server open then, one must close at that very moment. Only servers that
// never crashed nor restarted are judged: their connections are all of
// one incarnation.
func (r *run) checkDeadDropped() []checkers.Violation {
	if r.crashed == nil {
		return nil // the run did not end
	}
	ledger := r.ledger.Operations()
	// One declaration changes every partition of the server at once: it
	// is judged once.
	type declaration struct {
		dead string
		at   int64
	}
	judged := map[declaration]bool{}
	var bad []string
	for _, op := range r.changes.Operations() {
		c := op.Input.(sys.Change)
		d := declaration{c.Dead, c.At.UnixNano()}
		if c.Reason != "dead" || c.Dead == "" || judged[d] {
			continue
		}
		judged[d] = true
		name, _, _ := harness.SplitAddr(c.Dead)
		if r.crashed[incarnation{name, 1}] || slices.ContainsFunc(ledger, func(op harness.Operation) bool {
			res := op.Input.(resource)
			return res.Node == name && res.Inc > 1
		}) {
			continue
		}
		at := c.At.Sub(r.Start())
		open, closed := 0, false
		for _, op := range ledger {
			res := op.Input.(resource)
			if res.Node != "meta" || !strings.HasPrefix(res.What, "accept ") || !strings.Contains(res.What, "<-"+name+":") ||
				op.CallTime >= at || (op.Returned() && op.ReturnTime < at) {
				continue
			}
			open++
			closed = closed || (op.Returned() && op.ReturnTime == at)
		}
		if open > 0 && !closed {
			bad = append(bad, fmt.Sprintf("%s, declared dead at %v: none of meta's %d connections from it open then was closed", name, at, open))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(harness.Leak,
		"dead server's connection kept: meta must drop the beacon connection of a running replica server it declares dead:%s", scenarios.Lines(bad))}
}

// checkDeadlines: every call returns within its deadline plus epsilon.
func (r *run) checkDeadlines(calls []harness.Operation) []checkers.Violation {
	var bad []string
	for _, op := range calls {
		in := op.Input.(kvIn)
		if !op.Returned() {
			bad = append(bad, fmt.Sprintf("caller %d %s called at %v never returned", op.Client, describeIn(in), op.CallTime))
		} else if took := op.ReturnTime - op.CallTime; took > r.cfg.OpTimeout+epsilon {
			bad = append(bad, fmt.Sprintf("caller %d %s called at %v took %v", op.Client, describeIn(in), op.CallTime, took))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Timeliness,
		"call deadline: every call must return within its timeout %v + %v; %d of %d did not:%s",
		r.cfg.OpTimeout, epsilon, len(bad), len(calls), scenarios.Lines(bad))}
}

// checkRecovery: once a partition's configuration last changed at t (meta
// moved its primary away from a dead server, an administrator moved it, a
// dead secondary was dropped, a server rejoined), each client's calls to
// it succeed again from a recovery bound after the client first called it
// at or after t, until the next fault: that call may fail or time out, but
// it must make the client refresh its routing (within the rate limit) and
// go to the partition's primary from then on. A call in flight at t may
// have asked for a refresh that came too early to see the change, and a
// client that never called the partition since t has had no reason to
// refresh: neither starts the clock. Calls in flight when their client
// was being closed are not judged.
func (r *run) checkRecovery(calls []harness.Operation) []checkers.Violation {
	bound := r.cfg.recoveryBound()
	faultOps := r.injected.Operations()
	var bad []string
	for p := range r.cfg.Partitions {
		last, history := r.partitionHistory(p)
		if last == nil || last.To == "" {
			continue
		}
		t := last.At.Sub(r.Start())
		// The next fault ends the window; a fault still going on at t (the
		// clients cut from meta) holds the clock until it is over and its
		// effect is gone (a query to meta lost meanwhile has timed out).
		start, until := t, time.Duration(1<<62-1)
		for _, op := range faultOps {
			switch {
			case op.CallTime > t:
				until = min(until, op.CallTime)
			case !op.Returned():
				start = until
			default:
				start = max(start, op.ReturnTime+op.Input.(injected).Lasts)
			}
		}
		if start >= until {
			continue
		}
		for cl := range r.cfg.Clients {
			if line := r.recovered(calls, cl, p, start, until, bound); line != "" {
				bad = append(bad, fmt.Sprintf("partition %d (%s; primary now %s), client %d: %s", p, strings.Join(history, ", "), last.To, cl+1, line))
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Timeliness,
		"bounded recovery: once meta has changed a partition's configuration (moved its primary away from a crashed node, "+
			"at an administrator's request, ...) at t, a client's calls issued from %v (call timeout %v + refresh interval %v + "+
			"meta round trip %v) after its first call to the partition issued at or after t must reach the new primary and succeed; "+
			"faults: %s:%s", bound, r.cfg.OpTimeout, r.cfg.RefreshInterval, metaRTT, r.faultList(), scenarios.Lines(bad))}
}

// recovered checks client cl's calls to partition p after a change at t
// (see checkRecovery), and describes the failures, or returns "".
func (r *run) recovered(calls []harness.Operation, cl, p int, t, until, bound time.Duration) string {
	closing := r.closing[cl]
	anchor := time.Duration(-1)
	for _, op := range calls {
		in := op.Input.(kvIn)
		if in.Client != cl || in.Part != p || op.CallTime < t {
			continue
		}
		if anchor < 0 || op.CallTime < anchor {
			anchor = op.CallTime
		}
	}
	if anchor < 0 {
		return ""
	}
	from := max(t, anchor) + bound
	var failed []string
	n := 0
	for _, op := range calls {
		in := op.Input.(kvIn)
		if in.Client != cl || in.Part != p || op.CallTime < from || op.CallTime >= until ||
			(closing > 0 && (!op.Returned() || op.ReturnTime >= closing)) {
			continue
		}
		n++
		// An increment of text reached the primary: the answer is right.
		if out, _ := op.Output.(kvOut); !op.Returned() || (out.Err != "" && !out.Invalid) {
			failed = append(failed, fmt.Sprintf("caller %d %s at %v: %s", op.Client, describeIn(in), op.CallTime, out.Err))
		}
	}
	if len(failed) == 0 {
		return ""
	}
	return fmt.Sprintf("%d of its %d calls issued from %v on failed:%s", len(failed), n, from, indent(scenarios.Lines(failed)))
}

// partitionHistory returns the last change of partition p and a
// description of every change of it.
func (r *run) partitionHistory(p int) (*sys.Change, []string) {
	// how names the worst that happened to a replica server by time at:
	// "crashed" (crash, black hole, restart, even if it restarted since),
	// else "isolated", else "cut from meta", or "".
	how := func(node string, at time.Duration) string {
		last := ""
		for _, op := range r.injected.Operations() {
			f := op.Input.(injected)
			if f.Node != node || op.CallTime > at {
				continue
			}
			switch {
			case f.Kind == "crash" || f.Kind == "blackhole" || f.Kind == "restart":
				last = "crashed"
			case f.Kind == "isolate" && last != "crashed":
				last = "isolated"
			case f.Kind == "cut" && last == "":
				last = "cut from meta"
			}
		}
		return last
	}
	var last *sys.Change
	var history []string
	for _, op := range r.changes.Operations() {
		c := op.Input.(sys.Change)
		if c.Partition != p {
			continue
		}
		last = &c
		at := c.At.Sub(r.Start())
		switch {
		case c.Reason == "move" && how(c.From, at) != "":
			history = append(history, fmt.Sprintf("moved away from %s %s to %s by the administrator at %v", how(c.From, at), c.From, c.To, at))
		case c.Reason == "move":
			history = append(history, fmt.Sprintf("moved by the administrator from %s to %s at %v", c.From, c.To, at))
		case c.Reason == "learn":
			history = append(history, fmt.Sprintf("%s rejoined as a learner at %v", c.Joined, at))
		case c.Reason == "join":
			history = append(history, fmt.Sprintf("learner %s made a secondary at %v", c.Joined, at))
		case c.From == c.Dead && how(c.Dead, at) != "":
			history = append(history, fmt.Sprintf("moved away from %s %s to %s at %v (%s)", how(c.Dead, at), c.Dead, c.To, at, c.Reason))
		case c.From == c.Dead:
			history = append(history, fmt.Sprintf("moved away from silent %s to %s at %v (%s)", c.Dead, c.To, at, c.Reason))
		default:
			history = append(history, fmt.Sprintf("dropped secondary %s at %v (%s)", c.Dead, at, c.Reason))
		}
	}
	return last, history
}

func (r *run) faultList() string {
	var s []string
	for _, op := range r.injected.Operations() {
		s = append(s, fmt.Sprintf("%s at %v", op.Input.(injected).What, op.CallTime))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// checkClients: per client, pendingResp never held more calls than the
// client has callers; configuration refreshes started at least the refresh
// interval apart; once closed, every session it made is closed.
func (r *run) checkClients() []checkers.Violation {
	var vs []checkers.Violation
	for i, st := range r.stats {
		if st.MaxPending > r.cfg.Callers {
			vs = append(vs, checkers.Violationf(checkers.Invariant,
				"pendingResp bounded: a session of client %d held %d pending calls, with only %d callers", i+1, st.MaxPending, r.cfg.Callers))
		}
		var bad []string
		for j := 1; j < len(st.Refreshes); j++ {
			if gap := st.Refreshes[j].Sub(st.Refreshes[j-1]); gap < r.cfg.RefreshInterval {
				bad = append(bad, fmt.Sprintf("refresh at %v, %v after the one at %v", st.Refreshes[j].Sub(r.Start()), gap, st.Refreshes[j-1].Sub(r.Start())))
			}
		}
		if len(bad) > 0 {
			vs = append(vs, checkers.Violationf(checkers.Invariant,
				"refresh rate: client %d's configuration refreshes must be at least %v apart; %d of %d were not:%s",
				i+1, r.cfg.RefreshInterval, len(bad), len(st.Refreshes), scenarios.Lines(bad)))
		}
		if st.SessionsClosed != st.Sessions {
			vs = append(vs, checkers.Violationf(harness.Leak,
				"sessions: client %d made %d node sessions and closed %d by the time Close returned", i+1, st.Sessions, st.SessionsClosed))
		}
	}
	return vs
}

// checkRoutes: a client's routing table is meta's: the primary it holds
// for a partition at a ballot is the one meta gave that ballot, and the
// ballot it holds never goes back (between two of its callers' looks that
// did not overlap).
func (r *run) checkRoutes() []checkers.Violation {
	type pb struct {
		part   int
		ballot int64
	}
	meta := map[pb]string{}
	for _, pc := range sys.InitialConfig(r.addrs, r.cfg.Partitions, r.cfg.ReplicaCount) {
		meta[pb{pc.Index, pc.Ballot}] = pc.Primary
	}
	for _, op := range r.changes.Operations() {
		c := op.Input.(sys.Change)
		meta[pb{c.Partition, c.Ballot}] = c.To
	}
	var bad []string
	looks := r.routes.Operations()
	for _, op := range looks {
		seen := op.Input.(routeSeen)
		for _, pc := range op.Output.([]sys.PartitionConfig) {
			if want, ok := meta[pb{pc.Index, pc.Ballot}]; !ok || want != pc.Primary {
				bad = append(bad, fmt.Sprintf("client %d at %v routes p%d at ballot %d to %q; meta gave that ballot to %q",
					seen.Client+1, op.CallTime, pc.Index, pc.Ballot, pc.Primary, want))
			}
		}
	}
	for i, a := range looks {
		for _, b := range looks[i+1:] {
			if a.Input.(routeSeen).Client != b.Input.(routeSeen).Client || a.Return > b.Call {
				continue
			}
			for _, pa := range a.Output.([]sys.PartitionConfig) {
				j := slices.IndexFunc(b.Output.([]sys.PartitionConfig), func(pc sys.PartitionConfig) bool { return pc.Index == pa.Index })
				if j < 0 || b.Output.([]sys.PartitionConfig)[j].Ballot < pa.Ballot {
					bad = append(bad, fmt.Sprintf("client %d held p%d at ballot %d at %v, and an older one at %v",
						a.Input.(routeSeen).Client+1, pa.Index, pa.Ballot, a.ReturnTime, b.CallTime))
				}
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Invariant,
		"routing: a client's routing table must be one meta gave, and never go back:%s", scenarios.Lines(bad))}
}

// checkRequests: per client, every refresh a failed call asked for is
// served, and no refresh starts unasked. A request made at q is served by a
// refresh that starts at or after q and at most refreshBound later (unless
// the client began closing before then); every refresh after Open's has a
// request made since the refresh before it started (requests made while a
// refresh waits for the rate limit are served by that one refresh).
func (r *run) checkRequests() []checkers.Violation {
	asked := make([][]time.Time, r.cfg.Clients)
	for _, op := range r.requests.Operations() {
		asked[op.Client] = append(asked[op.Client], op.Input.(time.Time))
	}
	bound := r.cfg.refreshBound()
	var vs []checkers.Violation
	for i, st := range r.stats {
		starts := st.Refreshes
		closing := r.closeAt[i]
		var bad []string
		for _, q := range asked[i] {
			if closing.IsZero() || q.Add(bound).After(closing) {
				continue // the client closed before it had to refresh
			}
			if !slices.ContainsFunc(starts, func(s time.Time) bool { return !s.Before(q) && !s.After(q.Add(bound)) }) {
				bad = append(bad, fmt.Sprintf("a refresh asked for at %v: none started from then to %v after", q.Sub(r.Start()), bound))
			}
		}
		for k := 1; k < len(starts); k++ {
			from := starts[k-1].Add(-epsilon)
			if !slices.ContainsFunc(asked[i], func(q time.Time) bool { return !q.Before(from) && !q.After(starts[k]) }) {
				bad = append(bad, fmt.Sprintf("the refresh at %v: no request since the refresh at %v", starts[k].Sub(r.Start()), starts[k-1].Sub(r.Start())))
			}
		}
		if len(bad) > 0 {
			vs = append(vs, checkers.Violationf(checkers.Invariant,
				"refresh requests: client %d must start a refresh within %v of each request (the rate limit, or the refresh under way, and a wake-up), and none unasked; %d of %d requests and %d refreshes were not so:%s",
				i+1, bound, len(bad), len(asked[i]), len(starts), scenarios.Lines(bad)))
		}
	}
	return vs
}

// checkAvailable: in a run without faults, every call issued once the
// cluster is up succeeds (an increment of text excepted: its answer is the
// error), until its client begins closing. Nothing then makes a replica
// server refuse, or a secondary miss an acknowledgement. The cluster is
// taken as up a grace after it started (the servers start once meta
// listens and have synced by settle: the grace is a margin).
func (r *run) checkAvailable(calls []harness.Operation) []checkers.Violation {
	if len(r.plan) > 0 {
		return nil
	}
	var bad []string
	for _, op := range calls {
		in := op.Input.(kvIn)
		if op.CallTime < r.cfg.Grace {
			continue
		}
		if in.Client >= 0 && !r.closeAt[in.Client].IsZero() && (!op.Returned() || op.ReturnTime >= r.closeAt[in.Client].Sub(r.Start())) {
			continue
		}
		if out, _ := op.Output.(kvOut); op.Returned() && out.Err != "" && !out.Invalid {
			bad = append(bad, fmt.Sprintf("caller %d %s at %v: %s", op.Client, describeIn(in), op.CallTime, out.Err))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Invariant,
		"available without faults: with no fault injected every call must succeed; %d of %d failed:%s", len(bad), len(calls), scenarios.Lines(bad))}
}

// checkLearners: a replica server that meta adds to a partition as a
// learner is synced by the partition's primary and made a secondary within
// a grace, unless something else happens meanwhile or just before: a fault
// other than the learner's own, another change of the partition (its
// primary moved, a replica dropped), the servers' shutdown. A learner
// left unsynced is a replica the partition counts on and does not have.
func (r *run) checkLearners() []checkers.Violation {
	changes := r.changes.Operations()
	faultOps := r.injected.Operations()
	var bad []string
	for i, op := range changes {
		c := op.Input.(sys.Change)
		if c.Reason != "learn" {
			continue
		}
		t := c.At.Sub(r.Start())
		until := t + r.cfg.Grace
		// The faults that brought the learner back (its restart, its
		// rejoin) are its own; one that strikes it afterwards, any other
		// near it, or a cut that may not be healed, lets the partition
		// off.
		if until > r.shutAt || slices.ContainsFunc(faultOps, func(f harness.Operation) bool {
			in := f.Input.(injected)
			if in.Node == c.Joined {
				return f.CallTime >= t && f.CallTime <= until
			}
			return f.CallTime <= until && (f.CallTime > t-2*r.cfg.Grace || !f.Returned() || f.ReturnTime > t-2*r.cfg.Grace || in.Kind == "cut" || in.Kind == "isolate")
		}) {
			continue
		}
		upgraded, other := false, false
		for _, later := range changes[i+1:] {
			d := later.Input.(sys.Change)
			if d.At.Sub(r.Start()) > until {
				break
			}
			switch {
			case d.Partition != c.Partition:
			case d.Reason == "join" && d.Joined == c.Joined:
				upgraded = true
			case d.Reason != "learn" && d.Reason != "join":
				other = true
			}
		}
		if !upgraded && !other {
			bad = append(bad, fmt.Sprintf("%s joined p%d as a learner at %v (ballot %d), and was not a secondary by %v", c.Joined, c.Partition, t, c.Ballot, until))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []checkers.Violation{checkers.Violationf(checkers.Timeliness,
		"learners synced: a learner must be synced and made a secondary within a grace (%v) while no fault strikes; faults: %s:%s", r.cfg.Grace, r.faultList(), scenarios.Lines(bad))}
}
