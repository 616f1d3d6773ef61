package metaclient

import (
	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/metaclient"
)

// ledger is the run's bookkeeping that the World's goroutines share: the
// administrator's truth about the cluster, the calls' records, the
// managers, the plan's errors and the overlap record.
//
// Its methods are //go:norace and, in deterministic mode, take no lock:
// one goroutine runs at a time there, and a lock would order every
// goroutine that keeps the books after every other (a happens-before edge
// for the race detector at each record), hiding the system's own races
// between them: an unlocked read of a manager's lists by one call and the
// write of another, both of which touch the books. In real mode, where the
// goroutines do run at once, they take mu. They read and write plain
// fields and slices only, in loops of their own: a map, or a library
// function, would be instrumented again.
type ledger struct {
	real bool
	mu   harness.Mutex // real mode only

	// The administrator's truth.
	leader int      // the meta that leads, -1 for none
	down   []string // by meta: "" up, else how it crashed (blackhole, reset)
	epoch  int      // bumped at the start and end of every change
	stable bool     // no change under way: every live meta knows the leader

	calls    int
	managers []*manager
	// steps counts the plan's steps carried out (or tried); stepErrs
	// lists those that could not be.
	steps    int
	stepErrs []string

	// aim and aimed: a wait-call step waiting for a moment of a call;
	// aimHits and aimMisses count the steps whose moment came, or not.
	aim       string
	aimed     *harness.Chan[struct{}]
	aimHits   int
	aimMisses int
	// leaked: the "leak-conn" fault has kept its connection open.
	leaked bool

	// The overlap record (Config.track): the operations under way, and
	// the pairs seen together.
	track  bool
	active []activeOp
	nextOp int
	pairs  []string
}

// activeOp is an operation under way on an object.
type activeOp struct {
	id      int
	obj, op string
}

// call is one QueryConfig of the run; the ledger keeps its mutable part.
type call struct {
	id, client int
	rep        sys.CallReport
	reported   bool
	// open lists the connections the call's goroutines dialled and have
	// not closed; dialing counts dials under way.
	open    []*countedConn
	dialing int
}

// clusterView is a copy of the administrator's truth.
type clusterView struct {
	leader int
	down   []string
	epoch  int
	stable bool
}

func newLedger(metas int, real, track bool) *ledger {
	return &ledger{real: real, track: track, leader: -1, down: make([]string, metas)}
}

func (l *ledger) lock() {
	if l.real {
		l.mu.Lock()
	}
}

func (l *ledger) unlock() {
	if l.real {
		l.mu.Unlock()
	}
}

// view returns a copy of the cluster's state.
//
//go:norace
func (l *ledger) view() clusterView {
	l.lock()
	defer l.unlock()
	v := clusterView{leader: l.leader, down: make([]string, len(l.down)), epoch: l.epoch, stable: l.stable}
	//lint:ignore S1001 copy is instrumented by the race detector; the ledger's accesses must not be
	for i := range l.down {
		v.down[i] = l.down[i]
	}
	return v
}

// setLeader records who leads (-1: nobody).
//
//go:norace
func (l *ledger) setLeader(i int) {
	l.lock()
	l.leader = i
	l.unlock()
}

// setDown records that meta i crashed in mode, or ("") is up.
//
//go:norace
func (l *ledger) setDown(i int, mode string) {
	l.lock()
	l.down[i] = mode
	l.unlock()
}

// unsettle marks the start of a change.
//
//go:norace
func (l *ledger) unsettle() {
	l.lock()
	l.epoch++
	l.stable = false
	l.unlock()
}

// settle marks the end of a change: stable if some meta leads.
//
//go:norace
func (l *ledger) settle() {
	l.lock()
	l.epoch++
	l.stable = l.leader >= 0
	l.unlock()
}

// newCall returns the record of a new call by goroutine client.
//
//go:norace
func (l *ledger) newCall(client int) *call {
	l.lock()
	defer l.unlock()
	l.calls++
	return &call{id: l.calls, client: client}
}

// dialStart records that call c (nil: none) dials meta i, and returns the
// channel of a wait-call step whose moment this is (nil if none).
//
//go:norace
func (l *ledger) dialStart(c *call, i int) *harness.Chan[struct{}] {
	l.lock()
	defer l.unlock()
	inFlight := 1
	if c != nil {
		c.dialing++
		inFlight = c.dialing + len(c.open)
	}
	ch := l.aimed
	if ch == nil || !((l.aim == aimLeader && i == l.leader) || (l.aim == aimBackup && inFlight >= 2)) {
		return nil
	}
	l.aim, l.aimed = "", nil
	l.aimHits++
	return ch
}

// dialEnd records the end of a dial of call c: cc is the connection, or
// nil if the dial failed.
//
//go:norace
func (l *ledger) dialEnd(c *call, cc *countedConn) {
	l.lock()
	defer l.unlock()
	if c == nil {
		return
	}
	c.dialing--
	if cc != nil {
		c.open = append(c.open, cc)
	}
}

// closing records that cc is closed, and reports whether this is its first
// close and whether the "leak-conn" fault keeps it open instead.
//
//go:norace
func (l *ledger) closing(cc *countedConn, leakOne bool) (first, leak bool) {
	l.lock()
	defer l.unlock()
	if leakOne && !l.leaked {
		l.leaked = true
		return false, true
	}
	if cc.closed {
		return false, false
	}
	cc.closed = true
	if c := cc.c; c != nil {
		keep := c.open[:0:0]
		for _, o := range c.open {
			if o != cc {
				keep = append(keep, o)
			}
		}
		c.open = keep
	}
	return true, false
}

// report records what call c reported.
//
//go:norace
func (l *ledger) report(c *call, rep sys.CallReport) {
	l.lock()
	c.rep, c.reported = rep, true
	l.unlock()
}

// outcome returns call c's report and the addresses of its connections
// still open.
//
//go:norace
func (l *ledger) outcome(c *call) (rep sys.CallReport, reported bool, open []string) {
	l.lock()
	defer l.unlock()
	for _, cc := range c.open {
		open = append(open, cc.addr)
	}
	return c.rep, c.reported, open
}

// addManager records a new manager and returns its id.
//
//go:norace
func (l *ledger) addManager(mi *manager) int {
	l.lock()
	defer l.unlock()
	l.managers = append(l.managers, mi)
	return len(l.managers) - 1
}

// manager returns manager i.
//
//go:norace
func (l *ledger) manager(i int) *manager {
	l.lock()
	defer l.unlock()
	return l.managers[i]
}

// allManagers returns every manager made so far.
//
//go:norace
func (l *ledger) allManagers() []*manager {
	l.lock()
	defer l.unlock()
	out := make([]*manager, len(l.managers))
	//lint:ignore S1001 copy is instrumented by the race detector; the ledger's accesses must not be
	for i := range l.managers {
		out[i] = l.managers[i]
	}
	return out
}

// stepRun records that a step of the plan strikes.
//
//go:norace
func (l *ledger) stepRun() {
	l.lock()
	l.steps++
	l.unlock()
}

// stepErr records a step of the plan that could not be carried out.
//
//go:norace
func (l *ledger) stepErr(s string) {
	l.lock()
	l.stepErrs = append(l.stepErrs, s)
	l.unlock()
}

// setAim arms (ch not nil) or disarms a wait-call step.
//
//go:norace
func (l *ledger) setAim(aim string, ch *harness.Chan[struct{}]) {
	l.lock()
	l.aim, l.aimed = aim, ch
	l.unlock()
}

// aimMissed records a wait-call step whose moment did not come.
//
//go:norace
func (l *ledger) aimMissed() {
	l.lock()
	l.aimMisses++
	l.unlock()
}

// begin records, with track, that op started on object obj, and returns
// its id for end.
//
//go:norace
func (l *ledger) begin(obj, op string) int {
	if !l.track {
		return 0
	}
	l.lock()
	defer l.unlock()
	kind := obj
	for len(kind) > 0 && kind[len(kind)-1] >= '0' && kind[len(kind)-1] <= '9' {
		kind = kind[:len(kind)-1]
	}
	for _, a := range l.active {
		if a.obj == obj {
			l.pairs = append(l.pairs, pairName(kind, op, a.op))
		}
	}
	l.nextOp++
	l.active = append(l.active, activeOp{id: l.nextOp, obj: obj, op: op})
	return l.nextOp
}

// end records the end of the operation begin returned id for.
//
//go:norace
func (l *ledger) end(id int) {
	if !l.track {
		return
	}
	l.lock()
	defer l.unlock()
	keep := l.active[:0:0]
	for _, a := range l.active {
		if a.id != id {
			keep = append(keep, a)
		}
	}
	l.active = keep
}

// pairName names a pair of operations met on a kind of object ("manager",
// "meta"), in a fixed order.
func pairName(kind, a, b string) string {
	if a > b {
		a, b = b, a
	}
	return kind + ": " + a + " || " + b
}
