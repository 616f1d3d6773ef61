package harness

import (
	"iter"
	"reflect"
	"unsafe"
)

// Chan is a channel that works in both modes: a Go channel when no
// deterministic World is active, and the World's own channel, with the same
// semantics, inside one. Make one with NewChan. A nil *Chan behaves as a nil
// channel: sends and receives block forever, and Select never picks it.
// RecvOnly and SendOnly give the views a <-chan T or chan<- T gives; All
// ranges over the values received.
//
// The race detector sees a World's channel as it sees a Go channel: the
// happens-before edges are Go's (a send happens before the receive that gets
// its value completes; a receive from an unbuffered channel happens before the
// send completes; the k-th receive from a channel of capacity C happens before
// the (k+C)-th send completes; a close happens before a receive that returns
// because the channel is closed), and, as the Go runtime does, a send reads
// the channel and a close writes it, so a close that races with a send is
// reported. Buffered channels follow the Go runtime's model slot by slot
// (and, for element types of size zero, its single chain of edges).
type Chan[T any] struct {
	w  *world   // the World that owns it; nil for a Go channel
	ch chan T   // Go channel
	ro <-chan T // Go channel that may only be received from (a real timer's)

	buf         []slot[T]
	head, count int
	closed      bool
	zero        bool // T has size zero: the buffer is one chain of edges (see stepSlot)
	recvq       []*chanWaiter[T]
	sendq       []*chanWaiter[T]
	// closeSync is the channel's race address: a send reads it, a close
	// writes it and releases on it, and a receive that finds the channel
	// closed acquires from it. For element types of size zero it is also
	// the buffer's chain, and pending a waiter's history still to be
	// folded into it.
	closeSync uint64
	pending   *uint64
}

// slot is one buffer entry. last points to the word holding the history of
// the latest operation on the slot: one of w (operations of the goroutine
// that ran them), a waiter's own word (operations completed on a blocked
// goroutine's behalf), or a timer's word (ticks).
type slot[T any] struct {
	v    T
	last *uint64
	w    [2]uint64
}

// chanWaiter is a goroutine blocked in a send or receive, alone or in a Select.
//
// On an unbuffered channel its happens-before words are the goroutine's own
// (g.mine, g.theirs), reused across operations: a goroutine blocks in one
// operation at a time, its partner uses them at once, and a fresh word per
// operation would cost the race detector a new sync object each time. On a
// buffered channel the waiter's history may sit in a slot until a later
// operation on that slot, so it gets a word of its own (own).
type chanWaiter[T any] struct {
	g      *goroutine
	sel    *selectState // nil for a plain send or receive
	index  int          // the case index within sel
	val    T
	ok     bool
	closed bool    // woken because the channel was closed
	own    uint64  // buffered channels: its history when it blocked
	from   *uint64 // what it acquires when it wakes (set by whoever completed it)
}

type selectState struct {
	fired bool
	index int
}

type chanError string

func (e chanError) Error() string { return string(e) }

// NewChan returns a channel with the given capacity (0: unbuffered). A
// negative capacity panics, as make does.
func NewChan[T any](capacity int) *Chan[T] {
	if capacity < 0 {
		panic(chanError("harness: NewChan: negative capacity"))
	}
	if w := activeWorld(); w != nil && w.opts.Mode == Deterministic {
		var zero T
		return &Chan[T]{w: w, buf: make([]slot[T], capacity), zero: unsafe.Sizeof(zero) == 0}
	}
	return &Chan[T]{ch: make(chan T, capacity)}
}

// deterministic reports, for a call made in World w (nil: none), whether c is
// one of w's channels; it panics when a channel crosses between modes.
//
//go:norace
func (c *Chan[T]) deterministic(w *world) bool {
	det := w != nil && w.opts.Mode == Deterministic
	if c == nil || (c.w == nil && c.ch == nil && c.ro == nil) {
		return det
	}
	if det && c.w != w {
		if c.w != nil && c.w.ended {
			c.w.stray() // a goroutine its World never knew, arriving late
		}
		panic(chanError("harness: a channel made outside this World (or in another one) used inside it"))
	}
	if !det && c.w != nil {
		if c.w.ended {
			c.w.stray() // a goroutine its World never knew, arriving late
		}
		panic(chanError("harness: a World's channel used outside its World"))
	}
	return det
}

//go:norace
func (c *Chan[T]) isNil() bool { return c == nil || (c.w == nil && c.ch == nil && c.ro == nil) }

func (c *Chan[T]) recvChan() <-chan T {
	if c == nil {
		return nil
	}
	if c.ro != nil {
		return c.ro
	}
	return c.ch
}

func (c *Chan[T]) sendChan() chan<- T {
	if c == nil {
		return nil
	}
	if c.ro != nil {
		panic(chanError("harness: send on a receive-only channel"))
	}
	return c.ch
}

// Send sends v, blocking until a receiver or buffer space takes it. Sending on
// a closed channel panics.
func (c *Chan[T]) Send(v T) {
	w := activeWorld()
	if !c.deterministic(w) {
		w.perturb()
		c.sendChan() <- v
		return
	}
	c.send(w, v, w.sitePC())
}

// Recv receives a value, blocking until one is there. ok is false when the
// channel is closed and drained; v is then the zero value.
func (c *Chan[T]) Recv() (v T, ok bool) {
	w := activeWorld()
	if !c.deterministic(w) {
		w.perturb()
		v, ok = <-c.recvChan()
		return v, ok
	}
	return c.recv(w, w.sitePC())
}

// Close closes the channel. Closing a nil or closed channel panics.
func (c *Chan[T]) Close() {
	w := activeWorld()
	if !c.deterministic(w) {
		w.perturb()
		close(c.sendChan())
		return
	}
	c.close(w, w.sitePC())
}

// All returns an iterator over the values received from c until it is
// closed: for v := range c.All() is for v := range ch. Each value is
// received as Recv receives it.
func (c *Chan[T]) All() iter.Seq[T] {
	return func(yield func(T) bool) {
		for {
			v, ok := c.Recv()
			if !ok || !yield(v) {
				return
			}
		}
	}
}

// Len returns the number of values buffered.
func (c *Chan[T]) Len() int {
	if c.isNil() {
		return 0
	}
	if c.w == nil {
		return len(c.recvChan())
	}
	return c.length()
}

//go:norace
func (c *Chan[T]) length() int { return c.count }

// Cap returns the channel's capacity.
func (c *Chan[T]) Cap() int {
	if c.isNil() {
		return 0
	}
	if c.w == nil {
		return cap(c.recvChan())
	}
	return c.capacity()
}

//go:norace
func (c *Chan[T]) capacity() int { return len(c.buf) }

// RecvOnly returns the receive-only view of c, as a <-chan T is of a chan T.
func (c *Chan[T]) RecvOnly() RecvChan[T] { return RecvChan[T]{c: c} }

// SendOnly returns the send-only view of c, as a chan<- T is of a chan T.
func (c *Chan[T]) SendOnly() SendChan[T] { return SendChan[T]{c: c} }

// RecvChan is a receive-only view of a Chan: what a <-chan T is to a chan T.
// Its zero value is a nil channel. Views of one Chan compare equal.
type RecvChan[T any] struct{ c *Chan[T] }

// Recv receives a value, as Chan.Recv does.
func (r RecvChan[T]) Recv() (T, bool) { return r.c.Recv() }

// RecvCase returns a Select case that receives from the channel, as
// Chan.RecvCase does.
func (r RecvChan[T]) RecvCase(v *T, ok *bool) SelectCase { return r.c.RecvCase(v, ok) }

// All ranges over the values received until the channel is closed.
func (r RecvChan[T]) All() iter.Seq[T] { return r.c.All() }

// Len returns the number of values buffered.
func (r RecvChan[T]) Len() int { return r.c.Len() }

// Cap returns the channel's capacity.
func (r RecvChan[T]) Cap() int { return r.c.Cap() }

// SendChan is a send-only view of a Chan: what a chan<- T is to a chan T.
// Its zero value is a nil channel. Views of one Chan compare equal.
type SendChan[T any] struct{ c *Chan[T] }

// Send sends v, as Chan.Send does.
func (s SendChan[T]) Send(v T) { s.c.Send(v) }

// SendCase returns a Select case that sends v on the channel.
func (s SendChan[T]) SendCase(v T) SelectCase { return s.c.SendCase(v) }

// Close closes the channel.
func (s SendChan[T]) Close() { s.c.Close() }

// Len returns the number of values buffered.
func (s SendChan[T]) Len() int { return s.c.Len() }

// Cap returns the channel's capacity.
func (s SendChan[T]) Cap() int { return s.c.Cap() }

//go:norace
func (c *Chan[T]) send(w *world, v T, pc uintptr) {
	g := w.enter()
	w.yield(g, pc)
	if c.isNil() {
		w.block(g, "chan send (nil chan)", pc)
	}
	raceRead(unsafe.Pointer(&c.closeSync)) // as chansend does: a close racing with it is reported
	if c.trySend(w, v) {
		g.progress()
		return
	}
	wt := &chanWaiter[T]{g: g, val: v}
	c.releaseWaiter(wt)
	c.sendq = append(c.sendq, wt)
	w.block(g, "chan send", pc)
	c.finishSend(wt)
}

// releaseWaiter publishes a goroutine's history as it blocks on c.
//
//go:norace
func (c *Chan[T]) releaseWaiter(wt *chanWaiter[T]) {
	if len(c.buf) == 0 {
		raceRelease(unsafe.Pointer(&wt.g.mine))
	} else {
		raceRelease(unsafe.Pointer(&wt.own))
	}
}

// stepSlot is the calling goroutine's operation on buffer slot i, as the Go
// runtime's race model has it: the slot takes the goroutine's history and
// the goroutine acquires what the slot held (the previous operation on it):
// so a send's history reaches the receive of its value, and a receive's the
// send C operations later. For element types of size zero the Go runtime
// keeps one chain for the whole buffer instead: each operation acquires it
// and releases into it.
//
//go:norace
func (c *Chan[T]) stepSlot(i int) {
	if c.zero {
		raceAcquire(unsafe.Pointer(&c.closeSync))
		if c.pending != nil {
			raceAcquire(unsafe.Pointer(c.pending))
			c.pending = nil
		}
		raceRelease(unsafe.Pointer(&c.closeSync))
		return
	}
	s := &c.buf[i]
	wd := &s.w[0]
	if s.last == wd {
		wd = &s.w[1]
	}
	raceRelease(unsafe.Pointer(wd))
	if s.last != nil {
		raceAcquire(unsafe.Pointer(s.last))
	}
	s.last = wd
}

// trySend completes a send if it can without blocking.
//
//go:norace
func (c *Chan[T]) trySend(w *world, v T) bool {
	if c.closed {
		panic(chanError("send on closed channel"))
	}
	if r := c.dequeue(&c.recvq); r != nil {
		if len(c.buf) == 0 {
			raceAcquire(unsafe.Pointer(&r.g.mine))
			raceRelease(unsafe.Pointer(&r.g.theirs))
			r.from = &r.g.theirs
		} else {
			// Go's runtime pretends the value goes through the buffer.
			c.throughSlot(c.head, r)
			c.head = (c.head + 1) % len(c.buf)
		}
		r.val, r.ok = v, true
		w.complete(r.g, r.sel, r.index)
		return true
	}
	if c.count < len(c.buf) {
		i := (c.head + c.count) % len(c.buf)
		c.stepSlot(i)
		c.buf[i].v = v
		c.count++
		return true
	}
	return false
}

// throughSlot is the caller's operation on slot i followed by the operation
// of the blocked goroutine the caller completes, done on its behalf: the slot
// takes the waiter's history (from when it blocked), and the waiter, when it
// wakes, acquires what the slot held after the caller's operation: the
// caller's history from before its own acquire, or, for a zero-size chain,
// from after.
//
//go:norace
func (c *Chan[T]) throughSlot(i int, wt *chanWaiter[T]) {
	if c.zero {
		c.stepSlot(i)
		raceRelease(unsafe.Pointer(&wt.g.theirs))
		c.pending = &wt.own
	} else {
		raceRelease(unsafe.Pointer(&wt.g.theirs))
		c.stepSlot(i)
		c.buf[i].last = &wt.own
	}
	wt.from = &wt.g.theirs
}

//go:norace
func (c *Chan[T]) finishSend(wt *chanWaiter[T]) {
	if wt.closed {
		raceAcquire(unsafe.Pointer(&c.closeSync))
		panic(chanError("send on closed channel"))
	}
	if wt.from != nil {
		raceAcquire(unsafe.Pointer(wt.from))
	}
}

// sendFromClock delivers a timer's tick without blocking. Its history is the
// timer's: whoever armed it (NewTimer, Reset, NewTicker) happens before the
// receive of its tick, as with Go's timers; not the goroutine that advanced
// the clock.
//
//go:norace
func (c *Chan[T]) sendFromClock(w *world, v T, sync *uint64) {
	if c.closed {
		return
	}
	if r := c.dequeue(&c.recvq); r != nil {
		r.val, r.ok = v, true
		r.from = sync
		c.buf[c.head].last = &r.own
		c.head = (c.head + 1) % len(c.buf)
		w.complete(r.g, r.sel, r.index)
		return
	}
	if c.count < len(c.buf) {
		s := &c.buf[(c.head+c.count)%len(c.buf)]
		s.v, s.last = v, sync
		c.count++
	}
}

// drain empties the buffer (a timer's channel on Stop and Reset).
//
//go:norace
func (c *Chan[T]) drain() {
	var zero T
	for c.count > 0 {
		c.buf[c.head].v = zero
		c.head = (c.head + 1) % len(c.buf)
		c.count--
	}
}

//go:norace
func (c *Chan[T]) recv(w *world, pc uintptr) (T, bool) {
	g := w.enter()
	w.yield(g, pc)
	if c.isNil() {
		w.block(g, "chan receive (nil chan)", pc)
	}
	if v, ok, done := c.tryRecv(w); done {
		g.progress()
		return v, ok
	}
	wt := &chanWaiter[T]{g: g}
	c.releaseWaiter(wt)
	c.recvq = append(c.recvq, wt)
	w.block(g, "chan receive", pc)
	return c.finishRecv(wt)
}

// tryRecv completes a receive if it can without blocking.
//
//go:norace
func (c *Chan[T]) tryRecv(w *world) (v T, ok, done bool) {
	var zero T
	if c.count > 0 {
		i := c.head
		v = c.buf[i].v
		if sd := c.dequeue(&c.sendq); sd != nil {
			// The buffer is full and a sender waits: its value takes the
			// place of the one received, through the same slot.
			c.throughSlot(i, sd)
			c.buf[i].v = sd.val
			c.head = (c.head + 1) % len(c.buf)
			w.complete(sd.g, sd.sel, sd.index)
			return v, true, true
		}
		c.stepSlot(i)
		c.buf[i].v = zero
		c.head = (c.head + 1) % len(c.buf)
		c.count--
		return v, true, true
	}
	if sd := c.dequeue(&c.sendq); sd != nil {
		raceAcquire(unsafe.Pointer(&sd.g.mine))
		v = sd.val
		raceRelease(unsafe.Pointer(&sd.g.theirs))
		sd.from = &sd.g.theirs
		w.complete(sd.g, sd.sel, sd.index)
		return v, true, true
	}
	if c.closed {
		raceAcquire(unsafe.Pointer(&c.closeSync))
		return v, false, true
	}
	return v, false, false
}

//go:norace
func (c *Chan[T]) finishRecv(wt *chanWaiter[T]) (T, bool) {
	if wt.closed {
		raceAcquire(unsafe.Pointer(&c.closeSync))
		var zero T
		return zero, false
	}
	if wt.from != nil {
		raceAcquire(unsafe.Pointer(wt.from))
	}
	return wt.val, wt.ok
}

//go:norace
func (c *Chan[T]) close(w *world, pc uintptr) {
	g := w.enter()
	w.yield(g, pc)
	if c.isNil() {
		panic(chanError("close of nil channel"))
	}
	if c.closed {
		panic(chanError("close of closed channel"))
	}
	raceWrite(unsafe.Pointer(&c.closeSync)) // as closechan does
	g.progress()
	c.closed = true
	raceRelease(unsafe.Pointer(&c.closeSync))
	c.pending = nil
	for _, q := range []*[]*chanWaiter[T]{&c.recvq, &c.sendq} {
		for wt := c.dequeue(q); wt != nil; wt = c.dequeue(q) {
			wt.closed = true
			w.complete(wt.g, wt.sel, wt.index)
		}
	}
}

// dequeue removes and returns the first waiter of q that can still be
// completed: alive, and not part of a Select that another case already won.
//
//go:norace
func (c *Chan[T]) dequeue(q *[]*chanWaiter[T]) *chanWaiter[T] {
	for len(*q) > 0 {
		wt := (*q)[0]
		n := len(*q) - 1
		for i := 0; i < n; i++ { // shift in place: the backing array is reused
			(*q)[i] = (*q)[i+1]
		}
		(*q)[n] = nil
		*q = (*q)[:n]
		if wt.g.state == gDead || (wt.sel != nil && wt.sel.fired) {
			continue
		}
		return wt
	}
	return nil
}

// complete wakes a goroutine whose operation another goroutine finished.
//
//go:norace
func (w *world) complete(g *goroutine, sel *selectState, index int) {
	if sel != nil {
		sel.fired = true
		sel.index = index
	}
	w.ready(g)
}

// SelectCase is one branch of a Select. Make cases with Chan.SendCase,
// Chan.RecvCase, Done and Default.
type SelectCase interface {
	// ready reports whether the case can proceed at once (deterministic mode).
	ready(w *world) bool
	// commit performs a ready case.
	commit(w *world)
	// enqueue registers the blocked goroutine on the case's channel.
	enqueue(w *world, g *goroutine, sel *selectState, index int)
	// finish completes the case that woke the goroutine.
	finish(w *world)
	// selectCase describes the case for reflect.Select (real mode).
	selectCase() reflect.SelectCase
	// received stores what reflect.Select received for this case.
	received(v reflect.Value, ok bool)
	// pollKey names what the case looks at (its channel and direction),
	// for spin detection (see polled).
	pollKey() uintptr
	// polled is called for every case when the select is evaluated
	// (a send case reads its channel, as Go's select does).
	polled()
	// withdraw removes the case's waiter from its channel once another
	// case of its select fired.
	withdraw()
}

// RecvCase returns a Select case that receives from c into *v and reports
// into *ok whether the value came from a send (false: closed). v and ok may be nil.
func (c *Chan[T]) RecvCase(v *T, ok *bool) SelectCase { return &recvCase[T]{c: c, v: v, ok: ok} }

// SendCase returns a Select case that sends v on c.
func (c *Chan[T]) SendCase(v T) SelectCase { return &sendCase[T]{c: c, v: v} }

type recvCase[T any] struct {
	c  *Chan[T]
	v  *T
	ok *bool
	wt *chanWaiter[T]
}

//go:norace
func (r *recvCase[T]) ready(*world) bool {
	c := r.c
	return !c.isNil() && (c.count > 0 || c.hasWaiter(c.sendq) || c.closed)
}

//go:norace
func (r *recvCase[T]) commit(w *world) {
	v, ok, _ := r.c.tryRecv(w)
	r.store(v, ok)
}

// store writes what the case received into the program's variables, where
// the race detector sees the writes, as it sees the Go runtime's.
func (r *recvCase[T]) store(v T, ok bool) {
	if r.v != nil {
		*r.v = v
	}
	if r.ok != nil {
		*r.ok = ok
	}
}

//go:norace
func (r *recvCase[T]) enqueue(_ *world, g *goroutine, sel *selectState, index int) {
	if r.c.isNil() {
		return
	}
	r.wt = &chanWaiter[T]{g: g, sel: sel, index: index}
	r.c.releaseWaiter(r.wt)
	r.c.recvq = append(r.c.recvq, r.wt)
}

//go:norace
func (r *recvCase[T]) finish(*world) {
	v, ok := r.c.finishRecv(r.wt)
	r.store(v, ok)
}

func (r *recvCase[T]) polled() {}

func (r *recvCase[T]) pollKey() uintptr { return uintptr(unsafe.Pointer(r.c)) }

//go:norace
func (r *recvCase[T]) withdraw() {
	if r.wt != nil {
		r.c.recvq = removeWaiter(r.c.recvq, r.wt)
	}
}

func (r *recvCase[T]) selectCase() reflect.SelectCase {
	return reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(r.c.recvChan())}
}

func (r *recvCase[T]) received(v reflect.Value, ok bool) {
	var x T
	if ok {
		x = v.Interface().(T)
	}
	if r.v != nil {
		*r.v = x
	}
	if r.ok != nil {
		*r.ok = ok
	}
}

type sendCase[T any] struct {
	c  *Chan[T]
	v  T
	wt *chanWaiter[T]
}

//go:norace
func (s *sendCase[T]) ready(*world) bool {
	c := s.c
	return !c.isNil() && (c.closed || c.count < len(c.buf) || c.hasWaiter(c.recvq))
}

//go:norace
func (s *sendCase[T]) commit(w *world) { s.c.trySend(w, s.v) }

//go:norace
func (s *sendCase[T]) enqueue(_ *world, g *goroutine, sel *selectState, index int) {
	if s.c.isNil() {
		return
	}
	s.wt = &chanWaiter[T]{g: g, sel: sel, index: index, val: s.v}
	s.c.releaseWaiter(s.wt)
	s.c.sendq = append(s.c.sendq, s.wt)
}

//go:norace
func (s *sendCase[T]) finish(*world) { s.c.finishSend(s.wt) }

func (s *sendCase[T]) pollKey() uintptr { return uintptr(unsafe.Pointer(s.c)) + 1 }

//go:norace
func (s *sendCase[T]) polled() {
	if !s.c.isNil() {
		raceRead(unsafe.Pointer(&s.c.closeSync))
	}
}

//go:norace
func (s *sendCase[T]) withdraw() {
	if s.wt != nil {
		s.c.sendq = removeWaiter(s.c.sendq, s.wt)
	}
}

func (s *sendCase[T]) selectCase() reflect.SelectCase {
	return reflect.SelectCase{Dir: reflect.SelectSend, Chan: reflect.ValueOf(s.c.sendChan()), Send: reflect.ValueOf(&s.v).Elem()}
}

func (s *sendCase[T]) received(reflect.Value, bool) {}

// removeWaiter removes wt from q, if it is there, keeping the order.
//
//go:norace
func removeWaiter[T any](q []*chanWaiter[T], wt *chanWaiter[T]) []*chanWaiter[T] {
	for i, x := range q {
		if x == wt {
			for j := i; j < len(q)-1; j++ { // no copy(): see world.go
				q[j] = q[j+1]
			}
			q[len(q)-1] = nil
			return q[:len(q)-1]
		}
	}
	return q
}

// hasWaiter reports whether q holds a waiter that can still be completed.
//
//go:norace
func (c *Chan[T]) hasWaiter(q []*chanWaiter[T]) bool {
	for _, wt := range q {
		if wt.g.state != gDead && (wt.sel == nil || !wt.sel.fired) {
			return true
		}
	}
	return false
}

// Default returns the Select case taken when no other case is ready.
func Default() SelectCase { return defaultCase{} }

type defaultCase struct{}

func (defaultCase) ready(*world) bool                             { return false }
func (defaultCase) commit(*world)                                 {}
func (defaultCase) enqueue(*world, *goroutine, *selectState, int) {}
func (defaultCase) finish(*world)                                 {}
func (defaultCase) polled()                                       {}
func (defaultCase) pollKey() uintptr                              { return 0 }
func (defaultCase) withdraw()                                     {}
func (defaultCase) selectCase() reflect.SelectCase {
	return reflect.SelectCase{Dir: reflect.SelectDefault}
}
func (defaultCase) received(reflect.Value, bool) {}

// selectKey names what a Select that took its default case polled: its
// cases' channels and directions, mixed into one word.
//
//go:norace
func selectKey(cases []SelectCase) uintptr {
	key := uintptr(2)
	for _, c := range cases {
		key = key*31 + c.pollKey()
	}
	return key
}

// Select waits until one of the cases can proceed, performs it and returns
// its index, as a select statement does: among several ready cases it picks
// one at random (from the run's seed in deterministic mode); with a Default
// case it does not block. With no case at all it blocks forever. A Select
// that takes its Default case polls without progress: a goroutine that keeps
// doing so is spinning (see Strategy).
func Select(cases ...SelectCase) int {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		scs := make([]reflect.SelectCase, len(cases))
		for i, c := range cases {
			scs[i] = c.selectCase()
		}
		i, v, ok := reflect.Select(scs)
		cases[i].received(v, ok)
		return i
	}
	return w.selectDet(cases, w.sitePC())
}

//go:norace
func (w *world) selectDet(cases []SelectCase, pc uintptr) int {
	g := w.enter()
	w.yield(g, pc)
	var readyBuf [8]int
	ready := readyBuf[:0]
	def := -1
	for i, c := range cases {
		c.polled()
		if _, ok := c.(defaultCase); ok {
			def = i
		} else if c.ready(w) {
			ready = append(ready, i)
		}
	}
	if len(ready) > 0 {
		i := ready[w.rand.intN(len(ready))]
		cases[i].commit(w)
		g.progress()
		return i
	}
	if def >= 0 {
		g.polled(selectKey(cases))
		return def
	}
	sel := &selectState{}
	for i, c := range cases {
		c.enqueue(w, g, sel, i)
	}
	w.block(g, "select", pc)
	// As Go's select does, take the goroutine's other waiters off their
	// channels: a select in a loop would otherwise leave one behind on
	// every channel it did not get, each time.
	for i, c := range cases {
		if i != sel.index {
			c.withdraw()
		}
	}
	cases[sel.index].finish(w)
	return sel.index
}
