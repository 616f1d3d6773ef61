package harness

import (
	"context"
	"reflect"
	"time"
	"unsafe"
)

// WithCancel is context.WithCancel for both modes. In deterministic mode the
// context belongs to the World: select on it with Done(ctx).
func WithCancel(parent context.Context) (context.Context, context.CancelFunc) {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return context.WithCancel(parent)
	}
	c := w.newContext(parent, time.Time{}, false)
	return c, c.cancelFunc
}

// WithTimeout is WithDeadline(parent, Now().Add(d)).
func WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.realArmed(d)
		return context.WithTimeout(parent, d)
	}
	return WithDeadline(parent, Now().Add(d))
}

// WithDeadline is context.WithDeadline for both modes; in deterministic mode
// the deadline is on the virtual clock.
func WithDeadline(parent context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.realArmed(time.Until(deadline))
		return context.WithDeadline(parent, deadline)
	}
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c := w.newContext(parent, deadline, true)
	return c, c.cancelFunc
}

// ctx is a deterministic World's context. Its Done channel is a real one,
// closed on cancellation, so code that polls it works; goroutines that wait
// for it select on Done(ctx).
type ctx struct {
	parent     context.Context
	w          *world
	deadline   time.Time
	hasDL      bool
	done       chan struct{}
	err        error
	children   []*ctx
	afterFuncs []*ctxAfterFunc
	waiters    []ctxWaiter
	timer      *timer
	sync       uint64 // cancel happens before Done is observed
	// registry orders registrations (AfterFunc) before the cancel that runs
	// them, as the mutex of a standard context does.
	registry uint64
}

type ctxWaiter struct {
	g     *goroutine
	sel   *selectState
	index int
}

type ctxAfterFunc struct {
	f       func()
	stopped bool
}

type ctxKey struct{}

func (w *world) newContext(parent context.Context, deadline time.Time, hasDL bool) *ctx {
	c := &ctx{parent: parent, w: w, deadline: deadline, hasDL: hasDL, done: make(chan struct{})}
	c.attach(parent)
	return c
}

//go:norace
func (c *ctx) attach(parent context.Context) {
	w := c.w
	w.enter()
	if p := worldContext(parent); p != nil {
		if p.err != nil {
			c.cancel(p.err)
			return
		}
		p.children = append(p.children, c)
	} else if err := parent.Err(); err != nil {
		c.cancel(err)
		return
	}
	if c.hasDL {
		now := epoch.Add(w.now)
		if !c.deadline.After(now) {
			c.cancel(context.DeadlineExceeded)
			return
		}
		c.timer = &timer{index: -1, kind: timerCallback, f: c.expire}
		raceRelease(unsafe.Pointer(&c.timer.sync))
		w.armAfter(c.timer, c.deadline.Sub(now))
	}
}

// worldContext returns the World context that parent is, or passes
// cancellation straight through from (context.WithValue), or nil.
func worldContext(parent context.Context) *ctx {
	if c, ok := parent.(*ctx); ok {
		return c
	}
	c, _ := parent.Value(ctxKey{}).(*ctx)
	if c != nil && parent.Done() == c.done {
		return c
	}
	return nil
}

func (c *ctx) expire()     { c.cancelFrom(context.DeadlineExceeded) }
func (c *ctx) cancelFunc() { c.cancelFrom(context.Canceled) }

//go:norace
func (c *ctx) cancelFrom(err error) {
	if activeWorld() != c.w {
		return // the run is over: nothing is waiting any more
	}
	c.w.enter()
	c.cancel(err)
	// As a standard context does, a context cancelled on its own leaves
	// its parent's list of children: a long-lived parent (a server's)
	// would otherwise keep every request's context until it ends.
	if p := worldContext(c.parent); p != nil {
		p.removeChild(c)
	}
}

// removeChild takes child off c's children, keeping their order.
//
//go:norace
func (c *ctx) removeChild(child *ctx) {
	for i, x := range c.children {
		if x == child {
			for j := i; j < len(c.children)-1; j++ {
				c.children[j] = c.children[j+1]
			}
			c.children[len(c.children)-1] = nil
			c.children = c.children[:len(c.children)-1]
			return
		}
	}
}

//go:norace
func (c *ctx) cancel(err error) {
	if c.err != nil {
		return
	}
	w := c.w
	c.err = err
	raceAcquire(unsafe.Pointer(&c.registry))
	raceRelease(unsafe.Pointer(&c.sync))
	close(c.done)
	if c.timer != nil {
		w.removeTimer(c.timer)
	}
	for _, wt := range c.waiters {
		if wt.sel == nil || !wt.sel.fired {
			w.complete(wt.g, wt.sel, wt.index)
		}
	}
	c.waiters = nil
	for _, child := range c.children {
		child.cancel(err)
	}
	c.children = nil
	for _, af := range c.afterFuncs {
		if !af.stopped {
			af.stopped = true
			af.f()
		}
	}
}

// Deadline implements context.Context.
func (c *ctx) Deadline() (time.Time, bool) { return c.deadline, c.hasDL }

// Done implements context.Context.
func (c *ctx) Done() <-chan struct{} { return c.done }

// Err implements context.Context. As with a standard context, an Err that
// returns the cancellation happens after the cancel (it acquires it).
//
//go:norace
func (c *ctx) Err() error {
	err := c.err
	if err != nil {
		raceAcquire(unsafe.Pointer(&c.sync))
	}
	return err
}

// Value implements context.Context.
func (c *ctx) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c
	}
	return c.parent.Value(key)
}

// AfterFunc lets a standard-library context derived from c (context.WithCancel
// of it) be cancelled synchronously, inside the World, when c is.
//
//go:norace
func (c *ctx) AfterFunc(f func()) func() bool {
	af := &ctxAfterFunc{f: f}
	raceReleaseMerge(unsafe.Pointer(&c.registry))
	if c.err != nil {
		raceAcquire(unsafe.Pointer(&c.sync))
		af.stopped = true
		f()
		return func() bool { return false }
	}
	c.afterFuncs = append(c.afterFuncs, af)
	return af.stop
}

//go:norace
func (af *ctxAfterFunc) stop() bool {
	was := !af.stopped
	af.stopped = true
	return was
}

// Done returns a Select case that proceeds once ctx is done. In deterministic
// mode ctx must come from WithCancel, WithTimeout or WithDeadline of this
// package (context.WithValue of one is fine), or never be done
// (context.Background); any other context panics with an explanation.
func Done(c context.Context) SelectCase { return &doneCase{ctx: c} }

type doneCase struct {
	ctx context.Context
	hc  *ctx
	sel *selectState // the select it waits in, once enqueued
}

//go:norace
func (d *doneCase) world() *ctx {
	if d.hc == nil {
		d.hc = worldContext(d.ctx)
		if d.hc == nil && d.ctx.Done() != nil {
			panic(chanError("harness: Done(ctx) in deterministic mode needs a context made by harness.WithCancel, WithTimeout or WithDeadline"))
		}
	}
	return d.hc
}

//go:norace
func (d *doneCase) ready(*world) bool {
	hc := d.world()
	return hc != nil && hc.err != nil
}

//go:norace
func (d *doneCase) commit(*world) { raceAcquire(unsafe.Pointer(&d.hc.sync)) }

//go:norace
func (d *doneCase) enqueue(_ *world, g *goroutine, sel *selectState, index int) {
	if hc := d.world(); hc != nil {
		d.sel = sel
		hc.waiters = append(hc.waiters, ctxWaiter{g: g, sel: sel, index: index})
	}
}

//go:norace
func (d *doneCase) finish(*world) { raceAcquire(unsafe.Pointer(&d.hc.sync)) }

func (d *doneCase) selectCase() reflect.SelectCase {
	return reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(d.ctx.Done())}
}

func (d *doneCase) received(reflect.Value, bool) {}

func (d *doneCase) polled() {}

//go:norace
func (d *doneCase) pollKey() uintptr { return uintptr(unsafe.Pointer(d.world())) + 2 }

// withdraw removes the case's waiter once another case of its select fired.
//
//go:norace
func (d *doneCase) withdraw() {
	hc := d.hc
	if hc == nil {
		return
	}
	for i, wt := range hc.waiters {
		if wt.sel == d.sel {
			for j := i; j < len(hc.waiters)-1; j++ {
				hc.waiters[j] = hc.waiters[j+1]
			}
			hc.waiters[len(hc.waiters)-1] = ctxWaiter{}
			hc.waiters = hc.waiters[:len(hc.waiters)-1]
			return
		}
	}
}
