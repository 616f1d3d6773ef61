package harness

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Real mode.
//
// A Real World runs main and the goroutines started through Go as ordinary
// goroutines. It keeps its own accounting, since nothing schedules them: every
// goroutine started through Go (Node.Go, WaitGroup.Go, timer callbacks) is
// counted while it runs, so Run can wait for them after main returns (a
// bounded drain, Options.Drain) and report those still running as a Leak; a
// panic in one of them is recovered and reported as a Panic instead of
// crashing the process; and Run's goroutine watches the run (Options.Watchdog)
// for a deadlock: no primitive called, every goroutine of the World blocked
// and no timer pending.
//
// A goroutine belongs to the World that started it for its whole life: a
// Real World stays the active one, after Run returned, until its last
// goroutine ends, so stragglers keep seeing their own World (real
// primitives), never the next one. A later Run waits for them (up to
// stragglerWait) and otherwise fails, naming them.
//
// The accounting takes a real lock, with the race detector's synchronisation
// handling off around it: it must not order the program's goroutines with
// each other. What the goroutines did reaches Run's caller through endSync,
// released by each goroutine as it ends.

type realWorld struct {
	mu      sync.Mutex
	gs      []*realG // the live goroutines
	nextID  int
	started int
	over    bool          // Run has returned (or is about to)
	gone    chan struct{} // closed when the World is over and its last goroutine ended
	start   time.Time
	elapsed time.Duration
	// progress counts primitive calls, without synchronisation (a hint
	// that the run moves); horizon is the latest deadline (wall-clock
	// nanoseconds since start) of a timer the World armed, and tickers the
	// number of its live tickers: a run waiting for them is no deadlock.
	progress uint64
	horizon  atomic.Int64
	tickers  atomic.Int64
}

// realG is one goroutine of a Real World.
type realG struct {
	id       int
	goid     int64
	createPC uintptr
	isMain   bool
}

//go:norace
func (rw *realWorld) lock() {
	raceDisable()
	rw.mu.Lock()
}

//go:norace
func (rw *realWorld) unlock() {
	rw.mu.Unlock()
	raceEnable()
}

//go:norace
func (rw *realWorld) add(pc uintptr, isMain bool) *realG {
	rw.lock()
	defer rw.unlock()
	rw.nextID++
	rw.started++
	g := &realG{id: rw.nextID, createPC: pc, isMain: isMain}
	rw.gs = append(rw.gs, g)
	return g
}

//go:norace
func (rw *realWorld) setGoid(g *realG, goid int64) {
	rw.lock()
	g.goid = goid
	rw.unlock()
}

// remove ends g's accounting; it reports whether g was the last goroutine of
// a World that is over.
//
//go:norace
func (rw *realWorld) remove(g *realG) (last bool) {
	rw.lock()
	defer rw.unlock()
	for i, h := range rw.gs {
		if h == g { // shift by hand: copy() is reported to the race detector even here
			for j := i; j < len(rw.gs)-1; j++ {
				rw.gs[j] = rw.gs[j+1]
			}
			rw.gs[len(rw.gs)-1] = nil
			rw.gs = rw.gs[:len(rw.gs)-1]
			break
		}
	}
	if rw.over && len(rw.gs) == 0 {
		close(rw.gone)
		return true
	}
	return false
}

//go:norace
func (rw *realWorld) live() []realG {
	rw.lock()
	defer rw.unlock()
	out := make([]realG, 0, len(rw.gs))
	for _, g := range rw.gs {
		out = append(out, *g)
	}
	return out
}

//go:norace
func (rw *realWorld) isOver() bool {
	rw.lock()
	defer rw.unlock()
	return rw.over
}

// finish marks the World over; it reports whether no goroutine of it is left.
//
//go:norace
func (rw *realWorld) finish() (empty bool) {
	rw.lock()
	defer rw.unlock()
	rw.over = true
	if len(rw.gs) == 0 {
		close(rw.gone)
		return true
	}
	return false
}

//go:norace
func (rw *realWorld) loadProgress() uint64 { return rw.progress }

// describeLive lists the World's live goroutines with where they stand.
func (rw *realWorld) describeLive() string {
	states := goroutineStates()
	var b strings.Builder
	for i, g := range rw.live() {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(g.state(states).String())
	}
	return b.String()
}

func (g realG) state(states map[int64]dumpedGoroutine) GoroutineState {
	s := GoroutineState{ID: g.id, CreatedAt: siteOf(g.createPC), State: "not started"}
	if d, ok := states[g.goid]; ok {
		s.State, s.BlockedAt = d.state, d.site
	}
	if g.isMain {
		s.State = "main, " + s.State
	}
	return s
}

// runReal runs main on a goroutine of the World and waits for it, watching
// for a deadlock, and then for the goroutines it started.
func (w *world) runReal(main func()) {
	rw := &realWorld{gone: make(chan struct{}), start: time.Now()}
	w.real = rw
	w.start = rw.start
	mg := rw.add(w.runPC, true)
	mainDone := make(chan struct{})
	go func() {
		defer close(mainDone)
		w.runRealGoroutine(mg, main)
	}()
	if w.waitRealMain(mainDone) {
		w.drainReal()
	}
	rw.elapsed = time.Since(rw.start)
	if rw.finish() {
		deactivate(w)
	}
	raceAcquire(unsafe.Pointer(&w.endSync))
}

// goReal starts f on a goroutine of the Real World.
func (w *world) goReal(f func(), pc uintptr) {
	g := w.real.add(pc, false)
	go w.runRealGoroutine(g, f)
}

// realCallback wraps a timer function so that it runs as a goroutine of the
// Real World (nil: no World, f as it is).
func (w *world) realCallback(f func()) func() {
	if w == nil || w.real == nil {
		return f
	}
	return func() {
		if w.real.isOver() && activeWorld() != w {
			f() // the World is gone: nothing to account to
			return
		}
		w.runRealGoroutine(w.real.add(0, false), f)
	}
}

// runRealGoroutine runs f as goroutine g of the Real World: a panic becomes a
// failure of the run, and the end of g is accounted for.
func (w *world) runRealGoroutine(g *realG, f func()) {
	rw := w.real
	rw.setGoid(g, currentGoid())
	defer func() {
		r := recover()
		if r != nil {
			if rw.isOver() {
				panic(r) // after Run returned there is no Result to hold it: as plain Go does
			}
			stack, site := trimStack(string(debug.Stack()))
			st := GoroutineState{ID: g.id, State: "panicked", BlockedAt: site, CreatedAt: siteOf(g.createPC)}
			w.addFailure(Failure{Kind: Panic, Message: fmt.Sprintf("goroutine %d panicked: %v", g.id, r),
				Goroutines: []GoroutineState{st}, Site: site, Stack: stack, Time: time.Since(rw.start)})
		}
		raceReleaseMerge(unsafe.Pointer(&w.endSync))
		if rw.remove(g) {
			deactivate(w)
		}
	}()
	f()
}

// waitRealMain waits for main to end. It reports false, with a Deadlock
// failure, when the run stopped moving: for a whole Watchdog period no
// primitive was called, no timer the World armed is pending, and every
// goroutine of the World is blocked.
func (w *world) waitRealMain(mainDone chan struct{}) bool {
	rw := w.real
	period := min(w.opts.Watchdog/4, 250*time.Millisecond)
	tick := time.NewTicker(period)
	defer tick.Stop()
	last, lastChange := rw.loadProgress(), time.Now()
	for {
		select {
		case <-mainDone:
			return true
		case <-tick.C:
		}
		if p := rw.loadProgress(); p != last {
			last, lastChange = p, time.Now()
			continue
		}
		if time.Since(lastChange) < w.opts.Watchdog || rw.tickers.Load() > 0 ||
			time.Since(rw.start) < time.Duration(rw.horizon.Load())+w.opts.Watchdog {
			continue
		}
		states := goroutineStates()
		live := rw.live()
		if rw.loadProgress() != last || rw.tickers.Load() > 0 {
			continue // it moved while we looked
		}
		blocked := len(live) > 0
		for _, g := range live {
			if d, ok := states[g.goid]; !ok || !d.blocked {
				blocked = false
				break
			}
		}
		if !blocked {
			continue
		}
		f := Failure{Kind: Deadlock, Time: time.Since(rw.start),
			Message: fmt.Sprintf("for %v no goroutine of the World called a primitive, every one of them is blocked "+
				"and no timer is pending: main and %d goroutine(s) are stuck for good", w.opts.Watchdog, len(live)-1)}
		for _, g := range live {
			f.Goroutines = append(f.Goroutines, g.state(states))
		}
		w.addFailure(f)
		return false
	}
}

// drainReal waits, after main returned, for the World's goroutines to end,
// for up to Options.Drain; those still running then are a Leak.
func (w *world) drainReal() {
	rw := w.real
	deadline := time.Now().Add(w.opts.Drain)
	for len(rw.live()) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	live := rw.live()
	if len(live) == 0 {
		return
	}
	states := goroutineStates()
	f := Failure{Kind: Leak, Time: time.Since(rw.start),
		Message: fmt.Sprintf("%d goroutine(s) still running %v after main returned", len(live), w.opts.Drain)}
	for _, g := range live {
		f.Goroutines = append(f.Goroutines, g.state(states))
	}
	w.addFailure(f)
	// Reported: now stop the nodes still running (their contexts are
	// cancelled, their network calls fail), so that their goroutines can
	// end instead of outliving the run.
	if w.stopNodes() {
		deadline = time.Now().Add(w.opts.Drain)
		for len(rw.live()) > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

// stopNodes crashes every node of a Real World still running; it reports
// whether there was one.
func (w *world) stopNodes() bool {
	w.netMu.Lock()
	nt := w.net
	w.netMu.Unlock()
	if nt == nil {
		return false
	}
	nt.lock()
	defer nt.unlock()
	stopped := false
	for _, n := range nt.nodes {
		if n.up {
			nt.crash(n, CrashReset)
			stopped = true
		}
	}
	return stopped
}

// realArmed records, in a Real World, a timer armed for d from now.
//
//go:norace
func (w *world) realArmed(d time.Duration) {
	if w == nil || w.real == nil {
		return
	}
	rw := w.real
	rw.progress++
	at := int64(time.Since(rw.start) + max(d, 0))
	raceDisable()
	for {
		old := rw.horizon.Load()
		if at <= old || rw.horizon.CompareAndSwap(old, at) {
			break
		}
	}
	raceEnable()
}

// realTicker counts, in a Real World, a ticker started (+1) or stopped (-1).
//
//go:norace
func (w *world) realTicker(delta int64) {
	if w == nil || w.real == nil {
		return
	}
	w.real.progress++
	raceDisable()
	w.real.tickers.Add(delta)
	raceEnable()
}

// realStop accounts, in a Real World, for a ticker's Stop; Reset restarts it.
//
//go:norace
func (t *Ticker) realStop(stop bool) {
	if t.stopped == stop {
		return
	}
	t.stopped = stop
	if stop {
		t.w.realTicker(-1)
	} else {
		t.w.realTicker(1)
	}
}
