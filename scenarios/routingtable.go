package scenarios

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
	"github.com/heddle-go/heddle/systems/routingtable"
)

func init() { Register(RoutingTable()) }

// RoutingTable is race case 3: Olric v0.5.5, RoutingTable.Start against the
// UPDATEROUTING handler (buraksezer/olric #247, fixed by #248 in v0.5.6).
// Five members join in a random order at random moments, so that the
// coordinator's pushes race their joins; then a member leaves and rejoins
// (sometimes shut down in the middle of its join first), and the
// coordinator crashes and restarts. A client looks partition owners up all
// along. Buggy must show the data race on `this` (Start's write against
// setOwnedPartitionCount's read) or its consequence, an ownedPartitionCount
// counted for a zero member; Fixed must pass every check.
func RoutingTable() harness.Case {
	return harness.Case{
		Name:    "routingtable",
		Bug:     "buraksezer/olric #247 (fix #248, v0.5.6)",
		Summary: "Olric v0.5.5: a routing-table push handled while Start joins reads `this` as Start writes it (data race); ownedPartitionCount is then counted for a zero member until the next push",
		Variants: []harness.Variant{
			{
				Name:   "buggy",
				Expect: []string{string(checkers.DataRace), string(checkers.Invariant)},
				Match:  rtIsTheBug,
				Seeds:  100,
				Check:  RoutingTableCheck(routingtable.Buggy, DefaultRoutingTableConfig),
			},
			{
				Name:  "fixed",
				Seeds: 2000,
				Check: RoutingTableCheck(routingtable.Fixed, DefaultRoutingTableConfig),
			},
		},
	}
}

// rtIsTheBug tells #247 from any other violation of the same kinds: the
// race must be on `this` between join (Start's assignment) and
// setOwnedPartitionCount, the invariant must be the ownedPartitionCount one.
func rtIsTheBug(v harness.Violation) bool {
	switch checkers.Kind(v.Kind) {
	case checkers.DataRace:
		return strings.Contains(v.Message, "setOwnedPartitionCount") && strings.Contains(v.Message, "(*RoutingTable).join")
	case checkers.Invariant:
		return strings.Contains(v.Message, "has ownedPartitionCount")
	}
	return false
}

// RoutingTableConfig sizes the routingtable workload.
type RoutingTableConfig struct {
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

// DefaultRoutingTableConfig is the workload the case runs.
var DefaultRoutingTableConfig = RoutingTableConfig{Members: 5, StartSpread: 2 * time.Second, PushPeriod: 5 * time.Second, Tracked: 3}

const (
	rtPort = 3320
	// rtBootstrapTimeout is Olric's default bootstrap timeout: Start fails
	// if the member is not bootstrapped by then.
	rtBootstrapTimeout = 10 * time.Second
	// rtShutdownBound bounds a member's Shutdown.
	rtShutdownBound = 10 * time.Second
	// rtStartBound bounds Start (joins with retries, then the bootstrap
	// wait); its own bootstrap bound is checked separately.
	rtStartBound = time.Minute
	// rtPoll is how often the workload looks for quiescence.
	rtPoll = 250 * time.Millisecond
)

// rtInc is one incarnation of a member: one Instance on a node.
type rtInc struct {
	node    int
	name    string
	in      *routingtable.Instance
	done    *harness.Chan[struct{}] // closed when Start returned
	startAt time.Duration
	endAt   time.Duration // when Start returned
	err     error         // what Start returned
	aborted bool          // shut down during its Start, on purpose
	gone    bool          // shut down or crashed
}

// rtPush is one push the coordinators made, as the Observer saw it.
type rtPush struct {
	coordinator routingtable.Member
	version     routingtable.Version
	owners      map[int]string // tracked partition -> primary owner's name
	writes      []*harness.Pending
}

// rtLookupOut is the recorded output of a lookup, beside the register's.
type rtLookup struct {
	part    int
	member  string
	version routingtable.Version
	owner   string
}

// rtRun is one run of the workload.
type rtRun struct {
	variant routingtable.Variant
	cfg     RoutingTableConfig
	t0      time.Time
	names   []string
	peers   []string
	nodes   []*harness.Node
	tracked []int

	mu      harness.Mutex // guards everything below
	next    []*rtInc      // per node: the incarnation its next main runs
	cur     []*rtInc      // per node: the live incarnation, nil if none
	incs    []*rtInc      // every incarnation, in order of launch
	vs      []harness.Violation
	pushes  []*rtPush
	lookups []rtLookup
	nextCID int

	h    harness.History // register reads and writes
	done bool            // main reached its end
}

// rtRegister: per (tracked partition, member name), the versions a member
// returns never go back, and never exceed a version already pushed.
var rtRegister checkers.Register[string]

// RoutingTableCheck returns the Check of a variant: it runs the workload
// with opts and returns the run's result and every violation found.
func RoutingTableCheck(v routingtable.Variant, cfg RoutingTableConfig) func(harness.Options) (*harness.Result, []harness.Violation) {
	return func(opts harness.Options) (*harness.Result, []harness.Violation) {
		r := &rtRun{variant: v, cfg: cfg}
		res := harness.Run(opts, r.main)
		vs := checkers.FromResult(res)
		vs = append(vs, r.vs...)
		if r.done && !res.Failed() {
			vs = append(vs, r.check()...)
		}
		return res, vs
	}
}

func (r *rtRun) violate(k checkers.Kind, format string, args ...any) {
	r.mu.Lock()
	r.vs = append(r.vs, k.Violationf(format, args...))
	r.mu.Unlock()
}

func (r *rtRun) clientID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextCID++
	return r.nextCID
}

func (r *rtRun) now() time.Duration { return harness.Since(r.t0) }

// versionNumber maps a table version to the register's int64: coordinators'
// birth dates in microseconds since the run began, then the push count.
func (r *rtRun) versionNumber(v routingtable.Version) int64 {
	return (v.Epoch-r.t0.UnixNano())/1000*1_000_000 + v.Seq
}

func (r *rtRun) main() {
	r.t0 = harness.Now()
	n := r.cfg.Members
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%d", i+1)
		r.names = append(r.names, name)
		r.peers = append(r.peers, fmt.Sprintf("%s:%d", name, rtPort))
	}
	r.next, r.cur = make([]*rtInc, n), make([]*rtInc, n)
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
	r.done = true
}

// joinPhase starts every member at a random moment, in a random order.
func (r *rtRun) joinPhase() {
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
	var incs []*rtInc
	for _, s := range starts {
		if d := s.at - r.now(); d > 0 {
			harness.Sleep(d)
		}
		inc := r.prepare(s.i, false)
		if err := r.nodes[s.i].Start(); err != nil {
			r.violate(checkers.Invariant, "starting node %s: %v", r.names[s.i], err)
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
func (r *rtRun) leavePhase() {
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
func (r *rtRun) crashPhase() {
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
		r.violate(checkers.Invariant, "%s: %v", f, err)
		return
	}
	r.mu.Lock()
	c.gone = true
	r.cur[c.node] = nil
	r.mu.Unlock()
	r.settle(fmt.Sprintf("after the coordinator %s crashed", c.name))

	harness.Note("phase: %s restarts", c.name)
	inc := r.prepare(c.node, false)
	if err := faults.Apply(faults.Restart(c.name)); err != nil {
		r.violate(checkers.Invariant, "restart %s: %v", c.name, err)
		return
	}
	r.awaitStart(inc)
	r.settle(fmt.Sprintf("after %s restarted", c.name))
}

// prepare makes the incarnation the next main (or Go) of node i runs;
// aborted marks one the workload will shut down during its Start.
func (r *rtRun) prepare(i int, aborted bool) *rtInc {
	inc := &rtInc{node: i, name: r.names[i], done: harness.NewChan[struct{}](0), aborted: aborted}
	r.mu.Lock()
	r.next[i] = inc
	r.incs = append(r.incs, inc)
	r.mu.Unlock()
	return inc
}

// incarnate runs on node i: it makes the prepared instance and starts it.
func (r *rtRun) incarnate(i int, nd *harness.Node) {
	r.mu.Lock()
	inc := r.next[i]
	r.next[i] = nil
	r.mu.Unlock()
	if inc == nil {
		return
	}
	in := routingtable.New(nd.Context(), routingtable.Config{
		Variant:          r.variant,
		Name:             inc.name,
		Host:             nd,
		Port:             rtPort,
		Peers:            r.peers,
		PushPeriod:       r.cfg.PushPeriod,
		BootstrapTimeout: rtBootstrapTimeout,
		Observer:         r,
	})
	r.mu.Lock()
	inc.in = in
	if !inc.aborted {
		r.cur[i] = inc
	}
	r.mu.Unlock()
	inc.startAt = r.now()
	err := in.Start()
	inc.endAt, inc.err = r.now(), err
	inc.done.Close()
}

// waitInstance waits until inc's instance exists.
func (r *rtRun) waitInstance(inc *rtInc) {
	for {
		r.mu.Lock()
		made := inc.in != nil
		r.mu.Unlock()
		if made {
			return
		}
		harness.Sleep(100 * time.Microsecond)
	}
}

// awaitStart waits for inc's Start to return and judges it.
func (r *rtRun) awaitStart(inc *rtInc) {
	if harness.Select(inc.done.RecvCase(nil, nil), harness.After(rtStartBound).RecvCase(nil, nil)) == 1 {
		r.violate(checkers.Timeliness, "%s: Start had not returned %v after it was called", inc.name, rtStartBound)
		return
	}
	if inc.aborted || inc.err == nil {
		return
	}
	if errors.Is(inc.err, routingtable.ErrOperationTimeout) {
		return // a late bootstrap: the Timeliness check reports it
	}
	r.violate(checkers.Invariant, "%s: Start failed: %v", inc.name, inc.err)
}

// shutdown shuts inc down and checks that it returned in time.
func (r *rtRun) shutdown(inc *rtInc) {
	r.mu.Lock()
	inc.gone = true
	if r.cur[inc.node] == inc {
		r.cur[inc.node] = nil
	}
	r.mu.Unlock()
	ctx, cancel := harness.WithTimeout(context.Background(), rtShutdownBound)
	defer cancel()
	if err := inc.in.Shutdown(ctx); err != nil {
		r.violate(checkers.Timeliness, "%s: Shutdown did not finish within %v: %v", inc.name, rtShutdownBound, err)
	}
}

// shutdownAll shuts every live member down, in a random order.
func (r *rtRun) shutdownAll() {
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
func (r *rtRun) live() []*rtInc {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*rtInc
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
func (r *rtRun) settle(when string) {
	var live []*rtInc
	for _, inc := range r.live() {
		if inc.err == nil {
			live = append(live, inc)
		}
	}
	if len(live) == 0 {
		return
	}
	bound := r.cfg.PushPeriod*2 + 10*time.Second
	deadline := r.now() + bound
	var why string
	var views []routingtable.View
	for {
		views, why = r.agree(live)
		if why == "" || r.now() >= deadline {
			break
		}
		harness.Sleep(rtPoll)
	}
	if why != "" {
		r.violate(checkers.Invariant, "%s, the cluster did not settle within %v: %s", when, bound, why)
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
			r.violate(checkers.Invariant, "%s: %s has ownedPartitionCount %d, but it is the primary owner of %d of the %d partitions of its table (signature %x)",
				when, inc.name, v.OwnedPartitionCount, owned, len(v.Table.Owners), v.Signature)
		}
	}
}

// agree returns the live members' views and "" if they agree, or what
// they disagree on.
func (r *rtRun) agree(live []*rtInc) ([]routingtable.View, string) {
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
	views := make([]routingtable.View, len(live))
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
func (r *rtRun) PushBegin(c routingtable.Member, v routingtable.Version, t *routingtable.Table) {
	p := &rtPush{coordinator: c, version: v, owners: map[int]string{}}
	num := r.versionNumber(v)
	for _, part := range r.tracked {
		owner := t.Owner(part).Name
		p.owners[part] = owner
		for _, name := range r.names {
			p.writes = append(p.writes, r.h.Call(r.clientID(), rtRegister.Write(rtKey(part, name), num, owner)))
		}
	}
	r.mu.Lock()
	r.pushes = append(r.pushes, p)
	r.mu.Unlock()
}

// PushEnd completes the writes of a push: done, or of unknown outcome if
// some member did not apply it.
func (r *rtRun) PushEnd(c routingtable.Member, v routingtable.Version, err error) {
	r.mu.Lock()
	var p *rtPush
	for _, x := range r.pushes {
		if x.coordinator.ID == c.ID && x.version == v {
			p = x
		}
	}
	r.mu.Unlock()
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
		r.mu.Lock()
		r.pushes = slices.DeleteFunc(r.pushes, func(x *rtPush) bool { return x == p })
		r.mu.Unlock()
	}
}

func rtKey(part int, member string) string { return fmt.Sprintf("p%d@%s", part, member) }

// startClient looks owners up, from a client node, until stop is done.
func (r *rtRun) startClient(stop context.Context) *harness.Chan[struct{}] {
	done := harness.NewChan[struct{}](1)
	nd := harness.NewNode("client", nil)
	if err := nd.Start(); err != nil {
		r.violate(checkers.Invariant, "client node: %v", err)
		done.Send(struct{}{})
		return done
	}
	cid := r.clientID()
	nd.Go(func() {
		defer done.Send(struct{}{})
		cl := routingtable.NewClient(nd)
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
			p := r.h.Call(cid, rtRegister.Read(rtKey(part, r.names[i])))
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
				if seen[rtKey(part, r.names[i])] {
					num = 0
				}
				seen[rtKey(part, r.names[i])] = true
			case "wrong-owner":
				owner += "x"
			}
			p.Return(rtRegister.Returned(num, owner))
			r.mu.Lock()
			r.lookups = append(r.lookups, rtLookup{part: part, member: res.Member, version: res.Version, owner: owner})
			r.mu.Unlock()
		}
	})
	return done
}

// check runs the checks over the finished run: bootstrap times, the
// register of lookups, and every lookup's owner against the table of its
// version.
func (r *rtRun) check() []harness.Violation {
	var vs []harness.Violation
	bound := rtBootstrapTimeout
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
	vs = append(vs, rtRegister.Check(r.h.Operations(), checkers.LinOptions{Name: "routingtable-lookups", NoVisualization: true})...)
	var bad []string
	for _, l := range r.lookups {
		var p *rtPush
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
		vs = append(vs, checkers.NotLinearizable.Violationf("owner lookups that no pushed table explains:\n  %s", strings.Join(bad, "\n  ")))
	}
	return vs
}
