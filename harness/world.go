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
	// Seed decides every choice of the run: the schedule, select's choices
	// among ready cases, the values IntN and Float64 return, and (with
	// Jittered) the timers' jitter.
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
	// reaching a scheduling point before the run fails as Stuck. In Real
	// mode it is how long a run may go without any goroutine of the World
	// calling a primitive, every one of them blocked and no timer pending,
	// before it fails as a Deadlock. Zero means 10 seconds.
	Watchdog time.Duration
	// Drain is how much time the World waits, after main returns, for its
	// goroutines to finish: in deterministic mode the virtual time it keeps
	// firing timers (zero means 10 seconds), in Real mode wall-clock time
	// (zero means 1 second). Goroutines still alive after that are leaks.
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
	// Seed and Strategy are the run's inputs, for the report: the same
	// seed with the same strategy (Strategy names it, parameters included)
	// gives the same run.
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
	// Schedule lists the run's decisions: at every scheduling point where a
	// timer could fire, ClockFire or ClockWait, and at every one where more
	// than one goroutine could run (and the clock waited), the goroutine
	// chosen. Replay(Seed, Schedule) reproduces the run.
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
// describes them all, headed by what replays the run: its seed and strategy.
func (r *Result) Err() error {
	if len(r.Failures) == 0 {
		return nil
	}
	msgs := make([]string, len(r.Failures))
	for i, f := range r.Failures {
		msgs[i] = f.String()
	}
	return fmt.Errorf("seed %d, strategy %s: %s", r.Seed, r.Strategy, strings.Join(msgs, "\n"))
}

// Kind classifies what went wrong in a run. It is the one name for every
// kind of violation heddle reports: the runtime detects the kinds declared
// here, package checkers adds the kinds its checks find (NotLinearizable,
// Timeliness, Invariant), and the explorer and the heddle command speak of
// both with this type. Its value is the kind's name.
type Kind string

const (
	// Deadlock: every goroutine is blocked and no timer is pending, while
	// main has not returned. In Real mode: for Options.Watchdog no goroutine
	// of the World called a primitive, every one of them is blocked and no
	// timer the World armed is pending.
	Deadlock Kind = "Deadlock"
	// Leak: goroutines still alive after main returned and the World
	// drained (Options.Drain).
	Leak Kind = "Leak"
	// Panic: a goroutine of the World panicked.
	Panic Kind = "Panic"
	// StepLimit: the run reached Options.MaxSteps (a livelock, or a run far
	// longer than expected). The failure lists every goroutine with the
	// number of steps it took.
	StepLimit Kind = "StepLimit"
	// Stuck: a goroutine ran for Options.Watchdog of wall-clock time without
	// reaching a scheduling point (a busy loop, or a block outside heddle);
	// a goroutine started with a plain go statement ran heddle code inside
	// a deterministic World; or the run could not start at all (another
	// World is running, or an earlier one left goroutines behind).
	Stuck Kind = "Stuck"
	// DataRace: the race detector reported two unsynchronised accesses.
	// The report itself is on standard error; under -race, Run adds a
	// DataRace failure to its Result when the race detector's count of
	// reports grew during the run (a race it reported once before in the
	// process is not reported again, so a sweep that attributes races to
	// seeds runs each exploration in a fresh process).
	DataRace Kind = "DataRace"
	// Diverged: a run following a schedule (Replay) could not: the
	// schedule named a goroutine that was not runnable, or the clock when
	// no timer could fire, or it ended before the run did, or the run ended
	// before it. The program (or its fault plan) is no longer the one that
	// recorded the schedule. The message says where: "schedule diverged at
	// step N: wanted g99, runnable g1 g3".
	Diverged Kind = "Diverged"
)

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// Failure is one problem found during a run.
type Failure struct {
	Kind    Kind
	Message string
	// Goroutines involved: the blocked ones of a deadlock, the leaked ones,
	// the panicking or stuck one, every live one at a step limit.
	Goroutines []GoroutineState
	// Site is the file:line of the program's own code where a Panic was
	// raised (the innermost frame that is neither Go's runtime nor heddle).
	Site string
	// Stack is the panicking goroutine's stack, for a Panic, with the
	// frames of the runtime's panic machinery and of heddle trimmed.
	Stack string
	// Step and Time locate the failure in the run.
	Step int
	Time time.Duration
}

func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at step %d (virtual time %v): %s", f.Kind, f.Step, f.Time, f.Message)
	if f.Site != "" {
		fmt.Fprintf(&b, " (at %s)", f.Site)
	}
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
	CreatedAt string // file:line of the Go call (or go statement) that started it
	// HeldBy lists, for a goroutine blocked on a Mutex or RWMutex, the
	// goroutines holding it.
	HeldBy []int
	// Steps is how many times the scheduler ran it.
	Steps int
}

func (g GoroutineState) String() string {
	s := fmt.Sprintf("goroutine %d", g.ID)
	if g.Node != "" {
		s += " on node " + g.Node
	}
	state := g.State
	if len(g.HeldBy) > 0 {
		ids := make([]string, len(g.HeldBy))
		for i, id := range g.HeldBy {
			ids[i] = fmt.Sprint(id)
		}
		state += ", held by goroutine " + strings.Join(ids, ", ")
	}
	s += " [" + state + "]"
	if g.BlockedAt != "" {
		s += " at " + g.BlockedAt
	}
	if g.CreatedAt != "" {
		s += ", created at " + g.CreatedAt
	}
	if g.Steps > 0 {
		s += fmt.Sprintf(", %d steps", g.Steps)
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
	// Happens-before words of the unbuffered channel operation it is
	// blocked in: mine is released when it blocks, theirs by whoever
	// completes the operation.
	mine, theirs uint64
	id           int
	w            *world
	state        gState
	running      bool // it holds control: between taking the token and handing it on
	polls        int  // polls (Yield, a select default, ...) since it last blocked or communicated
	// What those polls looked at (see polled), up to maxPollKeys, and
	// whether one of them came round again: the goroutine spins.
	pollKeys  [maxPollKeys]uintptr
	nPollKeys int
	spins     bool
	retired   bool // done, its real goroutine waiting to be unwound (see retire)
	killed    bool // being unwound at the end of the run
	system    bool // the World's own: never a leak or part of a deadlock
	isMain    bool
	node      *Node
	steps     int     // how many times the scheduler ran it
	reason    string  // what it is blocked on
	waitsFor  holder  // the lock it is blocked on, if any
	blockPC   uintptr // where it blocked
	createPC  uintptr // where it was started
	pc        uintptr // its latest scheduling point
}

// holder is a lock that can say who holds it, for deadlock reports.
type holder interface {
	holders() []*goroutine
}

// world is one run: its goroutines, scheduler, clock and trace. There is at
// most one active World per process; the primitives of this package consult
// it to decide how to behave.
type world struct {
	opts     Options
	strategy Strategy
	rand     *prng // the program's randomness: select, IntN, latencies
	maxSteps int
	jitter   *jittered // the strategy's timer jitter, if any
	replay   *replay   // the strategy, when it follows a schedule
	choice   choice    // the decision being made (reused)

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
	// advanceSeq is the timer sequence number when the clock last moved (or
	// fired with nothing runnable): timers armed up to then and due now
	// fire, by default, before any goroutine runs. earlyFired is set while
	// the latest decision fired a timer ahead of its default: the next one
	// must run a goroutine first, so the clock never runs away; earlyUsed
	// once a timer due later than now fired while goroutines were making
	// progress, until everything blocks again: once per such period.
	advanceSeq uint64
	earlyFired bool
	earlyUsed  bool

	mainDone   bool
	mainDoneAt time.Duration
	spawner    *goroutine
	callbacks  []callback

	failures []Failure
	ended    bool
	// endClaimed is set by the one call of end that ends the run: a stray
	// (a plain go statement calling into the World) can run scheduler code
	// at the same time as the goroutine it stands for, and the run must
	// still end once (see TestStrayRacingTheWorld).
	endClaimed atomic.Bool
	endCh      chan struct{}
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
	// (Run's caller, goroutines being unwound, the next World after Real
	// stragglers) acquires it.
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
	// filled from a stack dump when a failure report needs it; strayDump
	// is that dump's goroutines started by plain go statements.
	sites     map[int64]string
	strayDump []strayReport
	// runPC is where Run was called, for reports.
	runPC uintptr
	// strays are goroutines caught running heddle code without being
	// goroutines of the World (guarded by strayMu: they run concurrently).
	strayMu sync.Mutex
	strays  []strayReport

	// real is the state of a Real-mode run.
	real *realWorld

	// raceBase is the race detector's report count when the run began.
	raceBase int

	// observer runs Observe's functions under -race.
	observer observer
}

// strayReport is a goroutine that ran heddle code inside a World without
// having been started by Go.
type strayReport struct {
	goid   int64
	goSite string // the go statement that started it
	site   string // where it called into heddle
	call   string // the heddle call
}

// active is the one World whose primitives are in force, or nil. It is set
// and cleared under activeMu; the primitives read it without a lock.
var (
	active   *world
	activeMu sync.Mutex
	// lastReal is the latest Real World that outlived its Run: the next
	// World starts after its stragglers ended, and acquires their history.
	lastReal *world
)

// poisoned is set when a run was abandoned with a goroutine still running
// outside heddle's control; no further World can run safely in this process.
var poisoned string

// stragglerWait is how long a Run waits for the goroutines an earlier Real
// run left behind before it gives up (a variable for tests).
var stragglerWait = 3 * time.Second

//go:norace
func activeWorld() *world { return active }

// activate makes w the active World. An earlier Real World whose Run is over
// but whose goroutines are still alive stays active until they end: Run waits
// for them for up to stragglerWait.
func (w *world) activate() error {
	deadline := time.Now().Add(stragglerWait)
	for {
		prev, err := tryActivate(w)
		if err == nil {
			if prev != nil {
				// The stragglers' history happens before this World.
				raceAcquire(unsafe.Pointer(&prev.endSync))
			}
			return nil
		}
		if prev == nil || prev.real == nil || !prev.real.isOver() {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("an earlier Real run (harness.Run at %s) left goroutines running %v after it returned: %s",
				siteOf(prev.runPC), stragglerWait, prev.real.describeLive())
		}
		select {
		case <-prev.real.gone:
		case <-time.After(min(left, 10*time.Millisecond)):
		}
	}
}

// tryActivate makes w active if no World is; otherwise it returns the active
// one and an error. The lock is taken with the race detector's
// synchronisation handling off: Worlds that follow each other in a process
// are ordered by their own accounting, not by this lock.
//
//go:norace
func tryActivate(w *world) (prev *world, err error) {
	raceDisable()
	activeMu.Lock()
	defer func() {
		activeMu.Unlock()
		raceEnable()
	}()
	if poisoned != "" {
		return nil, fmt.Errorf("an earlier run was abandoned: %s", poisoned)
	}
	if a := active; a != nil {
		if a.real != nil && a.real.isOver() {
			return a, fmt.Errorf("an earlier Real run's goroutines are still running")
		}
		return a, fmt.Errorf("another World is already running in this process (harness.Run at %s): "+
			"heddle runs one World at a time; do not call Run from inside a World or from parallel tests (t.Parallel)", siteOf(a.runPC))
	}
	active = w
	prev, lastReal = lastReal, nil
	return prev, nil
}

//go:norace
func deactivate(w *world) {
	raceDisable()
	activeMu.Lock()
	if active == w {
		active = nil
		if w.real != nil && w.real.isOver() {
			lastReal = w
		}
	}
	activeMu.Unlock()
	raceEnable()
}

// epoch is the wall-clock time a deterministic World starts at: fixed, so that
// Now is part of what a seed reproduces.
var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// Run runs main in a new World and returns what happened. In Deterministic
// mode main and every goroutine it starts through Go run one at a time, as
// the strategy picks, on a virtual clock; the same options give the same run.
// In Real mode main and the goroutines it starts run as ordinary goroutines
// with the standard library's primitives; Run waits for them (Options.Drain)
// and reports those left behind as a Leak, a deadlock as a Deadlock, and a
// panic in any of them as a Panic.
//
// Run synchronises with its caller: starting the World happens before main
// runs, and everything the World's goroutines did happens before Run returns.
// Only one World runs at a time in a process: Run reports a second one (from
// inside a World, or from a parallel test) as a failed Result without
// running it.
func Run(opts Options, main func()) *Result {
	w := newWorld(opts)
	w.runPC = callerPC(2)
	res := &Result{Seed: opts.Seed, Strategy: w.strategy.String()}
	if r := w.replay; r != nil && r.seed != opts.Seed {
		res.Failures = []Failure{{Kind: Diverged, Message: fmt.Sprintf("schedule diverged at step 0: "+
			"the schedule is a run of seed %d, replayed with Options.Seed %d", r.seed, opts.Seed)}}
		return res
	}
	if err := w.activate(); err != nil {
		res.Failures = []Failure{{Kind: Stuck, Message: "harness.Run: " + err.Error()}}
		return res
	}
	w.raceBase = raceErrors()
	if opts.Mode == Real {
		w.runReal(main)
	} else {
		// Deactivate even if something below exits the goroutine.
		defer deactivate(w)
		w.runDeterministic(main)
	}
	w.observer.stop()
	w.checkRaces()
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
		if opts.Mode == Real {
			w.opts.Drain = time.Second
		}
	}
	w.rand = newPRNG(opts.Seed, 1)
	w.strategy.begin(opts.Seed)
	w.jitter, w.replay = unwrapStrategy(w.strategy)
	w.hash = newTraceHash()
	w.coro = coroutineHandoff && (!raceEnabled || coroutineUnderRace)
	return w
}

// checkRaces adds a DataRace failure when the race detector reported races
// during the run.
func (w *world) checkRaces() {
	n := raceErrors() - w.raceBase
	if n <= 0 {
		return
	}
	msg := fmt.Sprintf("the race detector reported %d data race(s) during this run (its report is on standard error, "+
		"just before this run ended)", n)
	w.addFailure(Failure{Kind: DataRace, Message: msg, Step: w.step, Time: w.now})
}

// addFailure records a failure found outside the scheduler (Run's goroutine,
// or any goroutine of a Real World).
//
//go:norace
func (w *world) addFailure(f Failure) {
	if w.real != nil {
		w.real.lock()
		defer w.real.unlock()
	}
	w.failures = append(w.failures, f)
}

func (w *world) runDeterministic(main func()) {
	w.endCh = make(chan struct{})
	w.unwound = make(chan struct{}, 1)
	// Both goroutines are started from Run's goroutine, so they begin with
	// its history only: no edge from any World goroutine reaches them.
	w.spawner = w.spawn(nil, w.spawnerLoop, 0)
	w.spawner.system = true
	w.spawner.state = gBlocked
	w.spawner.reason = "timer callbacks"
	w.removeRunnable(w.spawner)
	g := w.spawn(nil, main, w.runPC)
	g.isMain = true
	w.begin(g)
	w.waitForEnd()
	raceAcquire(unsafe.Pointer(&w.endSync))
	w.unwindAll()
	w.reportStrays()
	w.checkReplayEnd()
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
	msg := w.stuckMessage(g.id, g.goid)
	w.fail(Stuck, msg, []*goroutine{g}, "")
	poisoned = msg
	w.ended = true
}

// unwindAll ends every goroutine still parked, one at a time: each wakes,
// sees it was killed and exits through runtime.Goexit, running its defers
// with heddle's primitives disabled.
//
// A goroutine that does not come back (all of them within Options.Watchdog) had its place
// taken by a goroutine the World never started (a plain go statement that
// called into heddle while it ran): the run fails as Stuck and, since a
// goroutine is then stuck somewhere in heddle, the process is poisoned.
func (w *world) unwindAll() {
	gs := w.goroutinesToUnwind()
	if len(gs) == 0 {
		return
	}
	limit := time.NewTimer(w.opts.Watchdog)
	defer limit.Stop()
	for _, g := range gs {
		var done <-chan struct{}
		if w.coro {
			done = w.unwindCoroutine(g)
		} else {
			raceReleaseMerge(unsafe.Pointer(&w.endSync))
			w.wake(g)
			done = w.unwound
		}
		select {
		case <-done:
		case <-limit.C:
			w.unwindFailed(g)
			return
		}
	}
}

//go:norace
func (w *world) unwindFailed(g *goroutine) {
	msg := fmt.Sprintf("goroutine %d did not end, %v after the run began to unwind: a goroutine started by a plain go "+
		"statement probably took its place in the scheduler; start every goroutine of a World with harness.Go", g.id, w.opts.Watchdog)
	w.failures = append(w.failures, Failure{Kind: Stuck, Message: msg, Step: w.step, Time: w.now})
	poisoned = msg
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
	if w.real != nil {
		w.real.lock()
		defer w.real.unlock()
	}
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
	if w.real != nil {
		res.Goroutines = w.real.started
		res.Elapsed = w.real.elapsed
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
	g.running = false
	if g.killed {
		if !w.coro {
			w.unwound <- struct{}{}
		}
		return
	}
	if r != nil {
		w.record(g, EvPanic, 0, fmt.Sprint(r))
		stack, site := trimStack(string(debug.Stack()))
		w.failPanic(fmt.Sprintf("goroutine %d panicked: %v", g.id, r), g, stack, site)
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
	g.running = false
	if g.w.coro {
		g.yield(struct{}{})
		g.running = true
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
	g.running = true
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
// A caller that is not the running goroutine of the World (a goroutine
// started with a plain go statement) is caught here when it can be: it is
// recorded as a stray and ended.
//
//go:norace
func (w *world) enter() *goroutine {
	g := w.current
	if g.killed && g.running {
		runtime.Goexit() // g is being unwound
	}
	if !g.running || w.ended {
		w.stray()
	}
	return g
}

// stray records the calling goroutine, which runs heddle code inside the World
// without being one of its goroutines, and ends it.
func (w *world) stray() {
	goSite, site, call := strayOrigin(string(debug.Stack()))
	w.strayMu.Lock()
	w.strays = append(w.strays, strayReport{goid: currentGoid(), goSite: goSite, site: site, call: call})
	w.strayMu.Unlock()
	runtime.Goexit()
}

// reportStrays turns the goroutines caught running heddle code outside the
// World into a Stuck failure, which replaces the Deadlock or Leak they
// caused: those name the wrong goroutine.
func (w *world) reportStrays() {
	w.strayMu.Lock()
	strays := append(append([]strayReport(nil), w.strays...), w.strayDump...)
	w.strayMu.Unlock()
	if len(strays) == 0 {
		return
	}
	var b strings.Builder
	seen := map[int64]bool{}
	n := 0
	for _, s := range strays {
		if seen[s.goid] {
			continue
		}
		seen[s.goid] = true
		n++
		fmt.Fprintf(&b, "\n  goroutine started by a plain go statement at %s", orUnknown(s.goSite))
		if s.call != "" {
			fmt.Fprintf(&b, " called %s", s.call)
		}
		if s.site != "" {
			fmt.Fprintf(&b, " at %s", s.site)
		}
	}
	msg := fmt.Sprintf("%d goroutine(s) started with a plain go statement ran heddle code inside the World, "+
		"outside its scheduler: start every goroutine of a World with harness.Go%s", n, b.String())
	w.replaceSymptoms(Failure{Kind: Stuck, Message: msg, Step: w.step, Time: w.now})
}

// replaceSymptoms puts f first and removes the Deadlock and Leak failures
// that stray goroutines cause (the World waits for work a stray was meant
// to do).
//
//go:norace
func (w *world) replaceSymptoms(f Failure) {
	out := []Failure{f}
	for _, x := range w.failures {
		if x.Kind != Deadlock && x.Kind != Leak {
			out = append(out, x)
		}
	}
	w.failures = out
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown site)"
	}
	return s
}

// yield is a scheduling point at which g stays runnable.
//
//go:norace
func (w *world) yield(g *goroutine, pc uintptr) {
	g.pc = pc
	w.reschedule(g)
}

// poll is a scheduling point at which g stays runnable and makes no
// progress: a goroutine that keeps polling is spinning (see next).
//
//go:norace
func (w *world) poll(g *goroutine, pc uintptr) {
	g.pc = pc
	g.polled(pollYield)
	w.reschedule(g)
}

// Spinning. A goroutine polls when it yields (Yield, Poll, Sleep(0)), takes
// the default case of a Select or fails a TryLock; it makes progress when it
// blocks, communicates (a channel operation completes, it starts a
// goroutine, a network call) or says so (Progress). Locking and unlocking a
// free mutex is neither: a loop that checks a flag under a lock and yields
// spins. A goroutine spins once it polls again what it polled since it last
// made progress (the same channels in a Select with a default, the same
// mutex in a TryLock; any Yield or Poll is the same as any other: they say
// the goroutine waits), or once it polled more than maxPollKeys things.
// When every runnable goroutine spins, the clock may move to the next timer
// however far (see clockOption), and PCT lowers the priority of a goroutine
// that polls. Polls of different things are no spin: code that tries two
// channels without waiting and goes on with its work is not waiting for time
// to pass, and the clock must not jump under it.
const maxPollKeys = 8

// pollYield is the key of a Yield, Poll or Sleep(0).
const pollYield uintptr = 1

// polled records that g polled key: what it looked at (see Spinning).
//
//go:norace
func (g *goroutine) polled(key uintptr) {
	g.polls++
	if g.spins {
		return
	}
	for _, k := range g.pollKeys[:g.nPollKeys] {
		if k == key {
			g.spins = true
			return
		}
	}
	if g.nPollKeys == maxPollKeys {
		g.spins = true
		return
	}
	g.pollKeys[g.nPollKeys] = key
	g.nPollKeys++
}

// progress records that g made progress.
//
//go:norace
func (g *goroutine) progress() {
	g.polls = 0
	g.nPollKeys = 0
	g.spins = false
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
	g.progress()
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
	g.waitsFor = nil
	w.addRunnable(g)
}

//go:norace
func (w *world) reschedule(g *goroutine) {
	next := w.next(g)
	if next == g {
		return
	}
	raceReleaseMerge(unsafe.Pointer(&w.endSync))
	g.running = false
	if next != nil {
		w.handOff(next)
	}
	g.park()
}

// earlyHorizon is how far ahead of the clock a timer may be fired while
// goroutines are runnable and making progress: time passes while they run,
// but not much.
const earlyHorizon = time.Millisecond

// next advances the World to its next scheduling decision: it fires timers
// when nothing is runnable (or when the strategy chooses to), detects the end
// of the run, and otherwise asks the strategy. It returns nil when the run has
// ended.
//
//go:norace
func (w *world) next(cur *goroutine) *goroutine {
	for {
		if w.ended {
			return nil
		}
		if len(w.runq) == 0 {
			if !w.fireIdle() {
				w.end()
				return nil
			}
			continue
		}
		if w.step >= w.maxSteps {
			w.step++
			w.failStepLimit()
			w.end()
			return nil
		}
		chosen := w.runq[0]
		c := &w.choice
		c.clock = clockNone
		if len(w.timers) > 0 {
			c.clock, c.fireByDefault = w.clockOption(cur)
		}
		if c.clock != clockNone || len(w.runq) > 1 {
			c.runnable, c.cur, c.diverged = w.runq, cur, ""
			i := w.strategy.pick(c)
			c.runnable, c.cur = nil, nil
			if c.diverged != "" {
				w.diverge(c.diverged, c.clock != clockNone)
				return nil
			}
			if c.clock != clockNone {
				if i == pickClock {
					w.schedule.add(ClockFire)
					w.fireChosen(c.clock, c.fireByDefault)
					continue
				}
				w.schedule.add(ClockWait)
			}
			if i < 0 || i >= len(w.runq) {
				i = 0
			}
			chosen = w.runq[i]
			if len(w.runq) > 1 {
				w.schedule.add(chosen.id)
				if chosen != cur && cur.state == gRunnable {
					w.preemptions++
				}
			}
		}
		w.step++
		w.earlyFired = false
		chosen.steps++
		w.record(chosen, EvRun, chosen.pc, "")
		return chosen
	}
}

// clockOption says whether firing the next timer is a choice at this point,
// and what it costs: a timer due now (firing it costs no time), one due
// within earlyHorizon (once between two moments when everything blocked), or,
// while every runnable goroutine is polling without progress, the next timer
// however far. fireByDefault is the choice a replay
// takes where its schedule says nothing: timers that were due when the clock
// moved fire before goroutines run; any other fires only when nothing can run.
//
//go:norace
func (w *world) clockOption(cur *goroutine) (kind clockKind, fireByDefault bool) {
	if len(w.timers) == 0 {
		return clockNone, false
	}
	t := w.timers[0]
	if w.mainDone && t.when > w.mainDoneAt+w.opts.Drain {
		return clockNone, false
	}
	if t.when <= w.now {
		return clockDue, t.seq <= w.advanceSeq
	}
	if w.earlyFired {
		return clockNone, false
	}
	if t.when-w.now <= earlyHorizon && !w.earlyUsed {
		return clockEarly, false
	}
	if cur.spins && w.spinning() {
		return clockSpin, false
	}
	return clockNone, false
}

// spinning reports whether every runnable goroutine's latest scheduling
// point made no progress: nothing but the clock can change what they see.
//
//go:norace
func (w *world) spinning() bool {
	for _, g := range w.runq {
		if !g.spins {
			return false
		}
	}
	return true
}

// fireIdle fires the next timer when nothing is runnable, moving the clock
// to it. It reports false when there is nothing to fire: no timer, or main
// has returned and the drain period is over.
//
//go:norace
func (w *world) fireIdle() bool {
	if len(w.timers) == 0 {
		return false
	}
	t := w.timers[0]
	if w.mainDone && t.when > w.mainDoneAt+w.opts.Drain {
		return false
	}
	// Every timer pending and due at the new instant fires, by default,
	// before the goroutines it wakes run.
	w.advanceSeq = w.timerSeq
	w.earlyUsed = false
	w.fireNext()
	return true
}

// fireChosen fires the next timer because the strategy chose the clock.
//
//go:norace
func (w *world) fireChosen(kind clockKind, byDefault bool) {
	if !byDefault {
		w.earlyFired = true
	}
	if kind == clockEarly {
		w.earlyUsed = true
	}
	if w.timers[0].when > w.now {
		w.advanceSeq = w.timerSeq
	}
	w.fireNext()
}

//go:norace
func (w *world) fireNext() {
	t := w.timers[0]
	if t.when > w.now {
		w.now = t.when
	}
	w.removeTimer(t)
	w.fire(t)
}

// diverge ends a run whose replayed schedule no longer fits it.
//
//go:norace
func (w *world) diverge(what string, clock bool) {
	runnable := goroutineIDs(w.runq)
	if clock {
		runnable += " and the clock"
	}
	w.fail(Diverged, fmt.Sprintf("schedule diverged at step %d: %s, runnable %s", w.step+1, what, runnable), nil, "")
	w.end()
}

// checkReplayEnd reports a replay that ended before its schedule did.
//
//go:norace
func (w *world) checkReplayEnd() {
	r := w.replay
	if r == nil || !r.strict || r.i >= len(r.schedule) || w.stuck || w.hasFailure(Diverged) {
		return
	}
	w.failures = append(w.failures, Failure{Kind: Diverged, Step: w.step, Time: w.now,
		Message: fmt.Sprintf("schedule diverged at step %d: the run ended after %d of the schedule's %d choices", w.step, r.i, len(r.schedule))})
}

//go:norace
func (w *world) hasFailure(k Kind) bool {
	for _, f := range w.failures {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// failStepLimit reports a run that reached MaxSteps, with every live
// goroutine, where it stands and how many steps it took: one goroutine with
// most of the steps spins (a livelock, or starvation of the others).
//
//go:norace
func (w *world) failStepLimit() {
	var live []*goroutine
	for _, g := range w.all {
		if !g.system && (g.state == gRunnable || g.state == gBlocked) {
			live = append(live, g)
		}
	}
	w.fail(StepLimit, fmt.Sprintf("the run reached %d scheduling points", w.maxSteps), live, "")
}

// end decides how a run that can go no further ended, and wakes Run.
//
//go:norace
func (w *world) end() {
	if w.ended || !w.endClaimed.CompareAndSwap(false, true) {
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
		w.takeSites()
	}
	f := Failure{Kind: kind, Message: msg, Stack: stack, Step: w.step, Time: w.now}
	for _, g := range gs {
		f.Goroutines = append(f.Goroutines, g.describe())
	}
	w.failures = append(w.failures, f)
}

//go:norace
func (w *world) failPanic(msg string, g *goroutine, stack, site string) {
	w.fail(Panic, msg, []*goroutine{g}, stack)
	f := &w.failures[len(w.failures)-1]
	f.Site = site
	if site != "" && len(f.Goroutines) == 1 {
		f.Goroutines[0].BlockedAt = site
	}
}

// takeSites dumps every goroutine's stack for a failure report: where each
// goroutine of the World stands, and which goroutines started by plain go
// statements (not goroutines of the World) run heddle code.
func (w *world) takeSites() {
	world := map[int64]bool{}
	for _, g := range w.all {
		if g.goid != 0 {
			world[g.goid] = true
		}
	}
	w.setSites(blockedSites(world))
}

// setSites keeps a dump's findings. It is called by whichever goroutine
// fails the run first, which, when the run is abandoned, may run beside
// another.
//
//go:norace
func (w *world) setSites(sites map[int64]string, strays []strayReport) {
	w.sites, w.strayDump = sites, strays
}

//go:norace
func (g *goroutine) setGoid(id int64) { g.goid = id }

//go:norace
func (g *goroutine) describe() (s GoroutineState) {
	s = GoroutineState{ID: g.id, CreatedAt: siteOf(g.createPC), Steps: g.steps}
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
		if g.waitsFor != nil {
			for _, h := range g.waitsFor.holders() {
				s.HeldBy = append(s.HeldBy, h.id)
			}
		}
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
// user's call to the primitive that calls sitePC (past heddle's drop-in
// packages, see programPC); otherwise 0. Capturing a site costs more than a
// scheduling point, so failure reports find their sites from a stack dump
// instead (see blockedSites).
func (w *world) sitePC() uintptr {
	if !w.opts.Trace {
		return 0
	}
	return programPC(3)
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
