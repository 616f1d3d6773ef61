package routingtable

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/scenarios"
)

// The routingtable case's fault plan is a faults.Plan of built-in faults on
// the members' nodes (m1, m2, ...) and of the case's own actions:
//
//	+12.3ms crash m2; +1.1s restart m2; +1.4s leave m1; +1.6s rejoin m1;
//	+1.7s leave m1 3; +1.9s rejoin m1; +2s push-crash m3 blackhole
//
// "crash mN", "blackhole mN", "restart mN": the node crashes (peers see
// resets, or nothing at all) or restarts; a restarted node starts a new
// member, with fresh memory and a new birth date, which joins the cluster.
// "leave mN": mN's member shuts down (it leaves the cluster gracefully),
// wherever its Start is: a leave aimed at a join aborts it. "leave mN K":
// the same, once the member has received K more answers (at most
// leaveCallsWait later): right after an answer, a few steps into what it
// lets the member do (set `this` and start its goroutines once its join's
// answers came, push periodically once its first push returned), which
// no instant of virtual time tells apart. "rejoin mN": a
// new member starts on mN's node, which its previous member left (a new
// instance in the same process, as after a leave). "push-crash mN MODE":
// mN's node crashes (MODE reset or blackhole) during the next push of the
// routing table that mN makes as coordinator or receives, at most
// pushCrashWait after the step; if none comes, nothing happens.
//
// The members' joins are not faults: the workload starts every member at
// the moment its shape says. Faults aims at them: a fault episode strikes a
// member while it joins, the coordinator (the oldest live member), or any
// live member; push-crash aims at the pushes that joins and other faults
// set off.
const (
	actLeave     = "leave"
	actRejoin    = "rejoin"
	actPushCrash = "push-crash"
	actPushLeave = "push-leave"

	// pushCrashWait bounds how long a push-crash waits for its push.
	pushCrashWait = time.Second
)

// Faults returns the fault plan of a seed (see planFor).
func Faults(cfg Config) func(seed int64) faults.Plan {
	return func(seed int64) faults.Plan { return planFor(seed, cfg) }
}

// planFor draws seed's fault plan: 0 to 3 episodes (a crash and maybe a
// restart, a leave and maybe a rejoin, itself maybe aborted, a crash during
// a push and maybe a restart, a black hole while another member leaves and
// rejoins), each aimed at a join, at the coordinator or at any live
// member. A model of who is up when (planModel) keeps the plan
// well-formed: an episode takes out a member that is up and has no later
// step of its own, and never the last member up once all have started.
func planFor(seed int64, cfg Config) faults.Plan {
	sh := shapeOf(seed, cfg)
	rng := rand.New(rand.NewPCG(uint64(seed), planSalt))
	m := &planModel{sh: sh}
	var p faults.Plan
	var cursor time.Duration
	for range scenarios.Weighted(rng, []int{0, 1, 2, 3}, []int{2, 4, 3, 2}) {
		kind := scenarios.Weighted(rng, []string{"crash", "leave", "push-crash", "hole-rejoin", "abort-start", "push-leave"}, []int{4, 4, 3, 1, 2, 2})
		at, target := m.aim(rng, scenarios.Weighted(rng, []string{"join", "coordinator", "any"}, []int{2, 2, 1}), cursor)
		if target < 0 || !m.canTakeOut(target, at) {
			continue
		}
		p = append(p, m.episode(rng, kind, target, at)...)
		cursor = at
	}
	slices.SortStableFunc(p, func(a, b faults.Step) int { return int(a.At - b.At) })
	return p
}

// planModel follows which members are up when, and since when, from the
// shape's joins and the plan's steps drawn so far.
type planModel struct {
	sh     shape
	events []modelEvent
}

// modelEvent: member goes down (crash, leave) or up (restart, rejoin) at at.
type modelEvent struct {
	at     time.Duration
	member int
	up     bool
}

// state returns whether member i is up at t and its birth date then.
func (m *planModel) state(i int, t time.Duration) (up bool, birth time.Duration) {
	up, birth = t >= m.sh.startAt[i], m.sh.startAt[i]
	evs := slices.Clone(m.events)
	slices.SortStableFunc(evs, func(a, b modelEvent) int { return int(a.at - b.at) })
	for _, e := range evs {
		if e.member == i && e.at <= t {
			up = e.up
			if e.up {
				birth = e.at
			}
		}
	}
	return up, birth
}

// upAt returns the members up at t.
func (m *planModel) upAt(t time.Duration) []int {
	var out []int
	for i := range m.sh.members {
		if up, _ := m.state(i, t); up {
			out = append(out, i)
		}
	}
	return out
}

// coordinatorAt returns the oldest member up at t, or -1.
func (m *planModel) coordinatorAt(t time.Duration) int {
	c, oldest := -1, time.Duration(0)
	for _, i := range m.upAt(t) {
		if _, b := m.state(i, t); c < 0 || b < oldest {
			c, oldest = i, b
		}
	}
	return c
}

// aim picks when an episode strikes (not before cursor) and whom: a member
// while it joins, the coordinator, or any member up then; -1 if none.
func (m *planModel) aim(rng *rand.Rand, how string, cursor time.Duration) (time.Duration, int) {
	at := cursor + between(rng, 0, 1500*time.Millisecond)
	switch how {
	case "join":
		var joining []int
		for i, s := range m.sh.startAt {
			if s >= cursor {
				joining = append(joining, i)
			}
		}
		if len(joining) == 0 {
			return at, -1
		}
		i := joining[rng.IntN(len(joining))]
		if rng.IntN(2) == 0 { // the very moment it starts: Start against the fault's first step
			return m.sh.startAt[i], i
		}
		return m.sh.startAt[i] + between(rng, 0, 20*time.Millisecond), i
	case "coordinator":
		return at, m.coordinatorAt(at)
	}
	up := m.upAt(at)
	if len(up) == 0 {
		return at, -1
	}
	return at, up[rng.IntN(len(up))]
}

// canTakeOut reports whether member i may go down at t: it is up, it has
// no step of its own after t, and, once every member has started, another
// member stays up.
func (m *planModel) canTakeOut(i int, t time.Duration) bool {
	if up, _ := m.state(i, t); !up {
		return false
	}
	for _, e := range m.events {
		if e.member == i && e.at > t {
			return false
		}
	}
	return t < m.sh.cfg.lastJoin || len(m.upAt(t)) >= 2
}

// episode returns the steps of one fault episode on member i at at, and
// records them in the model.
func (m *planModel) episode(rng *rand.Rand, kind string, i int, at time.Duration) faults.Plan {
	name := memberName(i)
	down := func(t time.Duration) { m.events = append(m.events, modelEvent{at: t, member: i}) }
	up := func(t time.Duration) { m.events = append(m.events, modelEvent{at: t, member: i, up: true}) }
	mode := scenarios.Weighted(rng, []string{"reset", "blackhole"}, []int{1, 1})
	var p faults.Plan
	switch kind {
	case "crash":
		f := faults.Crash(name)
		if mode == "blackhole" {
			f = faults.BlackHole(name)
		}
		p = append(p, faults.Step{At: at, Fault: f})
		down(at)
		if rng.IntN(4) != 0 {
			r := at + between(rng, 100*time.Millisecond, 3*time.Second)
			p = append(p, faults.Step{At: r, Fault: faults.Restart(name)})
			up(r)
		}
	case "leave":
		p = append(p, faults.Step{At: at, Fault: faults.Act(actLeave, m.leaveArg(rng, i, at))})
		down(at)
		if rng.IntN(5) == 0 {
			break
		}
		r := at + between(rng, 10*time.Millisecond, 1500*time.Millisecond)
		p = append(p, faults.Step{At: r, Fault: faults.Act(actRejoin, name)})
		up(r)
		if rng.IntN(2) == 0 { // the rejoin is aborted, then made again
			l := r // at the very moment the rejoin starts, or a little later
			if rng.IntN(2) == 0 {
				l += between(rng, 0, 20*time.Millisecond)
			}
			r2 := l + between(rng, 10*time.Millisecond, time.Second)
			p = append(p, faults.Step{At: l, Fault: faults.Act(actLeave, m.leaveArg(rng, i, l))}, faults.Step{At: r2, Fault: faults.Act(actRejoin, name)})
			down(l)
			up(r2)
		}
	case "hole-rejoin":
		// i vanishes for a while, and meanwhile another member leaves and
		// rejoins: its join waits RequestTimeout for i, while the
		// coordinator's pushes to it queue behind its joined barrier.
		l := at + between(rng, 0, 500*time.Millisecond)
		var others []int
		for _, j := range m.upAt(l) {
			if j != i && m.canTakeOut(j, l) {
				others = append(others, j)
			}
		}
		p = append(p, faults.Step{At: at, Fault: faults.BlackHole(name)})
		down(at)
		if len(others) > 0 {
			j := others[rng.IntN(len(others))]
			r := l + between(rng, 10*time.Millisecond, 100*time.Millisecond)
			p = append(p, faults.Step{At: l, Fault: faults.Act(actLeave, memberName(j))}, faults.Step{At: r, Fault: faults.Act(actRejoin, memberName(j))})
			m.events = append(m.events, modelEvent{at: l, member: j}, modelEvent{at: r, member: j, up: true})
		}
		back := at + between(rng, 3500*time.Millisecond, 6*time.Second)
		p = append(p, faults.Step{At: back, Fault: faults.Restart(name)})
		up(back)
	case "abort-start":
		// i leaves, and a new member is made on its node and shut down
		// at the same instant: Shutdown races its Start's first steps
		// (see leaveAction); most often a third member starts a while
		// later.
		r := at + between(rng, 10*time.Millisecond, 500*time.Millisecond)
		p = append(p, faults.Step{At: at, Fault: faults.Act(actLeave, m.leaveArg(rng, i, at))},
			faults.Step{At: r, Fault: faults.Act(actRejoin, name)},
			faults.Step{At: r, Fault: faults.Act(actLeave, name)})
		down(at)
		up(r)
		down(r)
		if rng.IntN(5) != 0 {
			r2 := r + between(rng, 10*time.Millisecond, time.Second)
			p = append(p, faults.Step{At: r2, Fault: faults.Act(actRejoin, name)})
			up(r2)
		}
	case "push-leave":
		// i leaves the moment the next push it takes part in begins: its
		// leave and the push's messages cross (see pushLeaveAction).
		p = append(p, faults.Step{At: at, Fault: faults.Act(actPushLeave, name)})
		down(at)
		if rng.IntN(5) != 0 {
			r := at + between(rng, pushCrashWait+200*time.Millisecond, 3*time.Second)
			p = append(p, faults.Step{At: r, Fault: faults.Act(actRejoin, name)})
			up(r)
		}
	case "push-crash":
		p = append(p, faults.Step{At: at, Fault: faults.Act(actPushCrash, name+" "+mode)})
		down(at)
		if rng.IntN(4) != 0 {
			r := at + between(rng, pushCrashWait+200*time.Millisecond, 3*time.Second)
			p = append(p, faults.Step{At: r, Fault: faults.Restart(name)})
			up(r)
		}
	}
	return p
}

// leaveArg returns the argument of member i's leave at at: the member,
// and half the time a count of answers to wait for. A member that joins
// first gets an answer from each other member up (then it sets `this` and
// starts its goroutines), then, as the coordinator, one for each push of
// its first table: the count is most often the number of others up at at,
// sometimes a few more, sometimes any.
func (m *planModel) leaveArg(rng *rand.Rand, i int, at time.Duration) string {
	name := memberName(i)
	if rng.IntN(2) == 0 {
		return name
	}
	others := 0
	for _, j := range m.upAt(at) {
		if j != i {
			others++
		}
	}
	k := scenarios.Weighted(rng, []int{others, others + 1 + rng.IntN(m.sh.members), 1 + rng.IntN(2*m.sh.members+2)}, []int{2, 1, 1})
	return name + " " + strconv.Itoa(max(k, 1))
}

// memberName is the name of member i's node (and of the member).
func memberName(i int) string { return "m" + strconv.Itoa(i+1) }

// memberIndex reads a member's name; ok false if it names no member of a
// cluster of n.
func memberIndex(name string, n int) (int, bool) {
	if !strings.HasPrefix(name, "m") {
		return 0, false
	}
	i, err := strconv.Atoi(name[1:])
	return i - 1, err == nil && i >= 1 && i <= n && name == memberName(i-1)
}

// checkPlan reports what in p this workload cannot carry out: a fault other
// than a crash, black hole or restart of a member's node or one of the
// case's actions, or one that names no member of a cluster of n.
func checkPlan(p faults.Plan, n int) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for i, s := range p {
		f := s.Fault
		bad := fmt.Errorf("step %d (%s): want crash, blackhole or restart of m1..m%d, %s mN [K], %s mN, %s mN or %s mN reset|blackhole", i+1, s, n, actLeave, actRejoin, actPushLeave, actPushCrash)
		switch f.Kind {
		case faults.KindCrash, faults.KindBlackHole, faults.KindRestart:
			if _, ok := memberIndex(f.Node, n); !ok {
				return bad
			}
		case faults.KindAction:
			if _, _, err := parseAction(f, n); err != nil {
				return fmt.Errorf("%w: %v", bad, err)
			}
		default:
			return bad
		}
	}
	return nil
}

// parseAction reads an action's member and, for push-crash, its crash mode.
// A leave may name a count of calls after its member (see parseLeave).
func parseAction(f faults.Fault, n int) (int, harness.CrashMode, error) {
	words := strings.Fields(f.Arg)
	want := 1
	if f.Action == actPushCrash {
		want = 2
	}
	if f.Action == actLeave && len(words) == 2 {
		if _, _, err := parseLeave(f.Arg, n); err != nil {
			return 0, 0, err
		}
		want = 2
	}
	switch f.Action {
	case actLeave, actRejoin, actPushLeave, actPushCrash:
	default:
		return 0, 0, fmt.Errorf("unknown action %q", f.Action)
	}
	if len(words) != want {
		return 0, 0, fmt.Errorf("%s takes %d word(s), got %q", f.Action, want, f.Arg)
	}
	i, ok := memberIndex(words[0], n)
	if !ok {
		return 0, 0, fmt.Errorf("%q names no member", words[0])
	}
	mode := harness.CrashReset
	if f.Action == actPushCrash {
		switch words[1] {
		case "reset":
		case "blackhole":
			mode = harness.CrashBlackHole
		default:
			return 0, 0, fmt.Errorf("crash mode %q: want reset or blackhole", words[1])
		}
	}
	return i, mode, nil
}

// parseLeave reads a leave's argument: "mN", or "mN K": the member leaves
// once it has received K more answers to its requests (at most
// leaveCallsWait after the step).
func parseLeave(arg string, n int) (member, after int, err error) {
	words := strings.Fields(arg)
	if len(words) == 0 || len(words) > 2 {
		return 0, 0, fmt.Errorf("%s takes mN or mN K, got %q", actLeave, arg)
	}
	i, ok := memberIndex(words[0], n)
	if !ok {
		return 0, 0, fmt.Errorf("%q names no member", words[0])
	}
	if len(words) == 2 {
		k, err := strconv.Atoi(words[1])
		if err != nil || k < 1 || words[1] != strconv.Itoa(k) {
			return 0, 0, fmt.Errorf("%s %s: %q is no count of calls", actLeave, words[0], words[1])
		}
		after = k
	}
	return i, after, nil
}

// leaveCallsWait bounds how long a leave waits for its member's answers.
const leaveCallsWait = time.Second

// actions returns the handlers of the case's actions, run by faults.Run on
// the plan's goroutine.
func (r *run) actions() faults.Actions {
	return faults.Actions{
		actLeave:     r.leaveAction,
		actRejoin:    r.rejoinAction,
		actPushCrash: r.pushCrashAction,
		actPushLeave: r.pushLeaveAction,
	}
}

// leaveAction shuts the member on a node down, and returns once its
// Shutdown has returned (or its node crashed meanwhile).
func (r *run) leaveAction(_ context.Context, arg string) error {
	i, after, err := parseLeave(arg, r.sh.members)
	if err != nil {
		return err
	}
	nd := r.nodes[i]
	for range 100 { // a node just started: let its main make its member
		if inc := r.current(i); !nd.Alive() || (inc != nil && inc.nodeInc == nd.Incarnation()) {
			break
		}
		harness.Yield()
	}
	inc := r.current(i)
	if inc == nil || r.crashed(inc) || r.isLeaving(inc) {
		return fmt.Errorf("%s has no member to leave", memberName(i))
	}
	if after == 0 {
		// A leave that waits for no answer lands this many scheduling
		// points after the member was made: before, in or after its
		// Start's first steps, which wait startSteps points themselves.
		for range r.sh.stopSteps[inc.seq%len(r.sh.stopSteps)] {
			harness.Progress()
		}
	}
	if after > 0 {
		inc.host.awaitCalls(after, leaveCallsWait)
		// Then a few scheduling points more (the shape's), so that the
		// Shutdown lands anywhere in the steps the answer set off.
		for range r.sh.startSteps[(inc.seq+after)%len(r.sh.startSteps)] {
			harness.Progress()
		}
		if r.crashed(inc) || r.isLeaving(inc) {
			return fmt.Errorf("%s's member %s is gone already", memberName(i), inc)
		}
	}
	r.shutdown(inc, false)
	return nil
}

// rejoinAction starts a new member on a node whose member left.
func (r *run) rejoinAction(_ context.Context, arg string) error {
	i, _, err := parseAction(faults.Act(actRejoin, arg), r.sh.members)
	if err != nil {
		return err
	}
	nd := r.nodes[i]
	if !nd.Alive() {
		return fmt.Errorf("%s is down", memberName(i))
	}
	if inc := r.current(i); inc != nil && !r.isLeaving(inc) && !r.crashed(inc) {
		return fmt.Errorf("%s's member %s has not left", memberName(i), inc)
	}
	r.membershipChanged()
	inc := r.prepare(i, nd)
	return nd.Go(func() { r.incarnate(i, nd, inc) })
}

// pushCrashAction arms a crash of a node for the next push it takes part
// in, and returns: a goroutine waits for the push (at most pushCrashWait)
// and crashes the node.
func (r *run) pushCrashAction(ctx context.Context, arg string) error {
	i, mode, err := parseAction(faults.Act(actPushCrash, arg), r.sh.members)
	if err != nil {
		return err
	}
	r.onNextPush(ctx, i, actPushCrash, false, func() {
		f := faults.Crash(memberName(i))
		if mode == harness.CrashBlackHole {
			f = faults.BlackHole(memberName(i))
		}
		harness.Note("nemesis: %s (push-crash)", f)
		if err := faults.Apply(f); err != nil {
			harness.Note("nemesis: %s: %v", f, err)
		}
	})
	return nil
}

// pushLeaveAction arms a leave of a member for the next push it takes part
// in, and returns: a goroutine waits for the push (at most pushCrashWait)
// and shuts the member down, so that its leave messages cross the push's
// request and answer (a coordinator forgets the connections to a member
// that left while a push to it may still return one to its pool).
func (r *run) pushLeaveAction(ctx context.Context, arg string) error {
	i, _, err := parseAction(faults.Act(actPushLeave, arg), r.sh.members)
	if err != nil {
		return err
	}
	r.onNextPush(ctx, i, actPushLeave, true, func() {
		inc := r.current(i)
		if inc == nil || r.crashed(inc) || r.isLeaving(inc) {
			harness.Note("push-leave %s: no member to leave", memberName(i))
			return
		}
		harness.Note("nemesis: leave %s (push-leave)", memberName(i))
		r.shutdown(inc, false)
	})
	return nil
}

// onNextPush runs f on a goroutine of its own once member i takes part in
// a push (as a target, or as the coordinator unless targetOnly), at most
// pushCrashWait after it is armed.
func (r *run) onNextPush(ctx context.Context, i int, what string, targetOnly bool, f func()) {
	fired := harness.NewChan[struct{}](1)
	r.mu.Lock()
	r.armed = append(r.armed, &trigger{member: i, targetOnly: targetOnly, fired: fired})
	r.mu.Unlock()
	r.waiters.Go(func() {
		t := harness.NewTimer(pushCrashWait)
		defer t.Stop()
		if harness.Select(fired.RecvCase(nil, nil), t.C.RecvCase(nil, nil), harness.Done(ctx)) != 0 {
			r.disarm(fired)
			harness.Note("%s %s: no push within %v", what, memberName(i), pushCrashWait)
			return
		}
		f()
	})
}

// trigger is an armed push-crash or push-leave: fired once the member
// takes part in a push (a push-leave: as a target, not as the
// coordinator).
type trigger struct {
	member     int
	targetOnly bool
	fired      *harness.Chan[struct{}]
}

// disarm drops the trigger whose channel is fired.
func (r *run) disarm(fired *harness.Chan[struct{}]) {
	r.mu.Lock()
	r.armed = slices.DeleteFunc(r.armed, func(t *trigger) bool { return t.fired == fired })
	r.mu.Unlock()
}

// firePushTriggers fires the armed push-crashes and push-leaves of the
// members in a push (its coordinator and its targets); called by
// PushBegin.
func (r *run) firePushTriggers(coordinator string, targets []string) {
	r.mu.Lock()
	var fire []*harness.Chan[struct{}]
	r.armed = slices.DeleteFunc(r.armed, func(t *trigger) bool {
		name := memberName(t.member)
		fires := slices.Contains(targets, name)
		if name == coordinator {
			fires = !t.targetOnly
		}
		if fires {
			fire = append(fire, t.fired)
			return true
		}
		return false
	})
	r.mu.Unlock()
	for _, c := range fire {
		harness.Select(c.SendCase(struct{}{}), harness.Default())
	}
}
