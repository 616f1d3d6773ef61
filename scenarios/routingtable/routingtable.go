package routingtable

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
	"github.com/heddle-go/heddle/scenarios"
	sys "github.com/heddle-go/heddle/systems/routingtable"
)

// Case is race case 3: Olric v0.5.5, RoutingTable.Start against the
// UPDATEROUTING handler (buraksezer/olric #247, fixed by #248 in v0.5.6).
// Five members join in a random order at random moments, so that the
// coordinator's pushes race their joins; then a member leaves and rejoins
// (sometimes shut down in the middle of its join first), and the
// coordinator crashes and restarts. A client looks partition owners up all
// along. Buggy must show the data race on `this` (Start's write against
// setOwnedPartitionCount's read) or its consequence, an ownedPartitionCount
// counted for a zero member; Fixed must pass every check.
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
				Check:  Check(sys.Buggy, DefaultConfig),
			},
			{
				Name:  "fixed",
				Seeds: 2000,
				Check: Check(sys.Fixed, DefaultConfig),
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

// Config sizes the routingtable workload.
type Config struct {
	// Members is the size of the cluster.
	Members int
	// StartSpread: each member starts at a random moment in [0, StartSpread).
	StartSpread time.Duration
	// PushPeriod is the coordinator's periodic push.
	PushPeriod time.Duration
	// Tracked is how many partitions the client looks up.
	Tracked int
	// NoLeave and NoCrash skip the leave/rejoin and coordinator-crash phases.
	NoLeave, NoCrash bool

	// fault breaks the workload's own code on purpose, for the tests that
	// show the checks can fail: "stale-lookup" (the client records the
	// initial version for a key it read before), "wrong-owner" (it records another owner),
	// "no-shutdown" (one member is never shut down), "tight-bootstrap"
	// (bootstrap must take under a millisecond), "forget-push" (the
	// workload forgets the pushes that succeeded).
	fault string
}

// DefaultConfig is the workload the case runs.
var DefaultConfig = Config{Members: 5, StartSpread: 2 * time.Second, PushPeriod: 5 * time.Second, Tracked: 3}

const (
	port = 3320
	// bootstrapTimeout is Olric's default bootstrap timeout: Start fails
	// if the member is not bootstrapped by then.
	bootstrapTimeout = 10 * time.Second
	// shutdownBound bounds a member's Shutdown.
	shutdownBound = 10 * time.Second
	// startBound bounds Start (joins with retries, then the bootstrap
	// wait); its own bootstrap bound is checked separately.
	startBound = time.Minute
	// poll is how often the workload looks for quiescence.
	poll = 250 * time.Millisecond
)

// incarnation is one incarnation of a member: one Instance on a node.
type incarnation struct {
	node    int
	name    string
	in      *sys.Instance
	done    *harness.Chan[struct{}] // closed when Start returned
	startAt time.Duration
	endAt   time.Duration // when Start returned
	err     error         // what Start returned
	aborted bool          // shut down during its Start, on purpose
	gone    bool          // shut down or crashed
}

// push is one push the coordinators made, as the Observer saw it.
type push struct {
	coordinator sys.Member
	version     sys.Version
	owners      map[int]string // tracked partition -> primary owner's name
	writes      []*harness.Pending
}

// lookupOut is the recorded output of a lookup, beside the register's.
type lookup struct {
	part    int
	member  string
	version sys.Version
	owner   string
}

// run is one run of the workload.
type run struct {
	scenarios.Run
	variant sys.Variant
	cfg     Config
	names   []string
	peers   []string
	nodes   []*harness.Node
	tracked []int

	// Mu (of scenarios.Run) guards the fields below.
	next    []*incarnation // per node: the incarnation its next main runs
	cur     []*incarnation // per node: the live incarnation, nil if none
	incs    []*incarnation // every incarnation, in order of launch
	pushes  []*push
	lookups []lookup

	h harness.History // register reads and writes
}

// owners: per (tracked partition, member name), the versions a member
// returns never go back, and never exceed a version already pushed.
var owners checkers.Register[string]

// Check returns the Check of a variant: it runs the workload
// with opts and returns the run's result and every violation found.
func Check(v sys.Variant, cfg Config) func(harness.Options, faults.Plan) (*harness.Result, []checkers.Violation) {
	return scenarios.Check(func(harness.Options, faults.Plan) (scenarios.Workload, error) {
		return &run{variant: v, cfg: cfg}, nil
	})
}

// versionNumber maps a table version to the register's int64: coordinators'
// birth dates in microseconds since the run began, then the push count.
func (r *run) versionNumber(v sys.Version) int64 {
	return (v.Epoch-r.Start().UnixNano())/1000*1_000_000 + v.Seq
}

// Main runs the workload.
func (r *run) Main() {
	n := r.cfg.Members
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%d", i+1)
		r.names = append(r.names, name)
		r.peers = append(r.peers, fmt.Sprintf("%s:%d", name, port))
	}
	r.next, r.cur = make([]*incarnation, n), make([]*incarnation, n)
	for i, name := range r.names {
		r.nodes = append(r.nodes, harness.NewNode(name, func(nd *harness.Node) { r.incarnate(i, nd) }))
	}
	parts := harness.IntN(271)
	for len(r.tracked) < r.cfg.Tracked {
		p := (parts + len(r.tracked)*97) % 271
		r.tracked = append(r.tracked, p)
	}
	stop, stopClient := harness.WithCancel(context.Background())
	clientDone := r.startClient(stop)

	r.joinPhase()
	if !r.cfg.NoLeave {
		r.leavePhase()
	}
	if !r.cfg.NoCrash {
		r.crashPhase()
	}

	stopClient()
	clientDone.Recv()
	r.shutdownAll()
	r.Complete()
}

// joinPhase starts every member at a random moment, in a random order.
func (r *run) joinPhase() {
	harness.Note("phase: joins")
	type start struct {
		at time.Duration
		i  int
	}
	var starts []start
	for i := range r.names {
		// Microseconds, and never twice the same: birth dates decide who
		// coordinates, and the register's version numbers.
		at := time.Duration(harness.IntN(int(r.cfg.StartSpread/time.Microsecond))) * time.Microsecond
		for slices.ContainsFunc(starts, func(s start) bool { return s.at == at }) {
			at += time.Microsecond
		}
		starts = append(starts, start{at, i})
	}
	sort.Slice(starts, func(a, b int) bool { return starts[a].at < starts[b].at })
	var incs []*incarnation
	for _, s := range starts {
		if d := s.at - r.Since(); d > 0 {
			harness.Sleep(d)
		}
		inc := r.prepare(s.i, false)
		if err := r.nodes[s.i].Start(); err != nil {
			r.Violate(checkers.Invariant, "starting node %s: %v", r.names[s.i], err)
			return
		}
		incs = append(incs, inc)
	}
	for _, inc := range incs {
		r.awaitStart(inc)
	}
	r.settle("after the joins")
}

// leavePhase shuts a random member down, lets the cluster settle, and
// starts it again on the same node (a new instance in the same process);
// one time in three that instance is shut down in the middle of its join
// and started once more.
func (r *run) leavePhase() {
	live := r.live()
	if len(live) < 2 {
		return
	}
	inc := live[harness.IntN(len(live))]
	harness.Note("phase: %s leaves", inc.name)
	r.shutdown(inc)
	r.settle(fmt.Sprintf("after %s left", inc.name))

	if harness.IntN(3) == 0 {
		abort := r.prepare(inc.node, true)
		harness.Note("phase: %s rejoins and is shut down while joining", inc.name)
		r.nodes[inc.node].Go(func() { r.incarnate(inc.node, r.nodes[inc.node]) })
		harness.Sleep(time.Duration(harness.IntN(5000)) * time.Microsecond)
		r.waitInstance(abort)
		r.shutdown(abort)
		r.awaitStart(abort)
	}
	harness.Note("phase: %s rejoins", inc.name)
	again := r.prepare(inc.node, false)
	r.nodes[inc.node].Go(func() { r.incarnate(inc.node, r.nodes[inc.node]) })
	r.awaitStart(again)
	r.settle(fmt.Sprintf("after %s rejoined", inc.name))
}

// crashPhase crashes the coordinator (a reset or a black hole), lets the
// others find out and settle, then restarts it.
func (r *run) crashPhase() {
	live := r.live()
	if len(live) < 2 {
		return
	}
	c := live[0]
	for _, inc := range live[1:] {
		if inc.in.Self().Birthdate < c.in.Self().Birthdate {
			c = inc
		}
	}
	f := faults.Crash(c.name)
	if harness.IntN(2) == 0 {
		f = faults.BlackHole(c.name)
	}
	harness.Note("phase: the coordinator %s crashes", c.name)
	if err := faults.Apply(f); err != nil {
		r.Violate(checkers.Invariant, "%s: %v", f, err)
		return
	}
	r.Mu.Lock()
	c.gone = true
	r.cur[c.node] = nil
	r.Mu.Unlock()
	r.settle(fmt.Sprintf("after the coordinator %s crashed", c.name))

	harness.Note("phase: %s restarts", c.name)
	inc := r.prepare(c.node, false)
	if err := faults.Apply(faults.Restart(c.name)); err != nil {
		r.Violate(checkers.Invariant, "restart %s: %v", c.name, err)
		return
	}
	r.awaitStart(inc)
	r.settle(fmt.Sprintf("after %s restarted", c.name))
}

// prepare makes the incarnation the next main (or Go) of node i runs;
// aborted marks one the workload will shut down during its Start.
func (r *run) prepare(i int, aborted bool) *incarnation {
	inc := &incarnation{node: i, name: r.names[i], done: harness.NewChan[struct{}](0), aborted: aborted}
	r.Mu.Lock()
	r.next[i] = inc
	r.incs = append(r.incs, inc)
	r.Mu.Unlock()
	return inc
}

// incarnate runs on node i: it makes the prepared instance and starts it.
func (r *run) incarnate(i int, nd *harness.Node) {
	r.Mu.Lock()
	inc := r.next[i]
	r.next[i] = nil
	r.Mu.Unlock()
	if inc == nil {
		return
	}
	in := sys.New(nd.Context(), sys.Config{
		Variant:          r.variant,
		Name:             inc.name,
		Host:             nd,
		Port:             port,
		Peers:            r.peers,
		PushPeriod:       r.cfg.PushPeriod,
		BootstrapTimeout: bootstrapTimeout,
		Observer:         r,
	})
	r.Mu.Lock()
	inc.in = in
	if !inc.aborted {
		r.cur[i] = inc
	}
	r.Mu.Unlock()
	inc.startAt = r.Since()
	err := in.Start()
	inc.endAt, inc.err = r.Since(), err
	inc.done.Close()
}

// waitInstance waits until inc's instance exists.
func (r *run) waitInstance(inc *incarnation) {
	for {
		r.Mu.Lock()
		made := inc.in != nil
		r.Mu.Unlock()
		if made {
			return
		}
		harness.Sleep(100 * time.Microsecond)
	}
}

// awaitStart waits for inc's Start to return and judges it.
func (r *run) awaitStart(inc *incarnation) {
	if harness.Select(inc.done.RecvCase(nil, nil), harness.After(startBound).RecvCase(nil, nil)) == 1 {
		r.Violate(checkers.Timeliness, "%s: Start had not returned %v after it was called", inc.name, startBound)
		return
	}
	if inc.aborted || inc.err == nil {
		return
	}
	if errors.Is(inc.err, sys.ErrOperationTimeout) {
		return // a late bootstrap: the Timeliness check reports it
	}
	r.Violate(checkers.Invariant, "%s: Start failed: %v", inc.name, inc.err)
}

// shutdown shuts inc down and checks that it returned in time.
func (r *run) shutdown(inc *incarnation) {
	r.Mu.Lock()
	inc.gone = true
	if r.cur[inc.node] == inc {
		r.cur[inc.node] = nil
	}
	r.Mu.Unlock()
	ctx, cancel := harness.WithTimeout(context.Background(), shutdownBound)
	defer cancel()
	if err := inc.in.Shutdown(ctx); err != nil {
		r.Violate(checkers.Timeliness, "%s: Shutdown did not finish within %v: %v", inc.name, shutdownBound, err)
	}
}

// shutdownAll shuts every live member down, in a random order.
func (r *run) shutdownAll() {
	live := r.live()
	for len(live) > 0 {
		i := harness.IntN(len(live))
		inc := live[i]
		live = append(live[:i], live[i+1:]...)
		if r.cfg.fault == "no-shutdown" && len(live) == 0 {
			break
		}
		r.shutdown(inc)
	}
}

// live returns the live incarnations whose Start succeeded, by node.
func (r *run) live() []*incarnation {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	var out []*incarnation
	for _, inc := range r.cur {
		if inc != nil && !inc.gone && inc.in != nil {
			out = append(out, inc)
		}
	}
	return out
}

// settle waits until the live members agree, then checks them: each knows
// exactly the live members and takes the oldest for its coordinator, each
// is bootstrapped, all have applied the same table (same signature, same
// members), and each member's ownedPartitionCount is the number of
// partitions whose primary owner it is in that table.
func (r *run) settle(when string) {
	var live []*incarnation
	for _, inc := range r.live() {
		if inc.err == nil {
			live = append(live, inc)
		}
	}
	if len(live) == 0 {
		return
	}
	bound := r.cfg.PushPeriod*2 + 10*time.Second
	deadline := r.Since() + bound
	var why string
	var views []sys.View
	for {
		views, why = r.agree(live)
		if why == "" || r.Since() >= deadline {
			break
		}
		harness.Sleep(poll)
	}
	if why != "" {
		r.Violate(checkers.Invariant, "%s, the cluster did not settle within %v: %s", when, bound, why)
		return
	}
	for i, inc := range live {
		self, v := inc.in.Self(), views[i]
		owned := 0
		for p := range v.Table.Owners {
			if v.Table.Owner(p).ID == self.ID {
				owned++
			}
		}
		if uint64(owned) != v.OwnedPartitionCount {
			r.Violate(checkers.Invariant, "%s: %s has ownedPartitionCount %d, but it is the primary owner of %d of the %d partitions of its table (signature %x)",
				when, inc.name, v.OwnedPartitionCount, owned, len(v.Table.Owners), v.Signature)
		}
	}
}

// agree returns the live members' views and "" if they agree, or what
// they disagree on.
func (r *run) agree(live []*incarnation) ([]sys.View, string) {
	oldest := live[0].in.Self()
	var want []string
	for _, inc := range live {
		s := inc.in.Self()
		want = append(want, fmt.Sprintf("%s/%x", s.Name, s.ID))
		if s.Birthdate < oldest.Birthdate {
			oldest = s
		}
	}
	sort.Strings(want)
	views := make([]sys.View, len(live))
	var sigs []string
	for i, inc := range live {
		v := inc.in.View()
		views[i] = v
		var known []string
		for _, m := range inc.in.Members() {
			known = append(known, fmt.Sprintf("%s/%x", m.Name, m.ID))
		}
		if !slices.Equal(known, want) {
			return nil, fmt.Sprintf("%s knows the members %v, the live ones are %v", inc.name, known, want)
		}
		if c := inc.in.Coordinator(); c.ID != oldest.ID {
			return nil, fmt.Sprintf("%s takes %s for the coordinator, the oldest live member is %s", inc.name, c, oldest)
		}
		if !v.Bootstrapped || v.Table == nil {
			return nil, fmt.Sprintf("%s is not bootstrapped", inc.name)
		}
		var inTable []string
		for _, m := range v.Table.Members {
			inTable = append(inTable, fmt.Sprintf("%s/%x", m.Name, m.ID))
		}
		if !slices.Equal(inTable, want) {
			return nil, fmt.Sprintf("%s's table (version %v) has the members %v, the live ones are %v", inc.name, v.Version, inTable, want)
		}
		if v.NumMembers != len(live) {
			return nil, fmt.Sprintf("%s counts %d members, %d are live", inc.name, v.NumMembers, len(live))
		}
		sigs = append(sigs, fmt.Sprintf("%s:%x", inc.name, v.Signature))
	}
	for i := range views {
		if views[i].Signature != views[0].Signature {
			return nil, fmt.Sprintf("the members' signatures differ: %s", strings.Join(sigs, " "))
		}
	}
	return views, ""
}

// PushBegin records a push: a write of the register of every tracked
// partition, for every member name.
func (r *run) PushBegin(c sys.Member, v sys.Version, t *sys.Table) {
	p := &push{coordinator: c, version: v, owners: map[int]string{}}
	num := r.versionNumber(v)
	for _, part := range r.tracked {
		owner := t.Owner(part).Name
		p.owners[part] = owner
		for _, name := range r.names {
			p.writes = append(p.writes, r.h.Call(r.ClientID(), owners.Write(ownerKey(part, name), num, owner)))
		}
	}
	r.Mu.Lock()
	r.pushes = append(r.pushes, p)
	r.Mu.Unlock()
}

// PushEnd completes the writes of a push: done, or of unknown outcome if
// some member did not apply it.
func (r *run) PushEnd(c sys.Member, v sys.Version, err error) {
	r.Mu.Lock()
	var p *push
	for _, x := range r.pushes {
		if x.coordinator.ID == c.ID && x.version == v {
			p = x
		}
	}
	r.Mu.Unlock()
	if p == nil {
		return
	}
	for _, w := range p.writes {
		if err != nil {
			w.Unknown()
		} else {
			w.Return(nil)
		}
	}
	if r.cfg.fault == "forget-push" && err == nil {
		r.Mu.Lock()
		r.pushes = slices.DeleteFunc(r.pushes, func(x *push) bool { return x == p })
		r.Mu.Unlock()
	}
}

func ownerKey(part int, member string) string { return fmt.Sprintf("p%d@%s", part, member) }

// startClient looks owners up, from a client node, until stop is done.
func (r *run) startClient(stop context.Context) *harness.Chan[struct{}] {
	done := harness.NewChan[struct{}](1)
	nd := harness.NewNode("client", nil)
	if err := nd.Start(); err != nil {
		r.Violate(checkers.Invariant, "client node: %v", err)
		done.Send(struct{}{})
		return done
	}
	cid := r.ClientID()
	nd.Go(func() {
		defer done.Send(struct{}{})
		cl := sys.NewClient(nd)
		defer cl.Close()
		seen := map[string]bool{}
		for {
			pause := harness.NewTimer(time.Duration(20+harness.IntN(130)) * time.Millisecond)
			if harness.Select(pause.C.RecvCase(nil, nil), harness.Done(stop)) == 1 {
				pause.Stop()
				return
			}
			i := harness.IntN(len(r.names))
			part := r.tracked[harness.IntN(len(r.tracked))]
			ctx, cancel := harness.WithTimeout(stop, time.Second)
			p := r.h.Call(cid, owners.Read(ownerKey(part, r.names[i])))
			res, err := cl.Lookup(ctx, r.peers[i], part)
			cancel()
			if err != nil {
				p.Unknown()
				continue
			}
			num := r.versionNumber(res.Version)
			owner := res.Owner.Name
			switch r.cfg.fault {
			case "stale-lookup": // a key read before answers the initial version
				if seen[ownerKey(part, r.names[i])] {
					num = 0
				}
				seen[ownerKey(part, r.names[i])] = true
			case "wrong-owner":
				owner += "x"
			}
			p.Return(owners.Returned(num, owner))
			r.Mu.Lock()
			r.lookups = append(r.lookups, lookup{part: part, member: res.Member, version: res.Version, owner: owner})
			r.Mu.Unlock()
		}
	})
	return done
}

// check runs the checks over the finished run: bootstrap times, the
// register of lookups, and every lookup's owner against the table of its
// version.
// Check judges the finished run.
func (r *run) Check() []checkers.Violation {
	var vs []checkers.Violation
	bound := bootstrapTimeout
	if r.cfg.fault == "tight-bootstrap" {
		bound = time.Millisecond
	}
	for _, inc := range r.incs {
		if inc.aborted || inc.in == nil {
			continue
		}
		var boot []time.Duration
		if inc.err == nil {
			boot = append(boot, inc.endAt)
		}
		vs = append(vs, checkers.Within(inc.name+" Start", []time.Duration{inc.startAt}, inc.name+" bootstrapped", boot, bound)...)
	}
	vs = append(vs, owners.Check(r.h.Operations(), checkers.LinOptions{Name: "routingtable-lookups", NoVisualization: true})...)
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
	if len(bad) > 0 {
		if len(bad) > 5 {
			bad = append(bad[:5], fmt.Sprintf("... and %d more", len(bad)-5))
		}
		vs = append(vs, checkers.Violationf(checkers.NotLinearizable, "owner lookups that no pushed table explains:\n  %s", strings.Join(bad, "\n  ")))
	}
	return vs
}
