package metaclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
	"github.com/heddle-go/heddle/faults"
	"github.com/heddle-go/heddle/harness"
)

// The metaclient case's fault plan is a faults.Plan of the case's own
// actions, which only this workload can carry out (each stands for the
// meta servers' election reacting to a fault, which the administrator
// plays):
//
//		+120ms wait-call leader; +120ms crash-leader meta3 blackhole 40ms;
//		+700ms move meta1 0s; +900ms crash-follower meta2 reset; +1.3s revive meta3 15ms
//
//	  - "move metaN LAG": leadership moves from the leader to metaN (or, if
//	    metaN is down or leads, the next live meta after it): the old leader
//	    is demoted (it forwards to the new one), metaN promoted with every
//	    table, and each other live meta told, one after another, LAG apart
//	    in all: until then they forward to the old leader.
//	  - "crash-leader metaN MODE LAG": the leader crashes (MODE blackhole: a
//	    dial to it hangs until its context is done; reset: refused at once)
//	    and metaN (or the next live meta) is promoted as above.
//	  - "crash-follower metaN MODE": metaN (or, if it leads or is down, the
//	    next live follower) crashes.
//	  - "revive metaN LAG": metaN (or the next crashed meta) starts again;
//	    it knows no leader (it forwards with an empty address) until the
//	    administrator tells it, LAG later.
//	  - "wait-call leader", "wait-call backup": aims the next step: the plan
//	    waits (up to waitCallBound) until a client dials the leader, or until
//	    a call has two dials in flight (its backups are under way), so that
//	    the next step strikes during a call.
const (
	actMove          = "move"
	actCrashLeader   = "crash-leader"
	actCrashFollower = "crash-follower"
	actRestart       = "revive"
	actWaitCall      = "wait-call"

	modeBlackHole = "blackhole"
	modeReset     = "reset"
	aimLeader     = "leader"
	aimBackup     = "backup"
)

// waitCallBound bounds how long a wait-call step waits: past it, the step
// it aims strikes anyway.
const waitCallBound = 500 * time.Millisecond

// Faults returns the fault plan of a seed, made from the seed and its
// configuration (DrawConfig, then adjust if not nil).
func Faults(adjust func(*Config)) func(seed int64) faults.Plan {
	return func(seed int64) faults.Plan { return planFor(seed, configFor(seed, adjust)) }
}

// configFor is the configuration a run of seed uses.
func configFor(seed int64, adjust func(*Config)) Config {
	c := DrawConfig(seed)
	if adjust != nil {
		adjust(&c)
	}
	return c
}

// planGen draws a plan, knowing what its steps so far did to the cluster.
type planGen struct {
	cfg    Config
	rng    *rand.Rand
	leader int
	down   map[int]bool
}

// followers returns the live metas but the leader, in order.
func (g *planGen) followers() []int {
	var up []int
	for i := range g.cfg.Metas {
		if i != g.leader && !g.down[i] {
			up = append(up, i)
		}
	}
	return up
}

// crashable reports whether another meta may go down: at most a minority
// of the metas are down at once, as a real cluster needs a majority to
// elect a leader.
func (g *planGen) crashable() bool { return len(g.down) < (g.cfg.Metas-1)/2 }

// planFor draws seed's plan: up to four changes at times spread over the
// workload's horizon, each a move, a leader's crash, a follower's crash or
// a revive, kept well-formed (a crash leaves a majority up, a revive
// restarts a crashed meta, a leader's crash has a live successor), and a
// crash or a move aimed, two times in five, at a moment when a call is
// under way.
func planFor(seed int64, cfg Config) faults.Plan {
	g := &planGen{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(seed), 0x6e656d65736973)), down: map[int]bool{}} // "nemesis"
	n := 0
	if g.rng.IntN(8) > 0 {
		n = 1 + g.rng.IntN(4)
	}
	at := make([]time.Duration, n)
	for i := range at {
		at[i] = time.Duration(g.rng.Int64N(int64(cfg.Horizon()))).Truncate(time.Millisecond)
	}
	var p faults.Plan
	for _, t := range sortedDurations(at) {
		for _, f := range g.change() {
			p = append(p, faults.Step{At: t, Fault: f})
		}
	}
	return p
}

// change draws the next change (none if nothing can change), preceded by
// the wait-call step that aims it, if it is aimed.
func (g *planGen) change() []faults.Fault {
	followers := g.followers()
	var choices []string
	if len(followers) > 0 {
		choices = append(choices, actMove, actMove)
		if g.crashable() {
			choices = append(choices, actCrashLeader, actCrashLeader, actCrashFollower)
		}
	}
	if len(g.down) > 0 {
		choices = append(choices, actRestart, actRestart)
	}
	if len(choices) == 0 {
		return nil
	}
	successor := g.successor(followers)
	aim := g.rng.IntN(5) < 2
	var fs []faults.Fault
	switch act := choices[g.rng.IntN(len(choices))]; act {
	case actMove:
		if aim {
			fs = append(fs, faults.Act(actWaitCall, []string{aimLeader, aimBackup}[g.rng.IntN(2)]))
		}
		fs = append(fs, faults.Act(actMove, metaName(successor)+" "+g.lag()))
		g.leader = successor
	case actCrashLeader:
		if aim {
			fs = append(fs, faults.Act(actWaitCall, []string{aimLeader, aimLeader, aimBackup}[g.rng.IntN(3)]))
		}
		fs = append(fs, faults.Act(actCrashLeader, metaName(successor)+" "+g.mode()+" "+g.lag()))
		g.down[g.leader] = true
		g.leader = successor
	case actCrashFollower:
		victim := followers[g.rng.IntN(len(followers))]
		if aim {
			fs = append(fs, faults.Act(actWaitCall, aimBackup))
		}
		fs = append(fs, faults.Act(actCrashFollower, metaName(victim)+" "+g.mode()))
		g.down[victim] = true
	case actRestart:
		var down []int
		for i := range g.cfg.Metas {
			if g.down[i] {
				down = append(down, i)
			}
		}
		back := down[g.rng.IntN(len(down))]
		fs = append(fs, faults.Act(actRestart, metaName(back)+" "+g.lag()))
		delete(g.down, back)
	}
	return fs
}

// successor draws the follower a move or a leader's crash hands
// leadership to: half the time, if one is live, a meta the clients do not
// know, found only through a forward (the path of the reported bug).
func (g *planGen) successor(followers []int) int {
	if len(followers) == 0 {
		return -1
	}
	to := followers[g.rng.IntN(len(followers))]
	unknown := slices.DeleteFunc(slices.Clone(followers), func(i int) bool { return i < g.cfg.Known })
	if len(unknown) > 0 && g.rng.IntN(2) == 0 {
		to = unknown[g.rng.IntN(len(unknown))]
	}
	return to
}

// lag draws how long the other metas take to learn of a new leader (or a
// revived meta of the leader): none a third of the time, else up to 80ms.
func (g *planGen) lag() string {
	if g.rng.IntN(3) == 0 {
		return "0s"
	}
	return (time.Duration(1+g.rng.IntN(80)) * time.Millisecond).String()
}

// mode draws how a meta crashes: a black hole two times in three.
func (g *planGen) mode() string {
	return []string{modeBlackHole, modeBlackHole, modeReset}[g.rng.IntN(3)]
}

// action is a plan step's action, its arguments read.
type action struct {
	name string
	meta int           // the meta it names (-1 for wait-call)
	mode string        // crash mode, or wait-call's aim
	lag  time.Duration // move, crash-leader, restart
}

// parseAction reads a step of a plan for cfg, or says what is wrong with it.
func parseAction(f faults.Fault, cfg Config) (action, error) {
	bad := func(why string) (action, error) {
		return action{}, fmt.Errorf("%s: %s; want %s metaN LAG, %s metaN blackhole|reset LAG, %s metaN blackhole|reset, %s metaN LAG or %s leader|backup (0 <= N < %d)",
			f, why, actMove, actCrashLeader, actCrashFollower, actRestart, actWaitCall, cfg.Metas)
	}
	if f.Kind != faults.KindAction {
		return bad("not one of the case's actions")
	}
	a := action{name: f.Action, meta: -1}
	args := strings.Fields(f.Arg)
	want := map[string]int{actMove: 2, actCrashLeader: 3, actCrashFollower: 2, actRestart: 2, actWaitCall: 1}[f.Action]
	if want == 0 {
		return bad("unknown action")
	}
	if len(args) != want {
		return bad(fmt.Sprintf("%d argument(s)", len(args)))
	}
	if f.Action == actWaitCall {
		if args[0] != aimLeader && args[0] != aimBackup {
			return bad("unknown aim")
		}
		a.mode = args[0]
		return a, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(args[0], "meta"))
	if err != nil || !strings.HasPrefix(args[0], "meta") || n < 0 || n >= cfg.Metas {
		return bad(fmt.Sprintf("no meta %q", args[0]))
	}
	a.meta = n
	rest := args[1:]
	if f.Action == actCrashLeader || f.Action == actCrashFollower {
		if rest[0] != modeBlackHole && rest[0] != modeReset {
			return bad(fmt.Sprintf("unknown crash mode %q", rest[0]))
		}
		a.mode, rest = rest[0], rest[1:]
	}
	if len(rest) == 1 {
		if a.lag, err = time.ParseDuration(rest[0]); err != nil || a.lag < 0 {
			return bad(fmt.Sprintf("bad lag %q", rest[0]))
		}
	}
	return a, nil
}

// checkPlan reports what in p this workload cannot carry out.
func checkPlan(p faults.Plan, cfg Config) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for i, s := range p {
		if _, err := parseAction(s.Fault, cfg); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	return nil
}

// actions returns the handlers of the case's actions, for faults.Run.
func (r *run) actions() faults.Actions {
	handle := func(name string) func(context.Context, string) error {
		return func(ctx context.Context, arg string) error {
			r.l.stepRun()
			err := r.act(ctx, name, arg)
			if err != nil && ctx.Err() == nil {
				r.l.stepErr(fmt.Sprintf("%s %s: %v", name, arg, err))
			}
			return err
		}
	}
	acts := faults.Actions{}
	for _, name := range []string{actMove, actCrashLeader, actCrashFollower, actRestart, actWaitCall} {
		acts[name] = handle(name)
	}
	return acts
}

// act carries out one step of the plan.
func (r *run) act(ctx context.Context, name, arg string) error {
	a, err := parseAction(faults.Act(name, arg), r.cfg)
	if err != nil {
		return err
	}
	if a.name == actWaitCall {
		return r.waitCall(ctx, a.mode)
	}
	r.adminMu.Lock()
	defer r.adminMu.Unlock()
	switch a.name {
	case actMove:
		return r.move(ctx, a)
	case actCrashLeader:
		return r.crashLeader(ctx, a)
	case actCrashFollower:
		return r.crashFollower(a)
	default:
		return r.restart(ctx, a)
	}
}

// pick returns meta want if ok(want), else the first meta after it (in a
// circle) for which ok holds, or -1.
func (r *run) pick(want int, ok func(i int) bool) int {
	for k := range r.cfg.Metas {
		if i := (want + k) % r.cfg.Metas; ok(i) {
			return i
		}
	}
	return -1
}

// liveFollower returns the live meta other than the leader that a step
// naming want hits, or -1.
func (r *run) liveFollower(v clusterView, want int) int {
	return r.pick(want, func(i int) bool { return v.down[i] == "" && i != v.leader })
}

// move hands leadership to a live follower. The administrator's lock is
// held (as by every change).
func (r *run) move(ctx context.Context, a action) error {
	v := r.l.view()
	to, old := r.liveFollower(v, a.meta), v.leader
	if to < 0 || old < 0 {
		return fmt.Errorf("no leader, or no live follower to move leadership to")
	}
	r.l.unsettle()
	harness.Note("admin: leadership meta%d -> meta%d", old, to)
	if err := r.adminDo(ctx, opDemote, old, func(ctx context.Context) error {
		return r.admin.Demote(ctx, metaAddr(old), metaAddr(to))
	}); err != nil {
		return err
	}
	return r.promote(ctx, to, old, a.lag)
}

// crashLeader crashes the leader and promotes a live follower.
func (r *run) crashLeader(ctx context.Context, a action) error {
	v := r.l.view()
	to, old := r.liveFollower(v, a.meta), v.leader
	if old < 0 {
		return fmt.Errorf("no leader to crash")
	}
	r.l.unsettle()
	if err := r.crash(old, a.mode); err != nil {
		return err
	}
	r.l.setLeader(-1)
	if to < 0 {
		return fmt.Errorf("no live follower to promote after meta%d crashed", old)
	}
	harness.Note("admin: leader meta%d crashed (%s); meta%d leads", old, a.mode, to)
	return r.promote(ctx, to, old, a.lag)
}

// crashFollower crashes a live follower.
func (r *run) crashFollower(a action) error {
	victim := r.liveFollower(r.l.view(), a.meta)
	if victim < 0 {
		return fmt.Errorf("no live follower to crash")
	}
	r.l.unsettle()
	if err := r.crash(victim, a.mode); err != nil {
		return err
	}
	r.l.settle()
	return nil
}

// crash crashes meta i in mode and marks it down.
func (r *run) crash(i int, mode string) error {
	f := faults.BlackHole(metaName(i))
	if mode == modeReset {
		f = faults.Crash(metaName(i))
	}
	if err := faults.Apply(f); err != nil {
		return err
	}
	r.l.setDown(i, mode)
	return nil
}

// restart restarts a crashed meta and, lag later, tells it who leads.
func (r *run) restart(ctx context.Context, a action) error {
	v := r.l.view()
	back := r.pick(a.meta, func(i int) bool { return v.down[i] != "" })
	if back < 0 {
		return fmt.Errorf("no crashed meta to revive")
	}
	r.l.unsettle()
	if err := faults.Apply(faults.Restart(metaName(back))); err != nil {
		return err
	}
	r.l.setDown(back, "")
	if err := sleepCtx(ctx, a.lag); err != nil {
		return err
	}
	if v.leader < 0 {
		return nil // unsettled until a leader is promoted
	}
	if err := r.adminDo(ctx, opSetLeader, back, func(ctx context.Context) error {
		return r.admin.SetLeader(ctx, metaAddr(back), metaAddr(v.leader))
	}); err != nil {
		return err
	}
	r.l.settle()
	return nil
}

// promote makes meta to the leader with every table, then tells every
// other live meta but old, one after another, lag apart in all; the
// cluster is settled once all know.
func (r *run) promote(ctx context.Context, to, old int, lag time.Duration) error {
	if err := r.adminDo(ctx, opPromote, to, func(ctx context.Context) error {
		return r.admin.Promote(ctx, metaAddr(to), r.tables)
	}); err != nil {
		return err
	}
	r.l.setLeader(to)
	v := r.l.view()
	var tell []int
	for i := range r.cfg.Metas {
		if i != to && i != old && v.down[i] == "" {
			tell = append(tell, i)
		}
	}
	for _, f := range tell {
		if err := sleepCtx(ctx, lag/time.Duration(len(tell))); err != nil {
			return err
		}
		if err := r.adminDo(ctx, opSetLeader, f, func(ctx context.Context) error {
			return r.admin.SetLeader(ctx, metaAddr(f), metaAddr(to))
		}); err != nil {
			return err
		}
	}
	r.l.settle()
	return nil
}

// sleepCtx sleeps for d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := harness.NewTimer(d)
	defer t.Stop()
	if harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
		return ctx.Err()
	}
	return nil
}

// waitCall waits until a call reaches the moment aim names (see the
// actions' documentation), at most waitCallBound.
func (r *run) waitCall(ctx context.Context, aim string) error {
	ch := r.aimed
	harness.Select(ch.RecvCase(nil, nil), harness.Default()) // a late wake-up of the last step
	r.l.setAim(aim, ch)
	t := harness.NewTimer(waitCallBound)
	defer t.Stop()
	got := harness.Select(ch.RecvCase(nil, nil), t.C.RecvCase(nil, nil), harness.Done(ctx))
	r.l.setAim("", nil)
	if got == 1 {
		r.l.aimMissed()
		harness.Note("nemesis: no call reached the %s moment within %v", aim, waitCallBound)
	}
	return nil
}

// adminOps names the administrator's requests, for the overlap record.
const (
	opPromote   = "Promote"
	opDemote    = "Demote"
	opSetLeader = "SetLeader"
	opWrite     = "Write"
)

// adminDo runs one administrative request to meta i with a bounded
// context. The metas it talks to are live and the network loses nothing,
// so a failure is the workload's or the meta's fault (Invariant), unless
// the plan was stopped.
func (r *run) adminDo(ctx context.Context, op string, i int, f func(context.Context) error) error {
	actx, cancel := harness.WithTimeout(ctx, time.Second)
	defer cancel()
	id := r.l.begin(metaName(i), op)
	err := f(actx)
	r.l.end(id)
	if err != nil && ctx.Err() == nil {
		r.Violate(checkers.Invariant, "administrator: %s on meta%d failed: %v", op, i, err)
	}
	if err != nil {
		return fmt.Errorf("%s meta%d: %w", op, i, err)
	}
	return nil
}
