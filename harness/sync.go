package harness

import (
	"runtime"
	"sync"
	"unsafe"
)

var runtimeGosched = runtime.Gosched

// Go starts f in a new goroutine. In deterministic mode the goroutine belongs
// to the World (and to the caller's node, if any) and runs when the strategy
// picks it; every goroutine of a World must be started through Go. In Real
// mode it is a goroutine of the World too: Run waits for it, reports it if it
// is still running when the World drains, and turns its panic into a failure.
//
// Like a go statement, Go evaluates f at the call; unlike one, arguments in
// a closure are evaluated when the goroutine runs. To evaluate them at the
// call, as go f(x, y) does, pass them through a function literal's
// parameters (this is what the rewriter emits for a go statement):
//
//	harness.Go(func(x int, y string) func() { return func() { f(x, y) } }(x, y))
//
// or copy them first (x, y := x, y) and close over the copies. A method value
// (harness.Go(obj.Run)) binds its receiver at the call, as go obj.Run() does.
func Go(f func()) {
	w := activeWorld()
	if w == nil {
		go f()
		return
	}
	if w.opts.Mode == Real {
		w.perturb()
		w.goReal(f, callerPC(2))
		return
	}
	w.goDet(f, callerPC(2))
}

//go:norace
func (w *world) goDet(f func(), pc uintptr) {
	g := w.enter()
	g.progress()
	w.spawn(g, f, pc)
	w.yield(g, pc)
}

// Yield is an explicit scheduling point: in deterministic mode the strategy
// may run another goroutine here; otherwise it yields the processor. A Yield
// counts as polling without progress: a goroutine that loops around Yield
// (or a select with a default, or an atomic load: see Poll) while every other
// runnable goroutine does the same is spinning, and the clock may then move
// to the next timer; PCT lowers the priority of a goroutine that yields.
func Yield() { poll() }

// Poll is a scheduling point for code that looks at shared state outside
// this package's primitives without changing it: an atomic load, a
// CompareAndSwap that failed, a check of a flag. It is Yield under a name that
// says why: a goroutine that keeps polling makes no progress, so it loses
// priority under PCT, and while every runnable goroutine polls the clock may
// fire the next timer (a spin on an atomic flag that a timer sets ends).
// Packages that stand in for sync/atomic call Poll before a load and
// Progress before a store.
func Poll() { poll() }

// poll is Yield and Poll: a scheduling point that makes no progress, or
// outside a deterministic World a perturbation and runtime.Gosched.
func poll() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		runtime.Gosched()
		return
	}
	w.pollNow(w.sitePC())
}

// Progress is a scheduling point for code about to change shared state
// outside this package's primitives: an atomic store, add, swap or
// CompareAndSwap. Unlike Poll it counts as progress: the goroutine is not
// spinning. Outside a deterministic World it does nothing.
func Progress() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		return
	}
	w.progressNow(w.sitePC())
}

//go:norace
func (w *world) progressNow(pc uintptr) {
	g := w.enter()
	g.progress()
	w.yield(g, pc)
}

//go:norace
func (w *world) pollNow(pc uintptr) { w.poll(w.enter(), pc) }

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
	holder  *goroutine // who locked it, for deadlock reports
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
		g.waitsFor = m
		w.block(g, "mutex lock", pc)
	}
	m.locked, m.holder = true, g
	raceAcquire(unsafe.Pointer(&m.sync))
}

//go:norace
func (m *Mutex) holders() []*goroutine {
	if m.holder == nil {
		return nil
	}
	return []*goroutine{m.holder}
}

// TryLock locks m if it is free and reports whether it did. A TryLock that
// fails polls without progress (see Poll).
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
		g.polled(uintptr(unsafe.Pointer(m)))
		return false
	}
	m.locked, m.holder = true, g
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
	raceRead(unsafe.Pointer(m)) // as sync.Mutex.Unlock reads its state
	raceRelease(unsafe.Pointer(&m.sync))
	m.locked, m.holder = false, nil
	m.waiters.wakeAll(w)
	w.yield(g, pc)
}

// RWMutex is a reader/writer lock, like sync.RWMutex: a blocked Lock call
// keeps new readers out. The zero value is unlocked.
type RWMutex struct {
	real           sync.RWMutex
	writer         *goroutine // the goroutine holding it for writing
	readers        []*goroutine
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
	raceRead(unsafe.Pointer(rw)) // as sync.RWMutex reads its inner mutex
	for rw.writer != nil || len(rw.readers) > 0 {
		rw.writersWaiting++
		rw.waiters.push(g)
		g.waitsFor = rw
		w.block(g, "rwmutex lock", pc)
		rw.writersWaiting--
	}
	rw.writer = g
	raceAcquire(unsafe.Pointer(&rw.wsync))
	raceAcquire(unsafe.Pointer(&rw.rsync))
}

// TryLock locks rw for writing if it is free and reports whether it did.
func (rw *RWMutex) TryLock() bool {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return rw.real.TryLock()
	}
	return rw.tryLock(w, w.sitePC())
}

//go:norace
func (rw *RWMutex) tryLock(w *world, pc uintptr) bool {
	g := w.enter()
	w.yield(g, pc)
	raceRead(unsafe.Pointer(rw))
	if rw.writer != nil || len(rw.readers) > 0 {
		g.polled(uintptr(unsafe.Pointer(rw)))
		return false
	}
	rw.writer = g
	raceAcquire(unsafe.Pointer(&rw.wsync))
	raceAcquire(unsafe.Pointer(&rw.rsync))
	return true
}

//go:norace
func (rw *RWMutex) holders() []*goroutine {
	if rw.writer != nil {
		return []*goroutine{rw.writer}
	}
	return append([]*goroutine(nil), rw.readers...)
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
	if rw.writer == nil {
		panic(chanError("sync: Unlock of unlocked RWMutex"))
	}
	raceRead(unsafe.Pointer(rw))
	raceRelease(unsafe.Pointer(&rw.wsync))
	rw.writer = nil
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
	raceRead(unsafe.Pointer(rw))
	for rw.writer != nil || rw.writersWaiting > 0 {
		rw.waiters.push(g)
		g.waitsFor = rw
		w.block(g, "rwmutex rlock", pc)
	}
	rw.readers = append(rw.readers, g)
	raceAcquire(unsafe.Pointer(&rw.wsync))
}

// TryRLock locks rw for reading if it can without waiting and reports
// whether it did.
func (rw *RWMutex) TryRLock() bool {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return rw.real.TryRLock()
	}
	return rw.tryRLock(w, w.sitePC())
}

//go:norace
func (rw *RWMutex) tryRLock(w *world, pc uintptr) bool {
	g := w.enter()
	w.yield(g, pc)
	raceRead(unsafe.Pointer(rw))
	if rw.writer != nil || rw.writersWaiting > 0 {
		g.polled(uintptr(unsafe.Pointer(rw)))
		return false
	}
	rw.readers = append(rw.readers, g)
	raceAcquire(unsafe.Pointer(&rw.wsync))
	return true
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
	if len(rw.readers) == 0 {
		panic(chanError("sync: RUnlock of unlocked RWMutex"))
	}
	raceRead(unsafe.Pointer(rw))
	raceReleaseMerge(unsafe.Pointer(&rw.rsync))
	rw.dropReader(g)
	if len(rw.readers) == 0 {
		rw.waiters.wakeAll(w)
	}
	w.yield(g, pc)
}

// dropReader removes one read hold: g's own if it has one (a read lock may
// be released by another goroutine, as with sync.RWMutex).
//
//go:norace
func (rw *RWMutex) dropReader(g *goroutine) {
	i := len(rw.readers) - 1
	for j, r := range rw.readers {
		if r == g {
			i = j
			break
		}
	}
	for j := i; j < len(rw.readers)-1; j++ {
		rw.readers[j] = rw.readers[j+1]
	}
	rw.readers[len(rw.readers)-1] = nil
	rw.readers = rw.readers[:len(rw.readers)-1]
}

// RLocker returns a Locker whose Lock and Unlock are rw's RLock and RUnlock.
func (rw *RWMutex) RLocker() sync.Locker { return rlocker{rw} }

type rlocker struct{ rw *RWMutex }

func (r rlocker) Lock()   { r.rw.RLock() }
func (r rlocker) Unlock() { r.rw.RUnlock() }

// WaitGroup waits for a collection of goroutines, like sync.WaitGroup. The
// zero value is ready to use. Every Done happens before the Wait it releases
// returns. As with sync.WaitGroup under the race detector, an Add that takes
// the counter from zero races with a Wait it is not ordered with, and reusing
// a WaitGroup before the previous Wait has returned panics.
type WaitGroup struct {
	real    sync.WaitGroup
	count   int
	waiters waitq
	gen     int    // counts the times the counter reached zero with waiters
	sema    uint64 // the address Add (from zero) reads and the first Wait writes
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
	if delta > 0 && wg.count == delta {
		// The first increment must be ordered with Wait (sync.WaitGroup
		// models it as a read that races with the first waiter's write).
		raceRead(unsafe.Pointer(&wg.sema))
	}
	if wg.count < 0 {
		panic(chanError("sync: negative WaitGroup counter"))
	}
	if wg.count == 0 && len(wg.waiters.gs) > 0 {
		wg.gen++
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
	if w == nil {
		go run()
		return
	}
	if w.opts.Mode == Real {
		w.perturb()
		w.goReal(run, callerPC(2))
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
	if wg.count > 0 {
		if len(wg.waiters.gs) == 0 {
			// The first waiter: sync.WaitGroup models it as a write.
			raceWrite(unsafe.Pointer(&wg.sema))
		}
		gen := wg.gen
		wg.waiters.push(g)
		w.block(g, "waitgroup wait", pc)
		if wg.gen != gen && wg.count != 0 {
			raceAcquire(unsafe.Pointer(&wg.sync))
			panic(chanError("sync: WaitGroup is reused before previous Wait has returned"))
		}
	}
	raceAcquire(unsafe.Pointer(&wg.sync))
}

// Once runs a function once, like sync.Once. The zero value is ready to use.
// The function's return happens before any Do returns; as with sync.Once,
// whose slow path takes a mutex, callers that had to wait for it are also
// ordered with each other.
type Once struct {
	real    sync.Once
	done    bool
	running bool
	waiters waitq
	sync    uint64 // done: released when f returns
	msync   uint64 // the slow path's mutex
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
	if o.done { // the fast path: an atomic load of done
		raceAcquire(unsafe.Pointer(&o.sync))
		return false
	}
	for o.running {
		o.waiters.push(g)
		w.block(g, "once", pc)
	}
	raceAcquire(unsafe.Pointer(&o.msync))
	if o.done {
		raceAcquire(unsafe.Pointer(&o.sync))
		raceRelease(unsafe.Pointer(&o.msync))
		return false
	}
	o.running = true
	return true
}

//go:norace
func (o *Once) end(w *world) {
	w.enter()
	raceRelease(unsafe.Pointer(&o.sync))
	raceRelease(unsafe.Pointer(&o.msync))
	o.running, o.done = false, true
	o.waiters.wakeAll(w)
}

// Cond is a condition variable, like sync.Cond; L must be a *Mutex or
// *RWMutex of this package (or, in real mode only, any sync.Locker). As with
// sync.Cond, Signal and Broadcast are not themselves happens-before edges:
// the lock is.
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
