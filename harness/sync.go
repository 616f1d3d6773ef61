package harness

import (
	"runtime"
	"sync"
	"unsafe"
)

var runtimeGosched = runtime.Gosched

// Go starts f in a new goroutine. In deterministic mode the goroutine belongs
// to the World (and to the caller's node, if any) and runs when the strategy
// picks it; every goroutine of a World must be started through Go.
func Go(f func()) {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		go f()
		return
	}
	w.goDet(f, callerPC(2))
}

//go:norace
func (w *world) goDet(f func(), pc uintptr) {
	g := w.enter()
	w.spawn(g, f, pc)
	w.yield(g, pc)
}

// Yield is an explicit scheduling point: in deterministic mode the strategy
// may run another goroutine here; otherwise it yields the processor.
func Yield() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		runtime.Gosched()
		return
	}
	w.yieldNow(w.sitePC())
}

//go:norace
func (w *world) yieldNow(pc uintptr) { w.yield(w.enter(), pc) }

// waitq is a list of goroutines blocked on a primitive.
type waitq struct{ gs []*goroutine }

//go:norace
func (q *waitq) push(g *goroutine) { q.gs = append(q.gs, g) }

// wakeAll makes every waiter runnable; they retry their operation.
//
//go:norace
func (q *waitq) wakeAll(w *world) {
	for i, g := range q.gs {
		w.ready(g)
		q.gs[i] = nil
	}
	q.gs = q.gs[:0]
}

// Mutex is a mutual exclusion lock, like sync.Mutex. The zero value is an
// unlocked mutex. An Unlock happens before the Lock that follows it.
type Mutex struct {
	real    sync.Mutex
	locked  bool
	waiters waitq
	sync    uint64
}

// Lock locks m, blocking until it is free.
func (m *Mutex) Lock() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		m.real.Lock()
		return
	}
	m.lock(w, w.sitePC())
}

//go:norace
func (m *Mutex) lock(w *world, pc uintptr) {
	g := w.enter()
	w.yield(g, pc)
	for m.locked {
		m.waiters.push(g)
		w.block(g, "mutex lock", pc)
	}
	m.locked = true
	raceAcquire(unsafe.Pointer(&m.sync))
}

// TryLock locks m if it is free and reports whether it did.
func (m *Mutex) TryLock() bool {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return m.real.TryLock()
	}
	return m.tryLock(w, w.sitePC())
}

//go:norace
func (m *Mutex) tryLock(w *world, pc uintptr) bool {
	g := w.enter()
	w.yield(g, pc)
	if m.locked {
		return false
	}
	m.locked = true
	raceAcquire(unsafe.Pointer(&m.sync))
	return true
}

// Unlock unlocks m. Unlocking an unlocked mutex is a fatal error in Go; here
// it panics.
func (m *Mutex) Unlock() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		m.real.Unlock()
		return
	}
	m.unlock(w, w.sitePC())
}

//go:norace
func (m *Mutex) unlock(w *world, pc uintptr) {
	g := w.enter()
	if !m.locked {
		panic(chanError("sync: unlock of unlocked mutex"))
	}
	raceRelease(unsafe.Pointer(&m.sync))
	m.locked = false
	m.waiters.wakeAll(w)
	w.yield(g, pc)
}

// RWMutex is a reader/writer lock, like sync.RWMutex: a blocked Lock call
// keeps new readers out. The zero value is unlocked.
type RWMutex struct {
	real           sync.RWMutex
	writer         bool
	readers        int
	writersWaiting int
	waiters        waitq
	wsync, rsync   uint64
}

// Lock locks rw for writing.
func (rw *RWMutex) Lock() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		rw.real.Lock()
		return
	}
	rw.lock(w, w.sitePC())
}

//go:norace
func (rw *RWMutex) lock(w *world, pc uintptr) {
	g := w.enter()
	w.yield(g, pc)
	for rw.writer || rw.readers > 0 {
		rw.writersWaiting++
		rw.waiters.push(g)
		w.block(g, "rwmutex lock", pc)
		rw.writersWaiting--
	}
	rw.writer = true
	raceAcquire(unsafe.Pointer(&rw.wsync))
	raceAcquire(unsafe.Pointer(&rw.rsync))
}

// Unlock unlocks rw for writing.
func (rw *RWMutex) Unlock() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		rw.real.Unlock()
		return
	}
	rw.unlock(w, w.sitePC())
}

//go:norace
func (rw *RWMutex) unlock(w *world, pc uintptr) {
	g := w.enter()
	if !rw.writer {
		panic(chanError("sync: Unlock of unlocked RWMutex"))
	}
	raceRelease(unsafe.Pointer(&rw.wsync))
	rw.writer = false
	rw.waiters.wakeAll(w)
	w.yield(g, pc)
}

// RLock locks rw for reading.
func (rw *RWMutex) RLock() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		rw.real.RLock()
		return
	}
	rw.rlock(w, w.sitePC())
}

//go:norace
func (rw *RWMutex) rlock(w *world, pc uintptr) {
	g := w.enter()
	w.yield(g, pc)
	for rw.writer || rw.writersWaiting > 0 {
		rw.waiters.push(g)
		w.block(g, "rwmutex rlock", pc)
	}
	rw.readers++
	raceAcquire(unsafe.Pointer(&rw.wsync))
}

// RUnlock undoes one RLock.
func (rw *RWMutex) RUnlock() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		rw.real.RUnlock()
		return
	}
	rw.runlock(w, w.sitePC())
}

//go:norace
func (rw *RWMutex) runlock(w *world, pc uintptr) {
	g := w.enter()
	if rw.readers <= 0 {
		panic(chanError("sync: RUnlock of unlocked RWMutex"))
	}
	raceReleaseMerge(unsafe.Pointer(&rw.rsync))
	rw.readers--
	if rw.readers == 0 {
		rw.waiters.wakeAll(w)
	}
	w.yield(g, pc)
}

// WaitGroup waits for a collection of goroutines, like sync.WaitGroup. The
// zero value is ready to use. Every Done happens before the Wait it releases
// returns.
type WaitGroup struct {
	real    sync.WaitGroup
	count   int
	waiters waitq
	sync    uint64
}

// Add adds delta to the counter; a negative counter panics.
func (wg *WaitGroup) Add(delta int) {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		wg.real.Add(delta)
		return
	}
	wg.add(w, delta)
}

//go:norace
func (wg *WaitGroup) add(w *world, delta int) {
	w.enter()
	if delta < 0 {
		raceReleaseMerge(unsafe.Pointer(&wg.sync))
	}
	wg.count += delta
	if wg.count < 0 {
		panic(chanError("sync: negative WaitGroup counter"))
	}
	if wg.count == 0 {
		wg.waiters.wakeAll(w)
	}
}

// Done decrements the counter by one.
func (wg *WaitGroup) Done() { wg.Add(-1) }

// Go calls f in a new goroutine (through Go) and adds it to the group.
func (wg *WaitGroup) Go(f func()) {
	wg.Add(1)
	w := activeWorld()
	run := func() {
		defer wg.Done()
		f()
	}
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		go run()
		return
	}
	w.goDet(run, callerPC(2))
}

// Wait blocks until the counter is zero.
func (wg *WaitGroup) Wait() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		wg.real.Wait()
		return
	}
	wg.wait(w, w.sitePC())
}

//go:norace
func (wg *WaitGroup) wait(w *world, pc uintptr) {
	g := w.enter()
	w.yield(g, pc)
	for wg.count > 0 {
		wg.waiters.push(g)
		w.block(g, "waitgroup wait", pc)
	}
	raceAcquire(unsafe.Pointer(&wg.sync))
}

// Once runs a function once, like sync.Once. The zero value is ready to use.
// The function's return happens before any Do returns.
type Once struct {
	real    sync.Once
	done    bool
	running bool
	waiters waitq
	sync    uint64
}

// Do calls f if and only if Do is being called for the first time; other
// callers wait until f has returned.
func (o *Once) Do(f func()) {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		o.real.Do(f)
		return
	}
	if !o.begin(w, w.sitePC()) {
		return
	}
	defer o.end(w)
	f()
}

// begin reports whether the caller must run the function.
//
//go:norace
func (o *Once) begin(w *world, pc uintptr) bool {
	g := w.enter()
	w.yield(g, pc)
	for o.running {
		o.waiters.push(g)
		w.block(g, "once", pc)
	}
	if o.done {
		raceAcquire(unsafe.Pointer(&o.sync))
		return false
	}
	o.running = true
	return true
}

//go:norace
func (o *Once) end(w *world) {
	w.enter()
	raceRelease(unsafe.Pointer(&o.sync))
	o.running, o.done = false, true
	o.waiters.wakeAll(w)
}

// Cond is a condition variable, like sync.Cond; L must be a *Mutex or
// *RWMutex of this package (or, in real mode only, any sync.Locker).
type Cond struct {
	L       sync.Locker
	real    *sync.Cond
	realMu  Mutex
	waiters []*condWaiter
}

type condWaiter struct {
	g        *goroutine
	signaled bool
}

// NewCond returns a Cond with locker l.
func NewCond(l sync.Locker) *Cond { return &Cond{L: l} }

// Wait unlocks c.L, waits for Signal or Broadcast, and locks c.L again.
func (c *Cond) Wait() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		c.realCond().Wait()
		return
	}
	cw := c.enqueue(w)
	c.L.Unlock()
	c.park(w, cw, w.sitePC())
	c.L.Lock()
}

func (c *Cond) realCond() *sync.Cond {
	c.realMu.Lock()
	defer c.realMu.Unlock()
	if c.real == nil {
		c.real = sync.NewCond(c.L)
	}
	return c.real
}

//go:norace
func (c *Cond) enqueue(w *world) *condWaiter {
	cw := &condWaiter{g: w.enter()}
	c.waiters = append(c.waiters, cw)
	return cw
}

// park blocks until the waiter is signaled; a signal that came while the
// waiter was still unlocking L is not lost.
//
//go:norace
func (c *Cond) park(w *world, cw *condWaiter, pc uintptr) {
	g := w.enter()
	for !cw.signaled {
		w.block(g, "cond wait", pc)
	}
}

// Signal wakes one goroutine waiting on c, if there is one.
func (c *Cond) Signal() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		c.realCond().Signal()
		return
	}
	c.signal(w, false)
}

// Broadcast wakes every goroutine waiting on c.
func (c *Cond) Broadcast() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		c.realCond().Broadcast()
		return
	}
	c.signal(w, true)
}

//go:norace
func (c *Cond) signal(w *world, all bool) {
	w.enter()
	for len(c.waiters) > 0 {
		cw := c.waiters[0]
		c.waiters[0] = nil
		c.waiters = c.waiters[1:]
		if cw.g.state == gDead {
			continue
		}
		cw.signaled = true
		w.ready(cw.g)
		if !all {
			return
		}
	}
}

// RaceEnabled reports whether the binary was built with -race, that is,
// whether a run's data races can be reported at all.
func RaceEnabled() bool { return raceEnabled }
