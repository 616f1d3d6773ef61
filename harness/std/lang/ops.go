package lang

import (
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/det"
)

// Ops performs the operations of one channel. Get it with On; it is a value
// as small as the channel, made for one operation and dropped.
type Ops[T any] struct{ c *core[T] }

// On returns the operations of channel c, whatever its type: Chan[T] or a
// named type declared over it.
func On[C ~struct{ c *core[T] }, T any](c C) Ops[T] { return Ops[T](c) }

// Send sends v: the rewritten form of the statement c <- v. It blocks until a
// receiver or buffer space takes v; on a nil channel it blocks forever, and
// on a closed channel it panics.
func (o Ops[T]) Send(v T) {
	k := o.c
	switch {
	case k == nil:
		sendNil(v)
	case k.h != nil:
		k.h.Send(v)
	default:
		s := k.sendChan()
		if !det.Active() {
			s <- v
			return
		}
		waitOutside(func(d time.Duration) bool {
			if d == 0 {
				select {
				case s <- v:
					return true
				default:
					return false
				}
			}
			timeout, stop := after(d)
			defer stop()
			select {
			case s <- v:
				return true
			case <-timeout:
				return false
			}
		})
	}
}

// sendNil blocks forever, as a send on a nil channel does: inside a World on
// the World's nil channel, so that the runtime sees the goroutine blocked.
func sendNil[T any](v T) {
	if det.Active() {
		(*harness.Chan[T])(nil).Send(v)
	}
	var c chan T
	c <- v
}

// Recv receives a value: the rewritten form of the expression <-c. It blocks
// until a value is there and returns the zero value once the channel is
// closed and drained; on a nil channel it blocks forever.
func (o Ops[T]) Recv() T {
	v, _ := o.RecvOK()
	return v
}

// RecvOK receives a value and reports whether it came from a send (false:
// the channel is closed and drained): the rewritten form of v, ok := <-c.
func (o Ops[T]) RecvOK() (T, bool) {
	k := o.c
	switch {
	case k == nil:
		return recvNil[T]()
	case k.h != nil:
		return k.h.Recv()
	}
	r := k.recvChan()
	if !det.Active() {
		v, ok := <-r
		return v, ok
	}
	if k.ctx != nil && det.Selectable(k.ctx) {
		harness.Select(harness.Done(k.ctx))
		var zero T
		return zero, false
	}
	var v T
	var ok bool
	waitOutside(func(d time.Duration) bool {
		if d == 0 {
			select {
			case v, ok = <-r:
				return true
			default:
				return false
			}
		}
		timeout, stop := after(d)
		defer stop()
		select {
		case v, ok = <-r:
			return true
		case <-timeout:
			return false
		}
	})
	return v, ok
}

// recvNil blocks forever, as a receive from a nil channel does.
func recvNil[T any]() (T, bool) {
	if det.Active() {
		return (*harness.Chan[T])(nil).Recv()
	}
	var c chan T
	v, ok := <-c
	return v, ok
}

// Close closes the channel: the rewritten form of close(c). Closing a nil or
// closed channel panics.
func (o Ops[T]) Close() {
	k := o.c
	switch {
	case k == nil:
		var c chan T
		close(c)
	case k.h != nil:
		k.h.Close()
	default:
		if det.Active() {
			harness.Yield()
		}
		close(k.sendChan())
	}
}

// Len returns the number of values buffered: the rewritten form of len(c).
func (o Ops[T]) Len() int {
	k := o.c
	switch {
	case k == nil:
		return 0
	case k.h != nil:
		return k.h.Len()
	case k.send != nil:
		return len(k.send)
	}
	return len(k.recvChan())
}

// Cap returns the channel's capacity: the rewritten form of cap(c).
func (o Ops[T]) Cap() int {
	k := o.c
	switch {
	case k == nil:
		return 0
	case k.h != nil:
		return k.h.Cap()
	case k.send != nil:
		return cap(k.send)
	}
	return cap(k.recvChan())
}

// sendChan returns the Go channel to send on.
func (k *core[T]) sendChan() chan<- T {
	if k.ch != nil {
		return k.ch
	}
	if k.send != nil {
		return k.send
	}
	panic(chanError("heddle: send on a receive-only channel"))
}

// recvChan returns the Go channel to receive from.
func (k *core[T]) recvChan() <-chan T {
	if k.ch != nil {
		return k.ch
	}
	if k.recv != nil {
		return k.recv
	}
	panic(chanError("heddle: receive from a send-only channel"))
}

// Waiting for code outside the World. Inside a deterministic World a Go
// channel (one of a package that is not rewritten) is outside the
// scheduler's view: an operation on it is tried at every scheduling point
// (a poll), so that a channel another goroutine of the World closes or fills
// is seen. Once the World is idle (harness.Idle: every runnable goroutine
// polls and no timer can fire), nothing inside it can make the operation
// possible: only code outside it (a standard-library or third-party
// goroutine, real I/O) can, so each poll then waits for the channel in real
// time, a little longer each time. After outsideLimit of idleness the
// goroutine waits with no limit: if nothing outside the World delivers, the
// World's watchdog ends the run as Stuck, naming the wait and the program's
// line, instead of a hang or a run to the step limit.

// outsideLimit is how long a World may stay idle, polling a Go channel,
// before the poller waits for it with no limit.
const outsideLimit = time.Second

// maxOutsidePause bounds one real-time wait between two polls of an idle
// World.
const maxOutsidePause = 10 * time.Millisecond

// waitOutside performs an operation on Go channels inside a deterministic
// World. op tries it and reports whether it happened: at once if it can
// (d == 0), waiting at most d of real time (d > 0), or with no limit (d < 0).
func waitOutside(op func(d time.Duration) bool) {
	var idleSince time.Time
	pause := 50 * time.Microsecond
	for {
		harness.Poll()
		if op(0) {
			return
		}
		if !harness.Idle() {
			idleSince = time.Time{}
			continue
		}
		if idleSince.IsZero() {
			idleSince = time.Now()
		}
		if time.Since(idleSince) >= outsideLimit {
			op(-1)
			return
		}
		if op(pause) {
			return
		}
		pause = min(2*pause, maxOutsidePause)
	}
}

// after returns a channel that delivers after d of real time (nil, which
// never delivers, for d < 0) and the function that releases its timer.
func after(d time.Duration) (<-chan time.Time, func()) {
	if d < 0 {
		return nil, func() {}
	}
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}
