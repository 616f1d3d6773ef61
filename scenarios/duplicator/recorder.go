package duplicator

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/harness"
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

// stamped is a mutation and when (since the run started) something
// happened to it; seq orders the recorder's events, which virtual time
// alone does not (many happen at one instant).
type stamped struct {
	m   sys.Mutation
	at  time.Duration
	seq int
}

// owner is one incarnation of one of the system's nodes.
type owner struct {
	role sys.Role
	inc  int
}

// recorder keeps every event the checks need. Its methods are the
// system's observer and the workload's bookkeeping; they take its own lock
// only. The checks that can be made as events come are made there (and
// recorded in bad); the rest wait for Check.
//
// Its lock is a plain sync.Mutex, and no critical section of it reaches a
// scheduling point of the World (no harness primitive is called under it):
// a critical section therefore runs whole, between two scheduling points of
// its caller, and is never contended in a deterministic World. That matters
// because the system calls the observer from goroutines a crash stops where
// they stand, some of them under the lock of state that outlives the crash
// (RemoteStore.apply reports RemoteApplied under the store's lock): a
// scheduling point in the observer would be a place where a crash leaves
// that lock (or this one) held for ever. The signals the observer sends
// (await steps, auditors waiting for a call) go out after the lock is
// released (poke).
type recorder struct {
	t0        time.Time
	mu        sync.Mutex
	seq       int
	committed []map[int64]stamped // per partition, by decree
	remote    [][]stamped         // per partition, in order applied
	delivered []map[int64]int     // per partition: decree -> seq of its delivery
	shipped   map[[2]int][]int64  // per (partition, incarnation): decrees in ship order
	lasts     map[[2]int][]int64  // per (partition, incarnation): last_decree over time
	// logged is, per (partition, primary incarnation), every mutation
	// appended to the private log, with when it was reported.
	logged    map[[2]int][]stamped
	confirmed [][]int64 // per partition: confirmed_decree over time
	// progressChecked is, per partition, the last_decree up to which every
	// committed write was found delivered.
	progressChecked []int64
	// Per partition: the largest decree logged, last_committed_decree
	// logged, confirmed decree reported and decree delivered so far (the
	// floors of what the auditors may read).
	loggedMax, lcMax, confirmedMax, deliveredMax []int64
	resources                                    map[owner]map[sys.Resource]int
	// orphans counts, per role, the connections its peers ended while the
	// link to it was cut: the simulated network loses a close or a reset
	// sent across a cut link for good (TCP would send the FIN again once
	// the link healed), so the node may serve them for ever.
	orphans map[sys.Role]int
	acked   []ackedWrite
	audits  []auditRead
	bad     []checkers.Violation
	// aim, when armed is not 0, is the moment an await step of the plan
	// waits for; hits hears of it (once), as armed. arms counts the
	// armings. hits is made with the recorder, before any goroutine that
	// pokes it starts.
	aim         aimAt
	armed, arms int
	hits        *harness.Chan[int]
	// waiting are the auditors waiting for a client's call, by call
	// ("Dial", "Write", "Close"): each hears of the next one (once).
	waiting map[string][]*harness.Chan[int]
	// spans, when not nil, records every call for the overlap test.
	spans *[]span
}

// ackedWrite is a write a client saw succeed.
type ackedWrite struct {
	client     string
	key, value string
	p          int
	decree     int64
}

func newRecorder(partitions int) *recorder {
	r := &recorder{t0: harness.Now(), committed: make([]map[int64]stamped, partitions),
		remote: make([][]stamped, partitions), delivered: make([]map[int64]int, partitions),
		shipped: map[[2]int][]int64{}, lasts: map[[2]int][]int64{}, logged: map[[2]int][]stamped{}, confirmed: make([][]int64, partitions),
		progressChecked: make([]int64, partitions), resources: map[owner]map[sys.Resource]int{}, orphans: map[sys.Role]int{},
		waiting: map[string][]*harness.Chan[int]{}, hits: harness.NewChan[int](4),
		loggedMax: make([]int64, partitions), lcMax: make([]int64, partitions),
		confirmedMax: make([]int64, partitions), deliveredMax: make([]int64, partitions)}
	for p := range r.committed {
		r.committed[p] = map[int64]stamped{}
		r.delivered[p] = map[int64]int{}
	}
	return r
}

func (r *recorder) now() time.Duration { return harness.Since(r.t0) }

// next returns the next event number. Under r.mu.
func (r *recorder) next() int {
	r.seq++
	return r.seq
}

func (r *recorder) violate(k harness.Kind, format string, args ...any) {
	r.bad = append(r.bad, checkers.Violationf(k, format, args...))
}

// observer returns the Observer the system reports to. Each report is
// recorded through harness.Observe, so that the recorder's lock orders
// nothing between the system's goroutines (two accesses of theirs with
// reports between them still race); the await step a report reached is
// poked after, on the reporting goroutine (a send is a scheduling point).
func (r *recorder) observer() *sys.Observer {
	observed := func(f func() int) { r.poke(harness.ObserveValue(f)) }
	return &sys.Observer{
		Logged: func(p, inc int, m sys.Mutation) {
			at := r.now() // on the reporting goroutine, as the write is logged
			observed(func() int { return r.logged1(p, inc, m, at) })
		},
		Committed: func(p int, m sys.Mutation) {
			observed(func() int { return r.committed1(p, m) })
		},
		Shipped: func(p, inc int, muts []sys.Mutation, last, applied int64) {
			muts = slices.Clone(muts) // the batch's slice: the pipeline may reuse it
			observed(func() int { return r.shipped1(p, inc, muts, last, applied) })
		},
		Progressed: func(p, inc int, pr sys.Progress) {
			observed(func() int { return r.progressed(p, inc, pr) })
		},
		RemoteApplied: func(p int, m sys.Mutation) {
			harness.Observe(func() { r.remoteApplied(p, m) })
		},
		Resource: func(role sys.Role, inc int, res sys.Resource, delta int) {
			harness.Observe(func() { r.resource(role, inc, res, delta) })
		},
	}
}

// logged1 records a mutation incarnation inc of the primary appended to
// partition p's private log at at, and returns the await step to poke.
func (r *recorder) logged1(p, inc int, m sys.Mutation, at time.Duration) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]int{p, inc}
	r.logged[k] = append(r.logged[k], stamped{m, at, r.next()})
	r.loggedMax[p] = max(r.loggedMax[p], m.Decree)
	r.lcMax[p] = max(r.lcMax[p], m.LastCommitted)
	moment := momentLogged
	if m.Empty {
		moment = momentEmpty
	}
	return r.reached(moment, "")
}

// resource records that incarnation inc of role opened (delta +1) or
// released (-1) a resource.
func (r *recorder) resource(role sys.Role, inc int, res sys.Resource, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := owner{role, inc}
	if r.resources[o] == nil {
		r.resources[o] = map[sys.Resource]int{}
	}
	r.resources[o][res] += delta
	if role == sys.RolePrimary && res == sys.ResShipConn && delta < 0 && cutOff("primary", "remote") {
		r.orphans[sys.RoleRemote]++
	}
	if r.resources[o][res] < 0 {
		r.violate(harness.Leak, "%s incarnation %d released more %ss than it opened", role, inc, res)
	}
}

// committed1 records a commit, and returns the await step to poke.
func (r *recorder) committed1(p int, m sys.Mutation) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.committed[p][m.Decree]; ok {
		if old.m != m {
			r.violate(checkers.Invariant,
				"the committed history of partition %d must never change: decree %d was %v, a restarted primary committed %v",
				p, m.Decree, old.m, m)
		}
		return 0
	}
	r.committed[p][m.Decree] = stamped{m, r.now(), r.next()}
	if m.Empty {
		return 0
	}
	return r.reached(momentApplied, "")
}

// shipped1 records a first ship, and returns the await step to poke.
func (r *recorder) shipped1(p, inc int, muts []sys.Mutation, last, applied int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]int{p, inc}
	for _, m := range muts {
		if m.Decree > applied || m.Decree > last {
			r.violate(checkers.Invariant,
				"every shipped decree must be <= last_applied_decree at ship time: partition %d shipped %v at %v while the replica had applied up to %d (batch up to %d)",
				p, m, r.now(), applied, last)
		}
		if c, ok := r.committed[p][m.Decree]; !ok || c.m != m {
			r.violate(checkers.Invariant,
				"a shipped write must be the one the primary committed: partition %d shipped %v at %v, committed there: %v",
				p, m, r.now(), c.m)
		}
		r.shipped[k] = append(r.shipped[k], m.Decree)
	}
	return r.reached(momentShipping, "")
}

// progressed records a change of progress, and checks at once that
// progress never claims a write the remote cluster does not have: every
// committed write up to last_decree must have been delivered.
func (r *recorder) progressed(p, inc int, pr sys.Progress) (hit int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]int{p, inc}
	r.lasts[k] = append(r.lasts[k], pr.LastDecree)
	if n := len(r.confirmed[p]); n == 0 || r.confirmed[p][n-1] != pr.ConfirmedDecree {
		r.confirmed[p] = append(r.confirmed[p], pr.ConfirmedDecree)
		r.confirmedMax[p] = max(r.confirmedMax[p], pr.ConfirmedDecree)
		hit = r.reached(momentConfirmed, "")
	}
	if pr.ConfirmedDecree > pr.LastDecree {
		r.violate(checkers.Invariant,
			"duplication progress of partition %d: confirmed_decree %d must not pass last_decree %d",
			p, pr.ConfirmedDecree, pr.LastDecree)
	}
	for d := r.progressChecked[p] + 1; d <= pr.LastDecree; d++ {
		c, ok := r.committed[p][d]
		if !ok {
			r.violate(checkers.Invariant,
				"duplication progress of partition %d (incarnation %d) reached last_decree %d at %v, but decree %d was never committed",
				p, inc, pr.LastDecree, r.now(), d)
			break
		}
		if _, ok := r.delivered[p][d]; !ok && !c.m.Empty {
			r.violate(checkers.Invariant,
				"duplication progress of partition %d (incarnation %d) reached last_decree %d at %v, but the remote cluster never got %v: progress must only count acknowledged ships",
				p, inc, pr.LastDecree, r.now(), c.m)
			break
		}
	}
	r.progressChecked[p] = max(r.progressChecked[p], pr.LastDecree)
	return hit
}

func (r *recorder) remoteApplied(p int, m sys.Mutation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.next()
	r.remote[p] = append(r.remote[p], stamped{m, r.now(), seq})
	if _, ok := r.delivered[p][m.Decree]; !ok {
		r.delivered[p][m.Decree] = seq
	}
	r.deliveredMax[p] = max(r.deliveredMax[p], m.Decree)
}

// ack records a write a client saw succeed.
func (r *recorder) ack(w ackedWrite) {
	r.mu.Lock()
	r.acked = append(r.acked, w)
	r.mu.Unlock()
}

// allDelivered reports whether every committed write reached the remote.
func (r *recorder) allDelivered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, ms := range r.committed {
		for d, s := range ms {
			if _, ok := r.delivered[p][d]; !s.m.Empty && !ok {
				return false
			}
		}
	}
	return true
}

// history returns partition p's committed mutations in decree order, the
// empty writes too if empties. Under r.mu.
func (r *recorder) history(p int, empties bool) []stamped {
	var out []stamped
	for _, s := range r.committed[p] {
		if empties || !s.m.Empty {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b stamped) int { return int(a.m.Decree - b.m.Decree) })
	return out
}

// holding returns what incarnation inc of role holds now, by resource.
func (r *recorder) holding(role sys.Role, inc int) map[sys.Resource]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[sys.Resource]int{}
	for k, v := range r.resources[owner{role, inc}] {
		out[k] = v
	}
	return out
}

// span is one call the workload made (or one step of the system's own
// work), for the overlap test: op on object, from event start to end.
type span struct {
	op, object string
	start, end int
	goroutine  string
}

// begin starts a span, if spans are recorded; end closes it.
func (r *recorder) begin(op, object, who string) int {
	if r.spans == nil {
		return -1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.spans = append(*r.spans, span{op: op, object: object, start: r.next(), end: -1, goroutine: who})
	return len(*r.spans) - 1
}

func (r *recorder) end(i int) {
	if i < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	(*r.spans)[i].end = r.next()
}

// partitionObject names partition p as an object of the overlap test.
func partitionObject(p int) string { return fmt.Sprintf("p%d", p) }

// cutOff reports whether a close or a reset sent on the link from -> to
// now is lost: the simulated network drops them while the link is cut (and
// never sends them again), whatever its drop rate.
func cutOff(from, to string) bool {
	l, err := harness.LinkOf(from, to)
	return err == nil && l.Down
}

// orphaned counts n connections to role ended across a cut link.
func (r *recorder) orphaned(role sys.Role, n int) {
	r.mu.Lock()
	r.orphans[role] += n
	r.mu.Unlock()
}

// calling tells the plan (an await of a call) and the auditors waiting for
// a call of this kind that client who is about to make one, on partition p
// (-1: the primary as a whole).
func (r *recorder) calling(call, who string, p int) {
	r.mu.Lock()
	hit := 0
	if call == "Write" {
		hit = r.reached(momentCall, who)
	}
	waiting := r.waiting[call]
	r.waiting[call] = nil
	r.mu.Unlock()
	r.poke(hit)
	for _, c := range waiting {
		c.Send(p) // buffered, and each hears of one call: never blocks
	}
}

// waitCall returns a channel that hears of the next call of this kind, and
// of its partition.
func (r *recorder) waitCall(call string) *harness.Chan[int] {
	c := harness.NewChan[int](1)
	r.mu.Lock()
	r.waiting[call] = append(r.waiting[call], c)
	r.mu.Unlock()
	return c
}
