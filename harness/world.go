package harness

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Rules for this file and every other file that touches scheduler state.
//
// In deterministic mode only one goroutine of a World runs at a time, and
// control passes from one to the next through tokenStore/tokenLoad, which the
// race detector cannot see. State shared by those goroutines (the World, the
// goroutine records, the primitives' wait queues) is therefore read and written
// only in functions marked //go:norace, with plain fields: no map writes, no
// copy() of pointer slices, nothing the runtime itself reports to the race
// detector. Happens-before edges come only from raceAcquire/raceRelease calls
// placed where the Go memory model puts an edge. (Builds without -race hand
// control over through runtime coroutines instead; see handoff_coro.go.)

// Mode selects how primitives behave while a World is active.
type Mode int

const (
	// Deterministic runs one goroutine at a time under the World's scheduler
	// and virtual clock. It is the zero value.
	Deterministic Mode = iota
	// Real runs with real goroutines and the standard library's primitives,
	// optionally perturbed by seeded yields (see Options.Perturb).
	Real
)

func (m Mode) String() string {
	if m == Real {
		return "real"
	}
	return "deterministic"
}

// Options configures one Run. The zero value is a deterministic run of seed 0
// with the random-walk strategy and default limits.
type Options struct {
	// Seed decides every choice of the run: the schedule, select's choice
	// among ready cases, and the values IntN and Float64 return.
	Seed int64
	// Mode is Deterministic (the default) or Real.
	Mode Mode
	// Strategy picks the goroutine to run at each scheduling point.
	// Nil means RandomWalk().
	Strategy Strategy
	// MaxSteps bounds the number of scheduling points (a livelock guard).
	// Zero means 1,000,000.
	MaxSteps int
	// Watchdog is how long, in wall-clock time, a goroutine may run without
	// reaching a scheduling point before the run fails as Stuck.
	// Zero means 10 seconds.
	Watchdog time.Duration
	// Drain is how much virtual time the World keeps firing timers after main
	// returns, so that goroutines on their way out can finish. Goroutines
	// still alive after that are leaks. Zero means 10 seconds.
	Drain time.Duration
	// Trace keeps every event in Result.Trace. The trace hash is computed
	// either way.
	Trace bool
	// Perturb, in Real mode, is the probability in [0, 1] that a primitive
	// call first yields the processor or sleeps for a few microseconds.
	Perturb float64
}

// Result is what a Run leaves behind.
type Result struct {
	// Seed and Strategy are the run's inputs, for the report.
	Seed     int64
	Strategy string
	// Failures lists what went wrong, in the order found; empty means the
	// run passed the runtime's own checks.
	Failures []Failure
	// Steps is the number of scheduling points reached.
	Steps int
	// Elapsed is the virtual time that passed.
	Elapsed time.Duration
	// TraceHash identifies the run: the same seed and options give the same
	// hash.
	TraceHash uint64
	// Trace holds every event when Options.Trace was set.
	Trace []Event
	// Schedule lists the goroutine chosen at every scheduling point that had
	// more than one runnable goroutine. Replay(Schedule) reproduces the run.
	Schedule []int
	// Preemptions counts the choices that switched away from a goroutine that
	// could have gone on running.
	Preemptions int
	// Goroutines counts the goroutines started, main included.
	Goroutines int
}

// Failed reports whether the run has any failure.
func (r *Result) Failed() bool { return len(r.Failures) > 0 }

// Err returns nil for a run without failures, and otherwise an error that
// describes them all.
func (r *Result) Err() error {
	if len(r.Failures) == 0 {
		return nil
	}
	msgs := make([]string, len(r.Failures))
	for i, f := range r.Failures {
		msgs[i] = f.String()
	}
	return fmt.Errorf("seed %d: %s", r.Seed, strings.Join(msgs, "\n"))
}

// Kind classifies what went wrong in a run. It is the one name for every
// kind of violation heddle reports: the runtime detects the kinds declared
// here, package checkers adds the kinds its checks find (NotLinearizable,
// Timeliness, Invariant), and the explorer and the heddle command speak of
// both with this type. Its value is the kind's name.
type Kind string

const (
	// Deadlock: every goroutine is blocked and no timer is pending, while
	// main has not returned.
	Deadlock Kind = "Deadlock"
	// Leak: goroutines still alive after main returned and the clock drained.
	Leak Kind = "Leak"
	// Panic: a goroutine of the World panicked.
	Panic Kind = "Panic"
	// StepLimit: the run reached Options.MaxSteps (a livelock, or a run far
	// longer than expected).
	StepLimit Kind = "StepLimit"
	// Stuck: a goroutine ran for Options.Watchdog of wall-clock time without
	// reaching a scheduling point (a busy loop, or a block outside heddle).
	Stuck Kind = "Stuck"
	// DataRace: the race detector reported two unsynchronised accesses. The
	// race detector prints its reports on standard error, outside any
	// Result; whoever watches that output (a test, a worker process)
	// attributes them to the run.
	DataRace Kind = "DataRace"
)

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// Failure is one problem found during a run.
type Failure struct {
	Kind    Kind
	Message string
	// Goroutines involved: the blocked ones of a deadlock, the leaked ones,
	// the panicking or stuck one.
	Goroutines []GoroutineState
	// Stack is the panicking goroutine's stack, for a Panic.
	Stack string
	// Step and Time locate the failure in the run.
	Step int
	Time time.Duration
}

func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at step %d (virtual time %v): %s", f.Kind, f.Step, f.Time, f.Message)
	for _, g := range f.Goroutines {
		b.WriteString("\n  ")
		b.WriteString(g.String())
	}
	if f.Stack != "" {
		b.WriteString("\n")
		b.WriteString(f.Stack)
	}
	return b.String()
}

// GoroutineState describes one goroutine of a World for a report.
type GoroutineState struct {
	ID        int
	Node      string
	State     string // "runnable", "done", or what it is blocked on
	BlockedAt string // file:line of the call it is blocked in
	CreatedAt string // file:line of the Go call that started it
}

func (g GoroutineState) String() string {
	s := fmt.Sprintf("goroutine %d", g.ID)
	if g.Node != "" {
		s += " on node " + g.Node
	}
	s += " [" + g.State + "]"
	if g.BlockedAt != "" {
		s += " at " + g.BlockedAt
	}
	if g.CreatedAt != "" {
		s += ", created at " + g.CreatedAt
	}
	return s
}

type gState uint8

const (
	gRunnable gState = iota
	gBlocked
	gDone
	gDead // its node crashed: it never runs again
)

// goroutine is the World's record of one goroutine started through Go.
type goroutine struct {
	run  uint32        // the handoff token: tokenWait, tokenGo or tokenAsleep
	wake chan struct{} // where a goroutine that stopped spinning sleeps
	// With the coroutine handoff (see handoff_coro.go) the goroutine is a
	// coroutine: the World's driver resumes it with next, and it gives
	// control back with yield (nil until it first runs).
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool
	goid  int64 // the runtime's id of its real goroutine, for failure reports
	// Happens-before words of the channel operation it is blocked in: mine
	// is released when it blocks, theirs by whoever completes the operation.
	mine, theirs uint64
	id           int
	w            *world
	state        gState
	retired      bool // done, its real goroutine waiting to be unwound (see retire)
	killed       bool // being unwound at the end of the run
	system       bool // the World's own: never a leak or part of a deadlock
	isMain       bool
	node         *Node
	reason       string  // what it is blocked on
	blockPC      uintptr // where it blocked
	createPC     uintptr // where it was started
	pc           uintptr // its latest scheduling point
}

// World is one deterministic run: its goroutines, scheduler, clock and trace.
// There is at most one active World per process; the primitives of this
// package consult it to decide how to behave.
type world struct {
	opts     Options
	strategy Strategy
	rand     *prng // the program's randomness: select, IntN, latencies
	maxSteps int

	all     []*goroutine // by id
	runq    []*goroutine // runnable, by id
	current *goroutine

	step        int
	schedule    chunks[int]
	preemptions int

	start    time.Time
	now      time.Duration
	timers   timerHeap
	timerSeq uint64

	mainDone   bool
	mainDoneAt time.Duration
	spawner    *goroutine
	callbacks  []callback

	failures []Failure
	ended    bool
	endCh    chan struct{}
	// coro selects the coroutine handoff for this run; resume is then the
	// goroutine the driver runs next (see handoff_coro.go).
	coro    bool
	resume  *goroutine
	unwound chan struct{}
	stuck   bool

	hash   traceHash
	events chunks[Event]

	// endSync collects, through raceReleaseMerge at every handoff, the
	// history of every goroutine of the run; whoever runs after the run
	// (Run's caller, goroutines being unwound) acquires it.
	endSync uint64

	perturbCounter uint64

	// opSeq and realOpSeq number the events of every History of the run
	// (deterministic and real mode); net is the run's simulated network,
	// made when first used (netMu guards that in real mode).
	opSeq     int64
	realOpSeq atomic.Int64
	net       *network
	netMu     sync.Mutex

	// sites maps real goroutine ids to the user code each one stands in,
	// filled from a stack dump when a failure report needs it.
	sites map[int64]string
}

// active is the one World whose primitives are in force, or nil.
var active *world

// poisoned is set when a run was abandoned with a goroutine still running
// outside heddle's control; no further World can run safely in this process.
var poisoned string

//go:norace
func activeWorld() *world { return active }

//go:norace
func activate(w *world) error {
	if poisoned != "" {
		return fmt.Errorf("an earlier run was abandoned: %s", poisoned)
	}
	if active != nil {
		return fmt.Errorf("another World is already running in this process")
	}
	active = w
	return nil
}

//go:norace
func deactivate(w *world) {
	if active == w {
		active = nil
	}
}

// epoch is the wall-clock time a deterministic World starts at: fixed, so that
// Now is part of what a seed reproduces.
var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// Run runs main in a new World and returns what happened. In Deterministic
// mode main and every goroutine it starts through Go run one at a time, as
// the strategy picks, on a virtual clock; the same options give the same run.
// In Real mode main runs on the calling goroutine with the standard library's
// primitives.
//
// Run synchronises with its caller: starting the World happens before main
// runs, and everything the World's goroutines did happens before Run returns.
// Only one World runs at a time in a process; Run reports a second one as a
// failed Result without running it.
func Run(opts Options, main func()) *Result {
	w := newWorld(opts)
	res := &Result{Seed: opts.Seed, Strategy: w.strategy.String()}
	if err := activate(w); err != nil {
		res.Failures = []Failure{{Kind: Stuck, Message: err.Error()}}
		return res
	}
	// Deactivate even if main calls runtime.Goexit (t.FailNow in real mode).
	defer deactivate(w)
	if opts.Mode == Real {
		w.runReal(main)
	} else {
		w.runDeterministic(main)
	}
	return w.result(res)
}

func newWorld(opts Options) *world {
	w := &world{opts: opts, strategy: opts.Strategy, maxSteps: opts.MaxSteps, start: epoch}
	if w.strategy == nil {
		w.strategy = RandomWalk()
	}
	if w.maxSteps <= 0 {
		w.maxSteps = 1_000_000
	}
	if w.opts.Watchdog <= 0 {
		w.opts.Watchdog = 10 * time.Second
	}
	if w.opts.Drain <= 0 {
		w.opts.Drain = 10 * time.Second
	}
	w.rand = newPRNG(opts.Seed, 1)
	w.strategy.begin(newPRNG(opts.Seed, 2))
	w.hash = newTraceHash()
	w.coro = coroutineHandoff && !raceEnabled
	return w
}

func (w *world) runReal(main func()) {
	w.start = time.Now()
	defer func() {
		if r := recover(); r != nil {
			w.failures = append(w.failures, Failure{Kind: Panic, Message: fmt.Sprint(r), Stack: string(debug.Stack())})
		}
	}()
	main()
}

func (w *world) runDeterministic(main func()) {
	w.endCh = make(chan struct{})
	w.unwound = make(chan struct{})
	// Both goroutines are started from Run's goroutine, so they begin with
	// its history only: no edge from any World goroutine reaches them.
	w.spawner = w.spawn(nil, w.spawnerLoop, 0)
	w.spawner.system = true
	w.spawner.state = gBlocked
	w.spawner.reason = "timer callbacks"
	w.removeRunnable(w.spawner)
	g := w.spawn(nil, main, callerPC(3))
	g.isMain = true
	w.begin(g)
	w.waitForEnd()
	raceAcquire(unsafe.Pointer(&w.endSync))
	w.unwindAll()
}

// begin hands the token to the first goroutine, or, with the coroutine
// handoff, starts the driver that resumes it.
//
//go:norace
func (w *world) begin(g *goroutine) {
	w.handOff(g)
	if w.coro {
		go w.drive()
	}
}

// waitForEnd blocks Run's goroutine until the World ends, watching for a
// goroutine that never reaches a scheduling point.
func (w *world) waitForEnd() {
	tick := time.NewTicker(w.opts.Watchdog / 4)
	defer tick.Stop()
	last, lastChange := -1, time.Now()
	for {
		select {
		case <-w.endCh:
			return
		case <-tick.C:
			if s := w.loadStep(); s != last {
				last, lastChange = s, time.Now()
				continue
			}
			if time.Since(lastChange) >= w.opts.Watchdog {
				w.abandon()
				return
			}
		}
	}
}

//go:norace
func (w *world) loadStep() int { return w.step }

// abandon ends a run whose running goroutine never came back to the
// scheduler. That goroutine cannot be stopped, so the process is poisoned.
//
//go:norace
func (w *world) abandon() {
	g := w.current
	w.stuck = true
	msg := fmt.Sprintf("goroutine %d ran for %v of wall-clock time without reaching a scheduling point "+
		"(a busy loop, or blocked outside heddle: a standard channel, lock, sleep or I/O)", g.id, w.opts.Watchdog)
	w.fail(Stuck, msg, []*goroutine{g}, "")
	poisoned = msg
	w.ended = true
}

// unwindAll ends every goroutine still parked, one at a time: each wakes,
// sees it was killed and exits through runtime.Goexit, running its defers
// with heddle's primitives disabled.
func (w *world) unwindAll() {
	for _, g := range w.goroutinesToUnwind() {
		if w.coro {
			w.unwindCoroutine(g)
			continue
		}
		raceReleaseMerge(unsafe.Pointer(&w.endSync))
		w.wake(g)
		<-w.unwound
	}
}

//go:norace
func (w *world) goroutinesToUnwind() []*goroutine {
	var out []*goroutine
	for _, g := range w.all {
		if (g.state == gDone && !g.retired) || (w.stuck && g == w.current) {
			continue
		}
		g.killed = true
		out = append(out, g)
	}
	return out
}

//go:norace
func (w *world) wake(g *goroutine) { w.handOff(g) }

//go:norace
func (w *world) result(res *Result) *Result {
	res.Failures = w.failures
	res.Steps = w.step
	res.Elapsed = w.now
	res.TraceHash = w.hash.sum()
	res.Trace = w.events.all()
	res.Schedule = w.schedule.all()
	res.Preemptions = w.preemptions
	for _, g := range w.all {
		if !g.system {
			res.Goroutines++
		}
	}
	return res
}

// spawn creates the record of a new goroutine and starts its real goroutine,
// parked until the scheduler picks it.
//
//go:norace
func (w *world) spawn(parent *goroutine, f func(), pc uintptr) *goroutine {
	g := &goroutine{id: len(w.all), w: w, createPC: pc, state: gRunnable}
	if parent != nil {
		g.node = parent.node
	}
	w.all = append(w.all, g)
	w.addRunnable(g)
	w.record(g, EvGo, pc, "")
	if w.coro {
		g.startCoroutine(f)
	} else {
		g.wake = make(chan struct{}, 1)
		go g.main(f)
	}
	return g
}

func (g *goroutine) main(f func()) {
	defer g.exited()
	g.setGoid(currentGoid())
	g.park()
	f()
}

// exited runs when a goroutine's function returns, panics or calls Goexit.
//
//go:norace
func (g *goroutine) exited() {
	r := recover()
	w := g.w
	if g.killed {
		if !w.coro {
			w.unwound <- struct{}{}
		}
		return
	}
	if r != nil {
		w.record(g, EvPanic, 0, fmt.Sprint(r))
		w.fail(Panic, fmt.Sprintf("goroutine %d panicked: %v", g.id, r), []*goroutine{g}, string(debug.Stack()))
		g.state = gDone
		w.removeRunnable(g)
		w.end()
		return
	}
	w.exit(g)
}

// exit retires a goroutine whose function returned and passes control on.
//
//go:norace
func (w *world) exit(g *goroutine) {
	g.state = gDone
	w.removeRunnable(g)
	w.record(g, EvExit, 0, "")
	if g.isMain {
		w.mainDone = true
		w.mainDoneAt = w.now
	}
	raceReleaseMerge(unsafe.Pointer(&w.endSync))
	// Under the token handoff the real goroutine stays alive until the run
	// is unwound (see retire); coroutines need no such care.
	g.retired = !w.coro
	if next := w.next(g); next != nil {
		w.handOff(next)
	}
	if g.retired {
		g.retire()
	}
}

// retire keeps a finished goroutine's real goroutine alive until the run is
// unwound. The race detector recycles the slots of goroutines that exited,
// and a recycled slot can make an access of a goroutine that exited look
// ordered before a later one that races with it: with many short-lived
// goroutines, races were missed, or reported by some processes and not by
// others for the same schedule. Goroutines that stay alive keep their
// history.
//
//go:norace
func (g *goroutine) retire() {
	for tokenLoad(&g.run) != tokenGo {
		if tokenCAS(&g.run, tokenWait, tokenAsleep) {
			raceDisable()
			<-g.wake
			raceEnable()
		}
	}
	g.w.unwound <- struct{}{}
}

// The token's states. A goroutine waits for tokenGo by spinning a little
// (handoffs are usually quick) and then sleeps on its wake channel, having
// said so with tokenAsleep; whoever hands it the token then also wakes it.
// The channel operations run with the race detector's synchronisation
// handling off, so they add no happens-before edge either.
const (
	tokenWait   = 0
	tokenGo     = 1
	tokenAsleep = 2
	spinLimit   = 4
)

// handOff lets g run.
//
//go:norace
func (w *world) handOff(g *goroutine) {
	w.current = g
	if w.coro {
		w.resume = g
		return
	}
	if tokenSwap(&g.run, tokenGo) == tokenAsleep {
		raceDisable()
		g.wake <- struct{}{}
		raceEnable()
	}
}

// park waits until this goroutine holds the token. A goroutine killed while
// parked exits from here.
//
//go:norace
func (g *goroutine) park() {
	if g.w.coro {
		g.yield(struct{}{})
		g.exitIfKilled()
		return
	}
	for i := 0; tokenLoad(&g.run) != tokenGo; i++ {
		if i < spinLimit {
			runtime.Gosched()
		} else if tokenCAS(&g.run, tokenWait, tokenAsleep) {
			raceDisable()
			<-g.wake
			raceEnable()
		}
	}
	tokenStore(&g.run, tokenWait)
	g.exitIfKilled()
}

// exitIfKilled ends a goroutine that was just woken to be unwound.
//
//go:norace
func (g *goroutine) exitIfKilled() {
	if g.killed {
		raceAcquire(unsafe.Pointer(&g.w.endSync))
		runtime.Goexit()
	}
}

// enter is how every primitive starts in deterministic mode: it returns the
// running goroutine, or exits the calling goroutine if it is being unwound.
//
//go:norace
func (w *world) enter() *goroutine {
	g := w.current
	if g.killed {
		runtime.Goexit()
	}
	return g
}

// yield is a scheduling point at which g stays runnable.
//
//go:norace
func (w *world) yield(g *goroutine, pc uintptr) {
	g.pc = pc
	w.reschedule(g)
}

// block makes g wait, at a scheduling point, until ready(g). The caller has
// already put g on whatever wait list will wake it.
//
//go:norace
func (w *world) block(g *goroutine, reason string, pc uintptr) {
	g.state = gBlocked
	g.reason = reason
	g.blockPC = pc
	g.pc = pc
	w.removeRunnable(g)
	w.record(g, EvBlock, pc, reason)
	w.reschedule(g)
}

// ready makes a blocked goroutine runnable again.
//
//go:norace
func (w *world) ready(g *goroutine) {
	if g.state != gBlocked {
		return
	}
	g.state = gRunnable
	g.reason = ""
	w.addRunnable(g)
}

//go:norace
func (w *world) reschedule(g *goroutine) {
	next := w.next(g)
	if next == g {
		return
	}
	raceReleaseMerge(unsafe.Pointer(&w.endSync))
	if next != nil {
		w.handOff(next)
	}
	g.park()
}

// next advances the World to its next scheduling decision: it fires timers
// when nothing is runnable, detects the end of the run, and otherwise asks
// the strategy. It returns nil when the run has ended.
//
//go:norace
func (w *world) next(cur *goroutine) *goroutine {
	for {
		if w.ended {
			return nil
		}
		if len(w.runq) == 0 {
			if !w.advanceClock() {
				w.end()
				return nil
			}
			continue
		}
		w.step++
		if w.step > w.maxSteps {
			w.fail(StepLimit, fmt.Sprintf("the run reached %d scheduling points", w.maxSteps), nil, "")
			w.end()
			return nil
		}
		chosen := w.runq[0]
		if len(w.runq) > 1 {
			i := w.strategy.pick(w.runq, cur)
			if i < 0 || i >= len(w.runq) {
				i = 0
			}
			chosen = w.runq[i]
			w.schedule.add(chosen.id)
			if chosen != cur && cur.state == gRunnable {
				w.preemptions++
			}
		}
		w.record(chosen, EvRun, chosen.pc, "")
		return chosen
	}
}

// end decides how a run that can go no further ended, and wakes Run.
//
//go:norace
func (w *world) end() {
	if w.ended {
		return
	}
	w.ended = true
	if len(w.failures) == 0 {
		var live []*goroutine
		for _, g := range w.all {
			if !g.system && (g.state == gBlocked || g.state == gRunnable) {
				live = append(live, g)
			}
		}
		switch {
		case len(live) == 0:
		case w.mainDone:
			w.fail(Leak, fmt.Sprintf("%d goroutine(s) still alive after main returned and the clock drained", len(live)), live, "")
		default:
			w.fail(Deadlock, "every goroutine is blocked and no timer is pending", live, "")
		}
	}
	if !w.coro { // with coroutines the driver wakes Run once it stops
		close(w.endCh)
	}
}

//go:norace
func (w *world) fail(kind Kind, msg string, gs []*goroutine, stack string) {
	if len(gs) > 0 && w.sites == nil {
		w.sites = blockedSites()
	}
	f := Failure{Kind: kind, Message: msg, Stack: stack, Step: w.step, Time: w.now}
	for _, g := range gs {
		f.Goroutines = append(f.Goroutines, g.describe())
	}
	w.failures = append(w.failures, f)
}

//go:norace
func (g *goroutine) setGoid(id int64) { g.goid = id }

//go:norace
func (g *goroutine) describe() (s GoroutineState) {
	s = GoroutineState{ID: g.id, CreatedAt: siteOf(g.createPC)}
	defer func() {
		if s.BlockedAt == "" && g.w.sites != nil {
			s.BlockedAt = g.w.sites[g.goid]
		}
	}()
	if g.node != nil {
		s.Node = g.node.name
	}
	switch g.state {
	case gRunnable:
		s.State = "runnable"
		s.BlockedAt = siteOf(g.pc)
	case gBlocked:
		s.State = g.reason
		s.BlockedAt = siteOf(g.blockPC)
	case gDone:
		s.State = "done"
	case gDead:
		s.State = "dead"
	}
	return s
}

//go:norace
func (w *world) addRunnable(g *goroutine) {
	i := 0
	for i < len(w.runq) && w.runq[i].id < g.id {
		i++
	}
	if i < len(w.runq) && w.runq[i] == g {
		return
	}
	w.runq = append(w.runq, nil)
	for j := len(w.runq) - 1; j > i; j-- {
		w.runq[j] = w.runq[j-1]
	}
	w.runq[i] = g
}

//go:norace
func (w *world) removeRunnable(g *goroutine) {
	for i, h := range w.runq {
		if h == g {
			for j := i; j < len(w.runq)-1; j++ {
				w.runq[j] = w.runq[j+1]
			}
			w.runq[len(w.runq)-1] = nil
			w.runq = w.runq[:len(w.runq)-1]
			return
		}
	}
}

// spawnerLoop is the World's system goroutine: it starts a fresh goroutine
// for each timer callback (AfterFunc, context deadlines). Started from Run's
// goroutine and synchronising with nothing, it gives those goroutines no
// happens-before edge from whichever goroutine happened to fire the timer.
func (w *world) spawnerLoop() {
	for {
		w.spawnCallbacks()
		w.waitForCallbacks()
	}
}

// callback is a timer function waiting for its goroutine; sync carries the
// history of the goroutine that armed the timer.
type callback struct {
	f    func()
	sync *uint64
	node *Node // the node that armed the timer: the goroutine belongs to it
}

func (cb callback) run() {
	raceAcquire(unsafe.Pointer(cb.sync))
	cb.f()
}

//go:norace
func (w *world) spawnCallbacks() {
	for _, cb := range w.callbacks {
		g := w.spawn(w.spawner, cb.run, 0)
		g.node = cb.node
	}
	w.callbacks = nil
}

//go:norace
func (w *world) waitForCallbacks() {
	g := w.enter()
	w.block(g, "timer callbacks", 0)
}

//go:norace
func (w *world) queueCallback(f func(), sync *uint64, node *Node) {
	w.callbacks = append(w.callbacks, callback{f: f, sync: sync, node: node})
	w.ready(w.spawner)
}

// callerPC returns the program counter of a caller: skip 1 is the function
// that calls callerPC, 2 its caller, and so on.
func callerPC(skip int) uintptr {
	var pcs [1]uintptr
	if runtime.Callers(skip+1, pcs[:]) == 0 {
		return 0
	}
	return pcs[0]
}

// sitePC returns, when the World keeps a trace, the program counter of the
// user's call to the primitive that calls sitePC; otherwise 0. Capturing a
// site costs more than a scheduling point, so failure reports find their
// sites from a stack dump instead (see blockedSites).
func (w *world) sitePC() uintptr {
	if !w.opts.Trace {
		return 0
	}
	return callerPC(3)
}

// siteOf renders a program counter from callerPC as file:line.
func siteOf(pc uintptr) string {
	if pc == 0 {
		return ""
	}
	frame, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	if frame.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", trimPath(frame.File), frame.Line)
}

// trimPath keeps the last two elements of a source path: enough to find it.
func trimPath(file string) string {
	i := strings.LastIndexByte(file, '/')
	if i < 0 {
		return file
	}
	if j := strings.LastIndexByte(file[:i], '/'); j >= 0 {
		return file[j+1:]
	}
	return file
}
