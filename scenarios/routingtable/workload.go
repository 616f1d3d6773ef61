package routingtable

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/routingtable"
)

const (
	port = 3320
	// shutdownBound bounds a member's Shutdown.
	shutdownBound = 10 * time.Second
	// poll is how often the workload looks for agreement at the end.
	poll = 100 * time.Millisecond
)

// incarnation is one member: one Instance on a node, from New to its
// Shutdown or its node's crash.
type incarnation struct {
	node    int
	seq     int // 1, 2, ... in the order of their making
	nodeInc int // the node's incarnation it runs in
	nodeCtx context.Context
	host    *countingHost
	made    *harness.Chan[struct{}] // closed once in is set
	done    *harness.Chan[struct{}] // closed when Start returned
	closed  *harness.Chan[struct{}] // closed when Shutdown returned

	// Guarded by run.mu.
	in        *sys.Instance
	startAt   time.Duration
	before    disturbance // the cluster's faults when Start was called
	started   bool        // Start returned
	endAt     time.Duration
	err       error
	disturbed bool // a fault struck the cluster while Start ran
	leaving   bool // the workload called Shutdown
	leftAt    time.Duration
	shutDone  bool // Shutdown returned
	shutAt    time.Duration
	aborted   bool // Shutdown was called before Start returned
	lost      bool // its node crashed (set when Main ends)
	// lastVersion is the newest table version seen applied by checkView.
	lastVersion sys.Version
}

func (inc *incarnation) String() string { return fmt.Sprintf("%s#%d", memberName(inc.node), inc.seq) }

// push is one push a coordinator made, as the Observer saw it.
type push struct {
	coordinator sys.Member
	version     sys.Version
	owners      map[int]string // tracked partition -> primary owner's name
	writes      []*harness.Pending
	ops         []*harness.Pending // the push to each member, for the overlap count
}

// lookup is the recorded answer of a lookup, beside the register's.
type lookup struct {
	part    int
	member  string
	version sys.Version
	owner   string
}

// opInput is an operation on an object (a member's node: "m2", or a
// client: "client1"), recorded in run.ops so that tests can count which
// operations overlapped on one object.
type opInput struct {
	Op     string // start, shutdown, lookup, inspect, push; on a client: lookup, close
	Object string
}

// run is one run of the workload.
type run struct {
	scenarios.Run
	variant sys.Variant
	cfg     Config
	sh      shape
	plan    faults.Plan
	names   []string
	peers   []string
	nodes   []*harness.Node
	waiters harness.WaitGroup // push-crash and push-leave waiters

	// mu guards the fields below and the incarnations' guarded fields. It
	// is a plain mutex, never held across a scheduling point: goroutines of
	// nodes take it, and a node may crash at any scheduling point, which
	// must never leave it locked.
	mu      sync.Mutex
	incs    []*incarnation // every member, in order of making
	cur     []*incarnation // per node: the latest
	pushes  []*push
	lookups []lookup
	armed   []*trigger
	found   []checkers.Violation // found on goroutines of nodes
	clients []*countingHost
	changes int // leaves and rejoins so far
	nextID  int
	// lastBirth is the instant the latest member was made at (births of
	// them so far).
	lastBirth time.Duration
	births    int
	// sharedClient is the clients' one sys.Client when they share it.
	sharedClient *sys.Client
	// mainEnd is when Main returned; settled, how long after the plan's
	// end the live members agreed.
	mainEnd, settled time.Duration

	h   harness.History // register reads and writes
	ops harness.History // operations on members, for the overlap count
}

// owners: per (tracked partition, member name), the versions a member
// returns never go back, and never exceed a version already pushed.
var owners checkers.Register[string]

// violate records a violation found on any goroutine, without a
// scheduling point (see run.mu); Main hands them over at its end.
func (r *run) violate(k harness.Kind, format string, args ...any) {
	v := checkers.Violationf(k, format, args...)
	r.mu.Lock()
	r.found = append(r.found, v)
	r.mu.Unlock()
}

// clientID returns a new client id for the histories.
func (r *run) clientID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	return r.nextID
}

// versionNumber maps a table version to the register's int64: coordinators'
// birth dates in microseconds since the run began, then the push count.
func (r *run) versionNumber(v sys.Version) int64 {
	return (v.Epoch-r.Start().UnixNano())/1000*1_000_000 + v.Seq
}

// Main runs the workload: the plan on a goroutine of its own, the clients
// and the inspector on theirs, the members' joins at their moments; then,
// once the plan is over and every Start returned, it waits for the live
// members to agree, checks them, and shuts everything down.
func (r *run) Main() {
	n := r.sh.members
	r.cur = make([]*incarnation, n)
	for i := range n {
		r.names = append(r.names, memberName(i))
		r.peers = append(r.peers, fmt.Sprintf("%s:%d", memberName(i), port))
	}
	for i := range n {
		r.nodes = append(r.nodes, harness.NewNode(memberName(i), func(nd *harness.Node) { r.incarnate(i, nd, nil) }))
	}
	harness.Note("%s variant; shape: %d members starting at %v; %+v", r.variant, n, r.sh.startAt, r.sh.cfg)
	harness.Note("fault plan: %s", r.plan)
	ctx, cancel := harness.WithCancel(context.Background())
	planDone := harness.NewChan[struct{}](0)
	harness.Go(func() {
		defer planDone.Close()
		_ = faults.Run(ctx, r.plan, r.actions()) // a step that could not apply is noted in the trace
	})
	clientsDone := r.startClients()
	inspectDone := r.startInspector()

	r.joins()
	planDone.Recv()
	r.waiters.Wait()
	cancel()
	inspectDone.Recv()
	r.awaitStarts()
	r.settle()
	r.checkTimersSettled()
	for range r.sh.clients {
		clientsDone.Recv()
	}
	r.checkHalfOpen()
	r.shutdownAll()
	r.awaitShutdowns()
	r.abortStarts()
	r.closeClients()

	r.mu.Lock()
	found := r.found
	r.found = nil
	incs := r.incs
	r.mu.Unlock()
	for _, inc := range incs {
		inc.lost = r.crashed(inc)
	}
	for _, v := range found {
		r.Violate(v.Kind, "%s", v.Message)
	}
	r.mainEnd = r.Since()
	r.Complete()
}

// joins starts every member's node at the moment the shape says, in order
// of time (a node the plan restarted earlier is running already).
func (r *run) joins() {
	order := make([]int, r.sh.members)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(r.sh.startAt[a] - r.sh.startAt[b]) })
	for _, i := range order {
		if d := r.sh.startAt[i] - r.Since(); d > 0 {
			harness.Sleep(d)
		}
		if r.nodes[i].Incarnation() > 0 {
			continue
		}
		if err := r.nodes[i].Start(); err != nil {
			r.violate(checkers.Invariant, "starting node %s: %v", memberName(i), err)
		}
	}
}

// prepare makes the record of a new member on node i, before it runs.
func (r *run) prepare(i int, nd *harness.Node) *incarnation {
	inc := &incarnation{node: i, nodeInc: nd.Incarnation(), nodeCtx: nd.Context(),
		made: harness.NewChan[struct{}](0), done: harness.NewChan[struct{}](0), closed: harness.NewChan[struct{}](0)}
	inc.host = &countingHost{nd: nd, since: r.Since, leakOne: r.cfg.fault == "leak-conn" && i == 0,
		keepOne: r.cfg.fault == "keep-accepted" && i == 0, returned: harness.NewChan[struct{}](1)}
	r.mu.Lock()
	inc.seq = len(r.incs) + 1
	inc.host.owner = inc.String()
	r.incs = append(r.incs, inc)
	r.cur[i] = inc
	r.mu.Unlock()
	return inc
}

// incarnate runs on node i: it makes a member (inc, or a new one when the
// node's main runs it) and starts it, then checks its state.
func (r *run) incarnate(i int, nd *harness.Node, inc *incarnation) {
	if inc == nil {
		inc = r.prepare(i, nd)
	}
	cfg := r.sh.cfg.sysConfig(r.variant, memberName(i), r.peers)
	cfg.Host, cfg.Observer = inc.host, r
	r.reserveBirth()
	in := sys.New(nd.Context(), cfg)
	want := r.sh.cfg.want(r.variant, memberName(i), r.peers)
	want.Host, want.Observer = cfg.Host, cfg.Observer
	if got := in.Config(); !sameConfig(got, want) {
		r.violate(checkers.Invariant, "%s runs with %+v, want %+v (zero fields take the documented defaults)", inc, got, want)
	}
	before := r.disturbance()
	r.mu.Lock()
	inc.in, inc.startAt, inc.before = in, r.Since(), before
	r.mu.Unlock()
	inc.made.Close()
	for range r.sh.startSteps[inc.seq%len(r.sh.startSteps)] {
		harness.Progress() // a scheduling point that does not spin (a Yield lets the clock jump)
	}
	op := r.ops.Call(0, opInput{Op: "start", Object: memberName(i)})
	err := in.Start()
	op.Return(nil)
	if err != nil && r.cfg.fault == "slow-abort" {
		harness.Sleep(time.Second) // as if Start returned a second late
	}
	after := r.disturbance()
	r.mu.Lock()
	inc.started, inc.endAt, inc.err = true, r.Since(), err
	inc.disturbed = before.any() || after != before
	r.mu.Unlock()
	inc.done.Close()
	if err == nil && r.cfg.fault == "leak-deadline" && inc.seq == 1 {
		// A deadline nobody cancels (until the node's context ends).
		_, cancel := harness.WithTimeout(nd.Context(), time.Minute)
		_ = cancel // never called
	}
	if err == nil {
		r.checkTimersAtRest("when its Start returned", []*timerWatch{r.restingWatch(inc, liveTimers)})
	}
	if err == nil && r.cfg.fault == "stray-recv" && inc.seq == 1 {
		// A goroutine of the member's node waits on a connection of the
		// member's, past its Shutdown.
		_ = nd.Go(func() {
			ctx, cancel := harness.WithTimeout(context.Background(), 2*shutdownBound)
			defer cancel()
			if c, err := inc.host.Dial(ctx, r.peers[(i+1)%len(r.peers)]); err == nil {
				_, _ = c.Recv(ctx)
				c.Close()
			}
		})
	}
	if err == nil {
		// Once Start returned, `this` is the member itself.
		if this, self := in.RoutingTable().This(), in.Self(); this.ID != self.ID || this.Name != self.Name {
			r.violate(checkers.Invariant, "%s: Start returned, but the routing table takes itself for %v, not %v", inc, this, self)
		}
		r.checkView(inc, "when its Start returned")
		if r.sh.startTwice {
			// A second Start of a member that runs fails at once
			// (its server is started already) and changes nothing:
			// the member still shuts down.
			op := r.ops.Call(0, opInput{Op: "start", Object: memberName(i)})
			err := in.Start()
			op.Return(nil)
			if err == nil || r.cfg.fault == "start-twice" {
				r.violate(checkers.Invariant, "%s: a second Start of the running member returned %v, not an error", inc, err)
			}
		}
		return
	}
	// A member whose Start failed is shut down, as a program that embeds
	// Olric does when Start fails (olricd exits).
	r.shutdown(inc, false)
}

// reserveBirth waits, if it must, until no other member was made at this
// instant of virtual time, and reserves it: a member's birth date (New's
// clock) decides who coordinates, and it is the epoch of its tables'
// versions, which the checks compare. Real clocks do not give two
// processes the same nanosecond; steps of a plan that ran late do strike
// at one instant. (The shape's joins are distinct microseconds already.)
func (r *run) reserveBirth() {
	for {
		now := r.Since()
		r.mu.Lock()
		free := now > r.lastBirth || r.births == 0
		if free {
			r.lastBirth = now
			r.births++
		}
		r.mu.Unlock()
		if free {
			return
		}
		harness.Sleep(time.Microsecond)
	}
}

// sameConfig compares two configurations field by field (Peers is a
// slice, Host and Observer interfaces).
func sameConfig(a, b sys.Config) bool {
	return a.Variant == b.Variant && a.Name == b.Name && a.Host == b.Host && a.Port == b.Port &&
		slices.Equal(a.Peers, b.Peers) && a.PartitionCount == b.PartitionCount && a.ReplicaCount == b.ReplicaCount &&
		a.PushPeriod == b.PushPeriod && a.BootstrapTimeout == b.BootstrapTimeout &&
		a.JoinRetryInterval == b.JoinRetryInterval && a.MaxJoinAttempts == b.MaxJoinAttempts &&
		a.ProbeInterval == b.ProbeInterval && a.ProbeTimeout == b.ProbeTimeout &&
		a.RequestTimeout == b.RequestTimeout && a.Observer == b.Observer
}

// disturbance sums up the faults that struck the cluster so far: the
// members' nodes (down, restarted) and the leaves and rejoins. Two values
// differ if a fault struck in between; a member's first start (a join) is
// no fault.
type disturbance struct {
	down     int // nodes that were started and are down now
	restarts int
	changes  int
}

// any reports whether a node is down: the cluster is not whole.
func (d disturbance) any() bool { return d.down > 0 }

func (r *run) disturbance() disturbance {
	var d disturbance
	for _, nd := range r.nodes {
		inc := nd.Incarnation()
		d.restarts += max(inc-1, 0)
		if inc > 0 && !nd.Alive() {
			d.down++
		}
	}
	r.mu.Lock()
	d.changes = r.changes
	r.mu.Unlock()
	return d
}

func (r *run) membershipChanged() {
	r.mu.Lock()
	r.changes++
	r.mu.Unlock()
}

// isLeaving reports whether the workload called inc's Shutdown.
func (r *run) isLeaving(inc *incarnation) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return inc.leaving
}

// current returns the latest member made on node i, or nil.
func (r *run) current(i int) *incarnation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur[i]
}

// crashed reports whether inc's node crashed since inc was made.
func (r *run) crashed(inc *incarnation) bool {
	nd := r.nodes[inc.node]
	return nd.Incarnation() != inc.nodeInc || !nd.Alive()
}

// onNode runs f on node i's current incarnation and waits for it; it
// reports false if the node crashed before f returned (then f never
// returns). Calls into a member run on its node, so that a crash stops
// them with it rather than leaving a lock of the member held.
func (r *run) onNode(inc *incarnation, f func()) bool {
	done := harness.NewChan[struct{}](0)
	if r.nodes[inc.node].Go(func() { f(); done.Close() }) != nil {
		return false
	}
	return harness.Select(done.RecvCase(nil, nil), harness.Done(inc.nodeCtx)) == 0
}

// onNodeWithin is onNode with a bound: hung reports that f had not
// returned within it (f may still return later).
func (r *run) onNodeWithin(inc *incarnation, bound time.Duration, f func()) (ok, hung bool) {
	done := harness.NewChan[struct{}](0)
	if r.nodes[inc.node].Go(func() { f(); done.Close() }) != nil {
		return false, false
	}
	t := harness.NewTimer(bound)
	i := harness.Select(done.RecvCase(nil, nil), harness.Done(inc.nodeCtx), t.C.RecvCase(nil, nil))
	t.Stop()
	return i == 0, i == 2
}

// shutdown shuts inc down on its node and checks that it returned in time
// and released what it holds. final: the run is ending.
func (r *run) shutdown(inc *incarnation, final bool) {
	if harness.Select(inc.made.RecvCase(nil, nil), harness.Done(inc.nodeCtx)) != 0 {
		return // crashed before it was made
	}
	r.mu.Lock()
	if inc.leaving { // shut down already: wait for that Shutdown
		r.mu.Unlock()
		harness.Select(inc.closed.RecvCase(nil, nil), harness.Done(inc.nodeCtx))
		return
	}
	if !final {
		r.changes++
	}
	inc.leaving, inc.leftAt = true, r.Since()
	inc.aborted = !inc.started
	in := inc.in
	r.mu.Unlock()
	twice := final && r.sh.twice == inc.node
	var err, err2 error
	op := r.ops.Call(0, opInput{Op: "shutdown", Object: memberName(inc.node)})
	bound := shutdownBound + time.Second
	if r.cfg.fault == "hung-shutdown" && !final {
		bound = time.Microsecond // as if Shutdown had hung
	}
	ok, hung := r.onNodeWithin(inc, bound, func() {
		ctx, cancel := harness.WithTimeout(context.Background(), shutdownBound)
		defer cancel()
		var wg harness.WaitGroup
		if twice { // Shutdown twice at once: both return, neither fails
			wg.Go(func() {
				op := r.ops.Call(0, opInput{Op: "shutdown", Object: memberName(inc.node)})
				err2 = in.Shutdown(ctx)
				op.Return(nil)
			})
		}
		if final && r.sh.inspectEnd {
			wg.Go(func() { r.inspect(inc, "while it shut down") })
		}
		if !final && r.sh.impatient {
			wg.Go(func() { r.impatientShutdown(inc, in) })
		}
		err = in.Shutdown(ctx)
		wg.Wait()
	})
	op.Return(nil)
	if hung {
		r.violate(checkers.Timeliness, "%s: Shutdown has not returned %v after it was called, though its context expired after %v", inc, bound, shutdownBound)
		inc.closed.Close()
		return
	}
	if !ok {
		return // its node crashed meanwhile
	}
	inc.closed.Close()
	if err = errors.Join(err, err2); err != nil {
		r.violate(checkers.Timeliness, "%s: Shutdown did not finish within %v: %v", inc, shutdownBound, err)
	}
	r.mu.Lock()
	inc.shutDone, inc.shutAt = true, r.Since()
	started := inc.started
	r.mu.Unlock()
	// Once Shutdown returned, the member serves nothing: its listener and
	// the connections it accepted are closed; if its Start had returned
	// too, so is every connection it dialed.
	if open := inc.host.open(!started); len(open) > 0 {
		r.violate(harness.Leak, "%s: %d connection(s) or listener(s) still open after Shutdown returned: %s", inc, len(open), resourceList(open))
	}
	// Nor does any of its goroutines still run: none is in a network call
	// (the caller's Start, if it still runs, may be).
	if calls := inc.host.inFlight(); started && len(calls) > 0 {
		r.violate(harness.Leak, "%s: goroutines still in network calls after Shutdown returned:%s", inc, scenarios.Lines(calls))
	}
	// Nor is any timer of its left pending (once its Start returned too).
	r.checkTimersAtRest("once its Shutdown returned", []*timerWatch{r.restingWatch(inc, 0)})
	r.readAfterShutdown(inc)
}

// impatientShutdown calls Shutdown a second time while the first runs,
// with a short deadline: it waits for the first at most until its own
// context is done (a first Shutdown that tells a black-holed member it
// leaves waits ProbeTimeout for it), and must then return. It lets the
// first call take the member's lock first: a Progress is a scheduling
// point that does not let the clock move, and the first call needs three.
func (r *run) impatientShutdown(inc *incarnation, in *sys.Instance) {
	for range 50 {
		harness.Progress()
	}
	ctx, cancel := harness.WithTimeout(context.Background(), impatientBound)
	defer cancel()
	op := r.ops.Call(0, opInput{Op: "shutdown", Object: memberName(inc.node)})
	start := r.Since()
	_ = in.Shutdown(ctx) // the first call's error, or its own context's
	if r.cfg.fault == "impatient-wait" {
		harness.Sleep(5 * impatientBound) // as if it had waited for the first
	}
	op.Return(nil)
	if took := r.Since() - start; took > impatientBound+abortSlack {
		r.violate(checkers.Timeliness, "%s: a second Shutdown, called while the first ran, with a context done after %v, returned only %v later: it kept waiting for the first once its own context was done", inc, impatientBound, took)
	}
}

// impatientBound is the deadline of the impatient second Shutdown.
const impatientBound = 20 * time.Millisecond

// readAfterShutdown reads a member's state once its Shutdown and its Start
// have returned: Self, Members, Coordinator and View may be called at any
// time, and nothing of a member that shut down holds a lock of its any
// more. A read that has not returned within readBound is a Timeliness
// violation.
func (r *run) readAfterShutdown(inc *incarnation) {
	wait := harness.NewTimer(readBound)
	defer wait.Stop()
	if harness.Select(inc.done.RecvCase(nil, nil), harness.Done(inc.nodeCtx), wait.C.RecvCase(nil, nil)) != 0 {
		return // its Start still runs (or its node crashed)
	}
	r.mu.Lock()
	in := inc.in
	r.mu.Unlock()
	done := harness.NewChan[struct{}](0)
	if r.nodes[inc.node].Go(func() {
		_, _, _ = in.Self(), in.Members(), in.Coordinator()
		_ = in.View()
		if r.cfg.fault != "slow-read" { // else as if the reads had not returned
			done.Close()
		}
	}) != nil {
		return
	}
	if harness.Select(done.RecvCase(nil, nil), harness.Done(inc.nodeCtx), wait.C.RecvCase(nil, nil)) == 2 {
		r.violate(checkers.Timeliness, "%s: its Shutdown and its Start returned, but reading its state (Self, Members, Coordinator, View) has not returned %v later: a lock of the member is still held", inc, readBound)
	}
}

// readBound bounds a read of a member's state once it shut down.
const readBound = 500 * time.Millisecond

// shutdownAll shuts every live member down, in the shape's order, one
// after another or all at once.
func (r *run) shutdownAll() {
	var live []*incarnation
	for _, i := range r.sh.shutdownOrder {
		if inc := r.current(i); inc != nil && !r.isLeaving(inc) && !r.crashed(inc) {
			live = append(live, inc)
		}
	}
	if r.cfg.fault == "no-shutdown" && len(live) > 0 {
		live = live[:len(live)-1]
	}
	if !r.sh.concurrent {
		for k, inc := range live {
			if r.cfg.fault == "early-check" { // checks before Shutdown returns
				harness.Go(func() { r.shutdown(inc, true) })
				r.checkLeft(inc, live[k+1:])
				continue
			}
			r.shutdown(inc, true)
			r.checkLeft(inc, live[k+1:])
		}
		return
	}
	var wg harness.WaitGroup
	for _, inc := range live {
		wg.Go(func() { r.shutdown(inc, true) })
	}
	wg.Wait()
}

// checkLeft checks that a member's leave was announced: once its Shutdown
// returned, none of the members still up lists it (Shutdown tells each
// member it leaves, and waits for the answer; Olric's leave blocks until
// the leave message is broadcast). It runs at the end, with no fault
// around and the cluster settled.
func (r *run) checkLeft(inc *incarnation, rest []*incarnation) {
	r.mu.Lock()
	joined := inc.started && inc.err == nil
	r.mu.Unlock()
	if !joined || r.crashed(inc) {
		return
	}
	gone := inc.in.Self()
	for _, y := range rest {
		if r.crashed(y) {
			continue
		}
		if slices.ContainsFunc(y.in.Members(), func(m sys.Member) bool { return m.ID == gone.ID }) {
			r.violate(checkers.Invariant, "%s's Shutdown returned, but %s still lists it as a member: its leave was not announced", inc, y)
		}
	}
}

// awaitShutdowns waits until every Shutdown called has returned (or its
// node crashed): those of members whose Start failed may still run.
func (r *run) awaitShutdowns() {
	r.mu.Lock()
	incs := slices.Clone(r.incs)
	r.mu.Unlock()
	for _, inc := range incs {
		r.mu.Lock()
		leaving := inc.leaving
		r.mu.Unlock()
		if leaving {
			harness.Select(inc.closed.RecvCase(nil, nil), harness.Done(inc.nodeCtx))
		}
	}
}

// startBound bounds how long a Start may still take once the plan is
// over: each of MaxJoinAttempts join attempts asks every peer, and one that
// does not answer (a black hole) costs RequestTimeout, then waits
// JoinRetryInterval; then the bootstrap waits up to BootstrapTimeout (the
// first push may wait RequestTimeout for a dead member as well).
func (r *run) startBound() time.Duration {
	c := r.sh.cfg
	attempt := time.Duration(r.sh.members)*c.requestTimeout + c.joinRetry
	return time.Duration(c.maxJoinAttempts)*attempt + c.bootstrap + c.requestTimeout + 10*time.Second
}

// abortStarts ends the run by sampling, once per node in every run and
// with nothing else going on, the windows where a Shutdown's checks race
// the launches of a Start (the listener, the prober and the gossip sender,
// the routing table's goroutines), which a mid-run leave reaches only now
// and then. First, on each node in turn, a new member is made and shut
// down at once, with no cluster to join: Shutdown lands the shape's
// startSteps and stopSteps scheduling points away from Start's first
// steps. Then a new member starts on the first node of the shutdown order
// and forms a cluster of its own; on each other node a new member starts,
// joins it, and is shut down after the shape's abortAfter answers to its
// calls (none: in its first steps; one: once its join was answered) and a
// few scheduling points more; then the first shuts down. Every Start must
// return, and the checks of any Shutdown apply.
func (r *run) abortStarts() {
	var nodes []int
	for _, i := range r.sh.shutdownOrder {
		if !r.nodes[i].Alive() {
			continue
		}
		if inc := r.current(i); inc != nil && !r.isLeaving(inc) && !r.crashed(inc) {
			continue // a member that was never shut down (a fault of the workload's own)
		}
		nodes = append(nodes, i)
	}
	if len(nodes) == 0 {
		return
	}
	ctx := context.Background()
	for _, i := range nodes {
		if err := r.rejoinAction(ctx, memberName(i)); err != nil {
			harness.Note("abort-starts: %v", err)
			continue
		}
		if err := r.leaveAction(ctx, memberName(i)); err != nil {
			harness.Note("abort-starts: %v", err)
		}
	}
	r.awaitStarts()
	if err := r.rejoinAction(ctx, memberName(nodes[0])); err != nil {
		harness.Note("abort-starts: %v", err)
		return
	}
	r.awaitStarts()
	for k, i := range nodes[1:] {
		if err := r.rejoinAction(ctx, memberName(i)); err != nil {
			harness.Note("abort-starts: %v", err)
			continue
		}
		arg := memberName(i)
		if after := r.sh.abortAfter[k%len(r.sh.abortAfter)]; after > 0 {
			arg += " " + strconv.Itoa(after)
		}
		if err := r.leaveAction(ctx, arg); err != nil {
			harness.Note("abort-starts: %v", err)
		}
	}
	r.awaitStarts()
	if inc := r.current(nodes[0]); inc != nil && !r.crashed(inc) {
		r.shutdown(inc, true)
	}
	r.awaitShutdowns()
}

// awaitStarts waits until every member's Start has returned (or its node
// crashed), the members of nodes that were just started or restarted
// included.
func (r *run) awaitStarts() {
	bound := r.startBound()
	deadline := harness.NewTimer(bound)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		incs := slices.Clone(r.incs)
		r.mu.Unlock()
		for _, inc := range incs {
			if harness.Select(inc.done.RecvCase(nil, nil), harness.Done(inc.nodeCtx), deadline.C.RecvCase(nil, nil)) == 2 {
				r.violate(checkers.Timeliness, "%s: Start had not returned %v after the fault plan ended", inc, bound)
				return
			}
		}
		switch {
		case r.mainPending():
			harness.Sleep(time.Millisecond) // a node's main has yet to make its member
		case r.count() == len(incs):
			return
		}
	}
}

// count returns how many members were made so far.
func (r *run) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.incs)
}

// mainPending reports whether a running node has not made the member of
// its current incarnation yet.
func (r *run) mainPending() bool {
	for i, nd := range r.nodes {
		inc := r.current(i)
		if nd.Alive() && (inc == nil || inc.nodeInc < nd.Incarnation()) {
			return true
		}
	}
	return false
}

// startInspector reads members' state at the shape's moments, each
// inspection on a goroutine of its own; the channel is closed once all are
// over.
func (r *run) startInspector() *harness.Chan[struct{}] {
	done := harness.NewChan[struct{}](0)
	harness.Go(func() {
		defer done.Close()
		var wg harness.WaitGroup
		for _, in := range r.sh.inspections {
			if d := in.at - r.Since(); d > 0 {
				harness.Sleep(d)
			}
			if inc := r.current(in.member); inc != nil {
				wg.Go(func() { r.inspect(inc, "at an inspection") })
			}
		}
		wg.Wait()
	})
	return done
}

// inspect reads a member's state on its node (Self, Members, Coordinator,
// View) and checks its view, unless its node crashed.
func (r *run) inspect(inc *incarnation, when string) {
	if r.crashed(inc) {
		return
	}
	r.mu.Lock()
	m := inc.in
	r.mu.Unlock()
	if m == nil {
		return
	}
	op := r.ops.Call(0, opInput{Op: "inspect", Object: memberName(inc.node)})
	r.onNode(inc, func() {
		_ = m.Self()
		_ = m.Members()
		_ = m.Coordinator()
		r.checkView(inc, when)
	})
	op.Return(nil)
}

// checkView checks that a member's ownedPartitionCount is the number of
// partitions whose primary owner it is in the table it applied last: the
// two are set together under the member's lock, so this holds at every
// moment (the Buggy variant breaks it when a push is applied before Start
// sets this). Run it on the member's node.
func (r *run) checkView(inc *incarnation, when string) {
	r.mu.Lock()
	in := inc.in
	r.mu.Unlock()
	v := in.View()
	if v.Table == nil {
		return
	}
	if v.Version.IsZero() || v.Coordinator.IsZero() {
		r.violate(checkers.Invariant, "%s, %s: applied a table of version %v from coordinator %v", inc, when, v.Version, v.Coordinator)
	}
	r.mu.Lock()
	last := inc.lastVersion
	if last.Less(v.Version) {
		inc.lastVersion = v.Version
	}
	r.mu.Unlock()
	if v.Version.Less(last) {
		r.violate(checkers.Invariant, "%s, %s: applied the table of version %v after that of version %v", inc, when, v.Version, last)
	}
	self := in.Self()
	owned := 0
	for p := range v.Table.Owners {
		if v.Table.Owner(p).ID == self.ID {
			owned++
		}
	}
	if uint64(owned) != v.OwnedPartitionCount {
		r.violate(checkers.Invariant, "%s, %s: %s has ownedPartitionCount %d, but it is the primary owner of %d of the %d partitions of the table it applied (version %v, signature %x)",
			inc, when, memberName(inc.node), v.OwnedPartitionCount, owned, len(v.Table.Owners), v.Version, v.Signature)
	}
}

// PushBegin records a push: a write of the register of every tracked
// partition, for every member name. It runs on the coordinator's goroutine;
// the record is made through harness.Observe, so that run.mu orders no
// coordinator after another goroutine of the system (and reaches no
// scheduling point while it is held).
func (r *run) PushBegin(c sys.Member, v sys.Version, t *sys.Table) {
	num := r.versionNumber(v)
	var in []string
	for _, m := range t.Members {
		in = append(in, m.Name)
	}
	// The table is read here, on the coordinator's goroutine: Observe's
	// goroutine reads only what the call hands it.
	p := &push{coordinator: c, version: v, owners: map[int]string{}}
	for _, part := range r.sh.tracked {
		p.owners[part] = t.Owner(part).Name
	}
	harness.Observe(func() { r.pushBegun(p, num, in) })
	r.firePushTriggers(c.Name, in)
}

// pushBegun is PushBegin's record, on Observe's goroutine.
func (r *run) pushBegun(p *push, num int64, in []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, part := range r.sh.tracked {
		owner := p.owners[part]
		for _, name := range r.names {
			r.nextID++
			p.writes = append(p.writes, r.h.Call(r.nextID, owners.Write(ownerKey(part, name), num, owner)))
		}
	}
	for _, name := range in {
		p.ops = append(p.ops, r.ops.Call(0, opInput{Op: "push", Object: name}))
	}
	r.pushes = append(r.pushes, p)
}

// PushEnd completes the writes of a push: done, or of unknown outcome if
// some member did not apply it. Like PushBegin, through harness.Observe.
func (r *run) PushEnd(c sys.Member, v sys.Version, err error) {
	harness.Observe(func() { r.pushEnded(c, v, err) })
}

// pushEnded is PushEnd's record, on Observe's goroutine.
func (r *run) pushEnded(c sys.Member, v sys.Version, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.pushes, func(x *push) bool { return x.coordinator.ID == c.ID && x.version == v })
	if i < 0 {
		return
	}
	p := r.pushes[i]
	for _, w := range p.writes {
		if err != nil {
			w.Unknown()
		} else {
			w.Return(nil)
		}
	}
	for _, o := range p.ops {
		o.Return(nil)
	}
	if r.cfg.fault == "forget-push" && err == nil {
		r.pushes = slices.Delete(r.pushes, i, i+1)
	}
}

func ownerKey(part int, member string) string { return fmt.Sprintf("p%d@%s", part, member) }

// startClients runs the shape's lookup goroutines on a client node.
func (r *run) startClients() *harness.Chan[struct{}] {
	done := harness.NewChan[struct{}](len(r.sh.clients))
	nd := harness.NewNode("client", nil)
	if err := nd.Start(); err != nil {
		r.violate(checkers.Invariant, "client node: %v", err)
		for range r.sh.clients {
			done.Send(struct{}{})
		}
		return done
	}
	var shared *sys.Client
	newClient := func(k int) *sys.Client {
		h := &countingHost{nd: nd, owner: fmt.Sprintf("client%d", k+1), since: r.Since, returned: harness.NewChan[struct{}](1)}
		r.mu.Lock()
		r.clients = append(r.clients, h)
		r.mu.Unlock()
		return sys.NewClient(h)
	}
	if r.sh.shared {
		shared = newClient(0)
		r.sharedClient = shared
	}
	for k, plan := range r.sh.clients {
		cl, own, name := shared, shared == nil, "client1"
		if own {
			cl, name = newClient(k), fmt.Sprintf("client%d", k+1)
		}
		early := r.sh.closeEarly && k == 0 && (own || len(r.sh.clients) == 1)
		if early && !own {
			r.sharedClient = nil // the goroutine closes it
		}
		if err := nd.Go(func() {
			defer done.Send(struct{}{})
			r.lookups1(cl, name, plan, own, early)
		}); err != nil {
			done.Send(struct{}{})
		}
	}
	return done
}

// lookups1 is one client goroutine: it looks owners up at its plan's
// moments, then closes its client if it owns it; early closes the client
// while the last lookup is in flight.
func (r *run) lookups1(cl *sys.Client, name string, plan clientPlan, own, early bool) {
	cid := r.clientID()
	seen := map[string]bool{}
	if r.cfg.fault == "leak-timer" {
		harness.NewTicker(time.Second) // never stopped
	}
	for j, at := range plan.at {
		if d := at - r.Since(); d > 0 {
			harness.Sleep(d)
		}
		var closed *harness.Chan[struct{}]
		if early && j == len(plan.at)-1 {
			closed = harness.NewChan[struct{}](0)
			h := r.clientHost(name)
			harness.Go(func() {
				if r.sh.closeOnAnswer {
					// Close right after the lookup's answer came, a few
					// steps into what the client does with it (it pools
					// the connection).
					h.awaitCalls(1, r.sh.lookupTimeout)
					for range r.sh.closeSteps {
						harness.Progress()
					}
				}
				r.closeClient(cl, name)
				closed.Close()
			})
		}
		if i, part := plan.member[j], plan.part[j]; part >= r.sh.cfg.partitions {
			r.badLookup(cl, name, i, part)
		} else {
			r.lookup(cl, name, cid, i, part, seen)
		}
		if closed != nil {
			closed.Recv()
			r.lookupClosed(cl, name, plan.member[j], plan.part[j])
		}
	}
	if own && !early {
		r.closeClient(cl, name)
	}
}

// clientHost returns the host of the client named name.
func (r *run) clientHost(name string) *countingHost {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.clients {
		if h.owner == name {
			return h
		}
	}
	panic("no client " + name)
}

// lookup asks member i for the owner of part, and records the read of the
// register and the answer.
func (r *run) lookup(cl *sys.Client, name string, cid, i, part int, seen map[string]bool) {
	ctx, cancel := harness.WithTimeout(context.Background(), r.sh.lookupTimeout)
	defer cancel()
	key := ownerKey(part, r.names[i])
	p := r.h.Call(cid, owners.Read(key))
	op := r.ops.Call(0, opInput{Op: "lookup", Object: memberName(i)})
	cop := r.ops.Call(0, opInput{Op: "lookup", Object: name})
	res, err := cl.Lookup(ctx, r.peers[i], part)
	op.Return(nil)
	cop.Return(nil)
	if err != nil {
		p.Unknown()
		return
	}
	num := r.versionNumber(res.Version)
	owner := res.Owner.Name
	switch r.cfg.fault {
	case "stale-lookup": // a key read before answers the initial version
		if seen[key] {
			num = 0
		}
		seen[key] = true
	case "wrong-owner":
		owner += "x"
	}
	p.Return(owners.Returned(num, owner))
	r.mu.Lock()
	r.lookups = append(r.lookups, lookup{part: part, member: res.Member, version: res.Version, owner: owner})
	r.mu.Unlock()
}

// badLookup looks up a partition that does not exist: the member must
// answer with an error.
func (r *run) badLookup(cl *sys.Client, name string, i, part int) {
	ctx, cancel := harness.WithTimeout(context.Background(), r.sh.lookupTimeout)
	defer cancel()
	op := r.ops.Call(0, opInput{Op: "lookup", Object: memberName(i)})
	cop := r.ops.Call(0, opInput{Op: "lookup", Object: name})
	res, err := cl.Lookup(ctx, r.peers[i], part)
	op.Return(nil)
	cop.Return(nil)
	if err == nil {
		r.violate(checkers.Invariant, "%s answered a lookup of partition %d, of %d partitions: owner %v", memberName(i), part, r.sh.cfg.partitions, res.Owner)
	}
}

// lookupClosed looks up a partition on a client that was closed: the
// lookup must fail, at once (no connection is dialed for it).
func (r *run) lookupClosed(cl *sys.Client, name string, i, part int) {
	ctx, cancel := harness.WithTimeout(context.Background(), r.sh.lookupTimeout)
	defer cancel()
	op := r.ops.Call(0, opInput{Op: "lookup", Object: name})
	res, err := cl.Lookup(ctx, r.peers[i], part)
	op.Return(nil)
	if r.cfg.fault == "closed-answers" {
		err = nil // as if the closed client had answered
	}
	if err == nil {
		r.violate(checkers.Invariant, "%s answered a lookup of partition %d from %s after it was closed: owner %v", name, part, memberName(i), res.Owner)
	}
}

// closeClients closes the shared client, once every lookup is over.
func (r *run) closeClients() {
	if r.sharedClient != nil {
		r.closeClient(r.sharedClient, "client1")
	}
}

// closeClient closes a client, recording the call.
func (r *run) closeClient(cl *sys.Client, name string) {
	op := r.ops.Call(0, opInput{Op: "close", Object: name})
	cl.Close()
	op.Return(nil)
}
