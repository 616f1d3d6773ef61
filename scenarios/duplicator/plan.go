package duplicator

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
	sys "github.com/heddle-go/heddle/systems/duplicator"
)

// The duplicator case's fault plan is a faults.Plan of built-in faults on
// the primary, the remote cluster and the clients' nodes (c1, c2, ...),
// and of two actions of the case:
//
//	+1.204s await logged; +1.204s crash primary; +1.5s restart primary;
//	+2.31s await shipping; +2.31s partition primary<->remote; +3.1s heal;
//	+4.02s await call c2; +4.02s hang-up c2
//
// "await MOMENT" aims the step after it: the plan waits (at most a bound
// that depends on the moment, see awaitBound) until the system or the
// workload reaches MOMENT, then goes on at once:
//
//   - logged: a client's write reached the private log and is not yet
//     acknowledged (two-phase commit under way);
//   - empty: an empty write (a group check's, or a new primary's first)
//     reached the private log, not yet acknowledged;
//   - applied: a client's write was committed and applied, and
//     duplication has not necessarily loaded it;
//   - shipping: a duplication is about to ship a batch;
//   - confirmed: a duplication's confirmed decree was just persisted;
//   - confirm-tick: a confirm interval after that, the instant that
//     duplication's confirm loop wakes to persist its progress again;
//   - quiet: a burst's writes have all returned: the last write is
//     committed, and nothing on disk says so until the next write or empty
//     write;
//   - call cN: client cN has a write in flight.
//
// "hang-up cN" closes client cN's connection, from the plan's goroutine,
// whatever the client is doing (a write in flight fails).
//
// "stop primary" (or remote) stops the node gracefully, as an operator
// does before an upgrade: its context is cancelled, and every goroutine,
// listener, connection and timer of the incarnation must end within
// gracefulStopWait (else a Leak); the node then stays down until the
// plan's next restart of it.
const (
	actAwait  = "await"
	actHangUp = "hang-up"
	actStop   = "stop"
)

// moment is a moment an await step waits for.
type moment string

// The moments.
const (
	momentLogged    moment = "logged"
	momentEmpty     moment = "empty"
	momentApplied   moment = "applied"
	momentShipping  moment = "shipping"
	momentConfirmed moment = "confirmed"
	momentTick      moment = "confirm-tick"
	momentQuiet     moment = "quiet"
	momentCall      moment = "call"
)

var moments = []moment{momentLogged, momentEmpty, momentApplied, momentShipping, momentConfirmed, momentTick, momentQuiet, momentCall}

// planSalt keeps the plan's random stream apart from the configuration's.
const planSalt = 0x6475702d706c616e // "dup-plan"

// Faults returns the fault plan of a seed (see planFor).
func Faults(seed int64) faults.Plan { return planFor(seed, ConfigFor(seed)) }

// planGen draws one plan.
type planGen struct {
	c   Config
	rng *rand.Rand
	p   faults.Plan
	// free is, per target (a node, or "links" for every link fault: a heal
	// heals them all), when its last episode is over.
	free map[string]time.Duration
}

// planFor draws seed's fault plan for its configuration: none to three
// episodes, each a fault and its recovery, aimed at a moment or at a time
// in a burst or a silence:
//
//   - the primary crashes (reset or black hole) or restarts, aimed at a
//     write under way, a write just applied, the end of a burst, a ship, a
//     confirm or an empty write; it restarts 10 ms to 3 s later;
//   - the primary restarts, and crashes again during its first empty write;
//   - the remote cluster's node crashes, aimed at a ship or not;
//   - the link between primary and remote is cut (both ways or one),
//     loses, delays, duplicates or reorders messages, then heals;
//   - a client's node crashes during its write, or is cut from the
//     primary, or hangs up with a write in flight.
//
// Episodes on one target do not overlap; episodes on different targets
// may (a ship cut off while the primary crashes).
func planFor(seed int64, c Config) faults.Plan {
	g := &planGen{c: c, rng: rand.New(rand.NewPCG(uint64(seed), planSalt)), free: map[string]time.Duration{}}
	for range scenarios.Weighted(g.rng, []int{0, 1, 2, 3}, []int{2, 4, 3, 1}) {
		switch scenarios.Weighted(g.rng, []string{"primary", "startup", "stop", "remote", "link", "client"}, []int{4, 2, 2, 2, 3, 2}) {
		case "primary":
			g.primary()
		case "stop":
			g.stop()
		case "startup":
			g.startup()
		case "remote":
			g.remote()
		case "link":
			g.link()
		default:
			g.client()
		}
	}
	slices.SortStableFunc(g.p, func(a, b faults.Step) int { return int(a.At - b.At) })
	return g.p
}

// inBurst draws a time during a burst (one in which client, if >= 0,
// writes), or false if there is none.
func (g *planGen) inBurst(client int) (time.Duration, bool) {
	var bs []Burst
	for _, b := range g.c.Bursts {
		if client < 0 || len(b.Writes[client]) > 0 {
			bs = append(bs, b)
		}
	}
	if len(bs) == 0 {
		return 0, false
	}
	b := bs[g.rng.IntN(len(bs))]
	return b.Start + between(g.rng, 0, b.estimate(g.c)), true
}

// burstStart draws the start of a burst.
func (g *planGen) burstStart() time.Duration {
	return g.c.Bursts[g.rng.IntN(len(g.c.Bursts))].Start
}

// anytime draws a time between the first burst's start and the end of
// the last burst's silence.
func (g *planGen) anytime() time.Duration {
	last := g.c.Bursts[len(g.c.Bursts)-1]
	return between(g.rng, g.c.Bursts[0].Start, g.c.horizon()+last.Silence)
}

// claim returns at, moved after the target's last episode, and marks the
// target busy until until(at).
func (g *planGen) claim(target string, at time.Duration) time.Duration {
	if free, ok := g.free[target]; ok && at < free {
		at = free + between(g.rng, 10*time.Millisecond, 300*time.Millisecond)
	}
	return at.Truncate(time.Millisecond)
}

func (g *planGen) release(target string, until time.Duration) { g.free[target] = until }

func (g *planGen) add(at time.Duration, f faults.Fault) {
	g.p = append(g.p, faults.Step{At: at, Fault: f})
}

// down draws how long a crashed node stays down.
func (g *planGen) down() time.Duration {
	d := scenarios.Weighted(g.rng, [][2]time.Duration{{10 * time.Millisecond, 300 * time.Millisecond}, {300 * time.Millisecond, 3 * time.Second}}, []int{2, 1})
	return between(g.rng, d[0], d[1]).Truncate(time.Millisecond)
}

// crash returns a crash of node, a reset or a black hole.
func (g *planGen) crash(node string) faults.Fault {
	if g.rng.IntN(3) == 0 {
		return faults.BlackHole(node)
	}
	return faults.Crash(node)
}

// primary draws an episode of the primary: a crash aimed at a moment or a
// time, and its restart (or a restart on the spot).
func (g *planGen) primary() {
	aims := []moment{momentLogged, momentApplied, momentQuiet, momentShipping, ""}
	weights := []int{3, 2, 2, 2, 2}
	if g.c.System.ConfirmInterval <= 3*time.Second {
		aims, weights = append(aims, momentConfirmed, momentTick), append(weights, 1, 2)
	}
	if g.c.System.GroupCheckInterval <= 10*time.Second {
		aims, weights = append(aims, momentEmpty), append(weights, 1)
	}
	aim := scenarios.Weighted(g.rng, aims, weights)
	var at time.Duration
	switch aim {
	case momentQuiet:
		at = g.burstStart()
	case momentConfirmed, momentTick, momentEmpty:
		at = g.anytime()
	default:
		at, _ = g.inBurst(-1)
	}
	at = g.claim("primary", at)
	if aim != "" {
		g.add(at, faults.Act(actAwait, string(aim)))
	}
	if g.rng.IntN(5) == 0 {
		g.add(at, faults.Restart("primary")) // down and up again at once
		g.release("primary", at)
		return
	}
	g.add(at, g.crash("primary"))
	back := at + g.down()
	g.add(back, faults.Restart("primary"))
	g.release("primary", back)
}

// stop draws a graceful stop of the primary or of the remote cluster
// during a burst, and the restart after it.
func (g *planGen) stop() {
	node := scenarios.Weighted(g.rng, []string{"primary", "remote"}, []int{2, 1})
	at, _ := g.inBurst(-1)
	at = g.claim(node, at)
	g.add(at, faults.Act(actStop, node))
	back := at + gracefulStopWait + g.down()
	g.add(back, faults.Restart(node))
	g.release(node, back)
}

// startup draws a restart of the primary and a crash during the new
// primary's first empty write (it replays its log, then writes one per
// partition), and the restart after it.
func (g *planGen) startup() {
	at := g.claim("primary", g.anytime())
	g.add(at, faults.Restart("primary"))
	g.add(at, faults.Act(actAwait, string(momentEmpty)))
	g.add(at, g.crash("primary"))
	back := at + g.down()
	g.add(back, faults.Restart("primary"))
	g.release("primary", back)
}

// remote draws a crash of the remote cluster's node, aimed at a ship or
// not, and its restart.
func (g *planGen) remote() {
	at, _ := g.inBurst(-1)
	at = g.claim("remote", at)
	if g.rng.IntN(2) == 0 {
		g.add(at, faults.Act(actAwait, string(momentShipping)))
	}
	g.add(at, g.crash("remote"))
	back := at + g.down()
	g.add(back, faults.Restart("remote"))
	g.release("remote", back)
}

// link draws a fault of the link between primary and remote, aimed at a
// ship or not, and the heal.
func (g *planGen) link() {
	at, _ := g.inBurst(-1)
	at = g.claim("links", at)
	if g.rng.IntN(3) == 0 {
		g.add(at, faults.Act(actAwait, string(momentShipping)))
	}
	p := float64(3+g.rng.IntN(8)) / 10 // 0.3 .. 1
	var f faults.Fault
	switch scenarios.Weighted(g.rng, []string{"partition", "drop", "delay", "duplicate", "reorder"}, []int{3, 1, 1, 1, 1}) {
	case "partition":
		f = faults.Partition("primary", "remote")
		if g.rng.IntN(3) == 0 {
			f = scenarios.Weighted(g.rng, []faults.Fault{faults.PartitionOneWay("primary", "remote"), faults.PartitionOneWay("remote", "primary")}, []int{1, 1})
		}
	case "drop":
		f = faults.Drop("primary", "remote", p)
	case "delay":
		f = faults.Delay("primary", "remote", between(g.rng, 5*time.Millisecond, 150*time.Millisecond).Truncate(time.Millisecond))
	case "duplicate":
		f = faults.Duplicate("primary", "remote", p)
	default:
		f = faults.Reorder("primary", "remote", p)
	}
	g.add(at, f)
	heal := at + between(g.rng, 50*time.Millisecond, 3*time.Second).Truncate(time.Millisecond)
	g.add(heal, faults.Heal())
	g.release("links", heal)
}

// client draws an episode of one client: its node crashes during a write
// of its (and restarts), or is cut from the primary (and heals), or it
// hangs up with a write in flight.
func (g *planGen) client() {
	i := g.rng.IntN(g.c.Clients)
	name := ClientNode(i)
	var bs []Burst
	for _, b := range g.c.Bursts {
		if len(b.Writes[i]) > 0 {
			bs = append(bs, b)
		}
	}
	if len(bs) == 0 {
		return
	}
	// Early in a burst of the client's, so that a write of its is to come.
	b := bs[g.rng.IntN(len(bs))]
	at := b.Start + between(g.rng, 0, b.estimate(g.c)/2)
	kind := scenarios.Weighted(g.rng, []string{"crash", "cut", "hang-up"}, []int{2, 1, 2})
	target := name
	if kind == "cut" {
		target = "links"
	}
	at = g.claim(target, at)
	g.add(at, faults.Act(actAwait, string(momentCall)+" "+name))
	switch kind {
	case "crash":
		g.add(at, g.crash(name))
		back := at + g.down()
		g.add(back, faults.Restart(name))
		g.release(target, back)
	case "cut":
		g.add(at, faults.Partition(name, "primary"))
		heal := at + between(g.rng, 50*time.Millisecond, 2*time.Second).Truncate(time.Millisecond)
		g.add(heal, faults.Heal())
		g.release(target, heal)
	default:
		g.add(at, faults.Act(actHangUp, name))
		g.release(target, at)
	}
}

// clientIndex reads a client's node name; ok false if it names no client
// of c.
func (c Config) clientIndex(name string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "c"))
	return n - 1, err == nil && n >= 1 && n <= c.Clients && name == ClientNode(n-1)
}

// knownNode reports whether name is a node of the workload.
func (c Config) knownNode(name string) bool {
	_, client := c.clientIndex(name)
	return name == "primary" || name == "remote" || client
}

// parseAwait reads an await step's argument: its moment and, for call, the
// client.
func (c Config) parseAwait(arg string) (moment, int, error) {
	words := strings.Fields(arg)
	if len(words) == 0 || !slices.Contains(moments, moment(words[0])) {
		return "", 0, fmt.Errorf("await %q: want one of %v", arg, moments)
	}
	m := moment(words[0])
	if m != momentCall {
		if len(words) != 1 {
			return "", 0, fmt.Errorf("await %s takes no argument, got %q", m, arg)
		}
		return m, -1, nil
	}
	if len(words) != 2 {
		return "", 0, fmt.Errorf("await call takes a client (c1..c%d), got %q", c.Clients, arg)
	}
	i, ok := c.clientIndex(words[1])
	if !ok {
		return "", 0, fmt.Errorf("await call: %q names no client (c1..c%d)", words[1], c.Clients)
	}
	return m, i, nil
}

// checkPlan reports what in p this workload cannot carry out: a fault on a
// node it does not have, or an action it does not know.
func checkPlan(p faults.Plan, c Config) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for i, s := range p {
		f := s.Fault
		switch {
		case f.Kind == faults.KindAction && f.Action == actAwait:
			if _, _, err := c.parseAwait(f.Arg); err != nil {
				return fmt.Errorf("step %d: %w", i+1, err)
			}
		case f.Kind == faults.KindAction && f.Action == actHangUp:
			if _, ok := c.clientIndex(f.Arg); !ok {
				return fmt.Errorf("step %d (%s): want hang-up c1..c%d", i+1, s, c.Clients)
			}
		case f.Kind == faults.KindAction && f.Action == actStop:
			if f.Arg != "primary" && f.Arg != "remote" {
				return fmt.Errorf("step %d (%s): want stop primary or stop remote", i+1, s)
			}
		case f.Kind == faults.KindAction:
			return fmt.Errorf("step %d (%s): unknown action; want %s, %s or %s", i+1, s, actAwait, actHangUp, actStop)
		default:
			for _, n := range []string{f.Node, f.From, f.To} {
				if n != "" && !c.knownNode(n) {
					return fmt.Errorf("step %d (%s): no node %q (nodes: primary, remote, c1..c%d)", i+1, s, n, c.Clients)
				}
			}
		}
	}
	return nil
}

// actions returns the handlers of the case's actions, for faults.Run.
func (r *run) actions() faults.Actions {
	return faults.Actions{actAwait: r.await, actHangUp: r.hangUp, actStop: r.stopAction}
}

// stopAction stops the primary or the remote cluster gracefully.
func (r *run) stopAction(_ context.Context, arg string) error {
	switch arg {
	case "primary":
		r.stopGracefully(r.primary, sys.RolePrimary, &r.cancelPrimary)
	case "remote":
		r.stopGracefully(r.remote, sys.RoleRemote, &r.cancelRemote)
	default:
		return fmt.Errorf("stop: %q: want primary or remote", arg)
	}
	return nil
}

// awaitBound is how long an await step waits for its moment.
func (c Config) awaitBound(m moment) time.Duration {
	switch m {
	case momentEmpty:
		return c.System.GroupCheckInterval + time.Second
	case momentConfirmed, momentTick:
		return c.System.ConfirmInterval + time.Second
	case momentQuiet:
		var longest time.Duration
		for _, b := range c.Bursts {
			longest = max(longest, b.estimate(c))
		}
		return 2*longest + 2*time.Second
	}
	return time.Second
}

// await waits until the system or the workload reaches the moment arg
// names, or until its bound passes (noted in the trace).
func (r *run) await(ctx context.Context, arg string) error {
	m, client, err := r.cfg.parseAwait(arg)
	if err != nil {
		return err
	}
	who := ""
	if client >= 0 {
		who = ClientNode(client)
	}
	heard := m
	if m == momentTick {
		heard = momentConfirmed
	}
	gen := r.rec.arm(heard, who)
	defer r.rec.arm("", "")
	t := harness.NewTimer(r.scaled(r.cfg.awaitBound(m)))
	defer t.Stop()
	for {
		var got int
		switch harness.Select(r.rec.hits.RecvCase(&got, nil), t.C.RecvCase(nil, nil), harness.Done(ctx)) {
		case 0:
			if got != gen {
				continue // the poke of an earlier await, which timed out
			}
			if m == momentTick {
				// The confirm loop armed its next wait as it confirmed:
				// this one ends at the same instant.
				harness.Sleep(r.scaled(r.cfg.System.ConfirmInterval))
			}
		case 1:
			harness.Note("nemesis: await %s: not reached within %v", arg, r.cfg.awaitBound(m))
		}
		return nil
	}
}

// hangUp closes a client's connection, if it has one.
func (r *run) hangUp(_ context.Context, arg string) error {
	i, ok := r.cfg.clientIndex(arg)
	if !ok {
		return fmt.Errorf("hang-up: %q names no client", arg)
	}
	r.Mu.Lock()
	cl := r.conns[i]
	r.Mu.Unlock()
	if cl == nil {
		harness.Note("nemesis: hang-up %s: no connection", arg)
		return nil
	}
	r.closeClient(i, cl, "plan")
	return nil
}

// arm sets the moment an await step waits for ("" disarms), and returns
// the number its poke will carry.
func (r *recorder) arm(m moment, who string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aim = aimAt{m, who}
	r.armed = 0
	if m != "" {
		r.arms++
		r.armed = r.arms
	}
	return r.armed
}

// aimAt is the moment an await step waits for, and the client it concerns.
type aimAt struct {
	m   moment
	who string
}

// reached disarms an await step waiting for m (from client who), if there
// is one, and returns the number to poke it with (0: none): the caller
// pokes once r.mu is released. Under r.mu.
func (r *recorder) reached(m moment, who string) int {
	if r.armed == 0 || r.aim.m != m || (r.aim.who != "" && r.aim.who != who) {
		return 0
	}
	hit := r.armed
	r.armed = 0
	r.aim = aimAt{}
	return hit
}

// poke tells the await step armed as hit (from reached; 0: none) that its
// moment came. Each arming is poked at most once, and an await takes the
// pokes of earlier ones that timed out before it waits, so hits never has
// more than two waiting: the send never blocks. Not under r.mu: a send is
// a scheduling point.
func (r *recorder) poke(hit int) {
	if hit != 0 {
		r.hits.Send(hit)
	}
}

// signal is reached, taking the lock, and the poke.
func (r *recorder) signal(m moment, who string) {
	r.mu.Lock()
	hit := r.reached(m, who)
	r.mu.Unlock()
	r.poke(hit)
}

// step is a fault of the plan as it was carried out: when it struck and
// when it was over (an await takes time), and its error.
type step struct {
	f        faults.Fault
	at, done time.Duration
	err      error
}

// runPlan runs the plan, one step after the other, each at its time (or
// as soon as the step before it is over), with faults.Run, and records when
// each struck. done is closed at the end.
func (r *run) runPlan(ctx context.Context, done *harness.Chan[struct{}]) {
	defer done.Close()
	acts := r.actions()
	for _, s := range r.plan {
		if d := r.scaled(s.At) - r.Since(); d > 0 {
			t := harness.NewTimer(d)
			if harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
				t.Stop()
				return
			}
		}
		at := r.Since()
		err := faults.Run(ctx, faults.Plan{{Fault: s.Fault}}, acts)
		r.struck(step{f: s.Fault, at: at, done: r.Since(), err: err})
	}
}

// scaled is d in the run's time: a tenth in real mode.
func (r *run) scaled(d time.Duration) time.Duration {
	if r.real {
		return d / realScale
	}
	return d
}

// struck records a step carried out, and lets the burst go on without the
// writers of a client whose node just crashed.
func (r *run) struck(s step) {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	r.steps = append(r.steps, s)
	if s.err != nil || (s.f.Kind != faults.KindCrash && s.f.Kind != faults.KindBlackHole && s.f.Kind != faults.KindRestart) {
		return
	}
	// The node's connections are reset now (a black hole's at its restart):
	// the peer never hears of a reset sent across a cut link.
	switch i, ok := r.cfg.clientIndex(s.f.Node); {
	case ok:
		r.releaseWriters(i)
		if (r.conns[i] != nil || r.dialing[i]) && cutOff(s.f.Node, "primary") {
			r.rec.orphaned(sys.RolePrimary, 1)
		}
	case s.f.Node == "primary" && cutOff("primary", "remote"):
		inc := r.primary.Incarnation()
		if s.f.Kind == faults.KindRestart {
			inc-- // the incarnation the restart ended
		}
		r.rec.orphaned(sys.RoleRemote, r.rec.holding(sys.RolePrimary, inc)[sys.ResShipConn])
	}
}

// recover ends what the plan left broken, once it is over: it heals the
// links and restarts every node still down, so that the final checks judge
// a system that can recover (a shrunk plan may have lost a restart).
func (r *run) recover() {
	r.Mu.Lock()
	steps := slices.Clone(r.steps)
	r.Mu.Unlock()
	var fs []faults.Fault
	if slices.ContainsFunc(steps, func(s step) bool { return linkFault(s.f) }) {
		fs = append(fs, faults.Heal())
	}
	for _, n := range r.nodes {
		if !n.Alive() {
			fs = append(fs, faults.Restart(n.Name()))
		}
	}
	for _, f := range fs {
		at := r.Since()
		harness.Note("recovery: %s", f)
		err := faults.Apply(f)
		r.struck(step{f: f, at: at, done: at, err: err})
	}
}

// linkFault reports whether f changes links (a heal gives them back).
func linkFault(f faults.Fault) bool {
	switch f.Kind {
	case faults.KindPartition, faults.KindIsolate, faults.KindDelay, faults.KindDrop, faults.KindDuplicate, faults.KindReorder:
		return true
	}
	return false
}
