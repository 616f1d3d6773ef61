package harness

import (
	"sync"
	"unsafe"
)

// Observe runs f, the bookkeeping a check makes of an event of the program
// (a recorder noting a write, a ship, a resource opened), so that it adds no
// synchronisation between the program's goroutines.
//
// A recorder keeps its state under a lock of its own, and every goroutine
// of the system that reports an event takes that lock. For the race
// detector, each such lock orders the reporting goroutines: whatever one
// did before its report happens before whatever another did after its own
// later report. A data race of the system whose two accesses are separated
// by two reports is then never reported: the check hides the bug it is
// there to find. Under -race, Observe runs f on a goroutine of the World's
// own (one at a time, in call order): f sees everything the caller did
// before the call, and nothing f does, nor any other call of Observe, is
// ordered before what the caller does after it. Without -race there is no
// order to hide, and f runs on the caller (still one call at a time).
//
// f must not reach a scheduling point (a harness primitive that blocks or
// yields): it runs while the caller waits, outside the World's scheduling.
// It should read only what the caller hands it (copies, values) and the
// recorder's own state: memory of the program that another goroutine may
// write after the call is not ordered after f's read. It must not hand
// memory it writes to the caller either, except through ObserveValue's
// result: the caller is not ordered after f.
func Observe(f func()) {
	w := activeWorld()
	switch {
	case w == nil:
		f()
	case !raceEnabled:
		// One at a time still: a Real World's goroutines call at once.
		w.observer.mu.Lock()
		defer w.observer.mu.Unlock()
		f()
	default:
		w.observer.run(f)
	}
}

// ObserveValue is Observe for bookkeeping that returns a value to the
// caller: a value, or a pointer to memory f did not write (a channel made
// earlier, say).
func ObserveValue[T any](f func() T) T {
	var out T
	Observe(func() { storeObserved(&out, f()) })
	return loadObserved(&out)
}

// storeObserved and loadObserved pass ObserveValue's result from the
// observer's goroutine to the caller out of the race detector's sight.
//
//go:norace
func storeObserved[T any](p *T, v T) { *p = v }

//go:norace
func loadObserved[T any](p *T) T { return *p }

// observer is the goroutine of a World on which Observe runs its
// functions, under -race. Everything it does is hidden from the race
// detector but f itself and one edge: each caller's history, released on
// sync before the call, which the observer acquires before running f.
type observer struct {
	mu      sync.Mutex // one call at a time (Real mode: goroutines call at once), in both builds
	started bool
	stopped bool
	calls   chan func()
	done    chan any      // what f panicked with, or nil
	exited  chan struct{} // closed when the goroutine has ended
	sync    uint64
	ended   uint64 // the goroutine's history as it ends, for Run's caller
}

// run runs f on the observer's goroutine, starting it on first use; once
// the World's run is over (a straggler of Real mode), f runs on the
// caller.
//
//go:norace
func (o *observer) run(f func()) {
	raceReleaseMerge(unsafe.Pointer(&o.sync))
	raceDisable()
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		raceEnable()
		f()
		return
	}
	if !o.started {
		o.started = true
		o.calls, o.done, o.exited = make(chan func()), make(chan any), make(chan struct{})
		go o.loop()
	}
	o.calls <- f
	p := <-o.done
	o.mu.Unlock()
	raceEnable()
	if p != nil {
		panic(p)
	}
}

// loop is the observer's goroutine.
//
//go:norace
func (o *observer) loop() {
	raceDisable()
	for f := range o.calls {
		raceEnable()
		raceAcquire(unsafe.Pointer(&o.sync))
		p := runObserved(f)
		raceDisable()
		o.done <- p
	}
	raceEnable()
	raceRelease(unsafe.Pointer(&o.ended))
	raceDisable()
	close(o.exited)
	raceEnable()
}

// runObserved runs f and returns what it panicked with, if it did.
func runObserved(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// stop ends the observer's goroutine, once the World's run is over, and
// waits until it has (a leak check after the run must not see it).
//
//go:norace
func (o *observer) stop() {
	raceDisable()
	o.mu.Lock()
	running := o.started && !o.stopped
	if running {
		close(o.calls)
	}
	o.stopped = true
	o.mu.Unlock()
	if running {
		<-o.exited
	}
	raceEnable()
	if running {
		// Everything observed happens before Run returns, as everything
		// the World's goroutines did.
		raceAcquire(unsafe.Pointer(&o.ended))
	}
}
