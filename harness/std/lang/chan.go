// Package lang is what heddle's rewriter puts in place of what the Go
// language does itself with channels: channel types and their operations
// (make, send, receive, close, len, cap, range) and select. (A go statement
// becomes a call of harness.Go, with the function value and arguments
// evaluated first.) Rewritten code calls it; people do not.
//
// A channel becomes a Chan[T], a one-word comparable value whose zero value
// is a nil channel. Made inside a deterministic World it is the World's
// channel (a harness.Chan), scheduled and checked by the runtime; made
// anywhere else it is a Go channel, with the standard semantics and speed.
// Operations go through On:
//
//	ch := make(chan int, 1)   ->  ch := lang.Make[lang.Chan[int]](1)
//	ch <- v                   ->  lang.On(ch).Send(v)
//	v, ok := <-ch             ->  v, ok := lang.On(ch).RecvOK()
//	close(ch)                 ->  lang.On(ch).Close()
//
// A channel that comes from code that is not rewritten (ctx.Done(), a field
// of a third-party struct) is a Go channel; the rewriter wraps it (Wrap,
// WrapRecv, WrapSend, Done) where it enters rewritten code, and unwraps it
// (Export) where a rewritten channel leaves for such code. Inside a World a
// Go channel is outside the scheduler's view: operations on it poll it at
// scheduling points, so that a channel closed by another goroutine of the
// World (a standard context derived from a World's context) is seen. Once
// nothing inside the World can move (harness.Idle), the poller waits for
// the channel in real time, for code outside the World to fill it; after a
// second of that it waits with no limit, and if nothing comes the World's
// watchdog fails the run as Stuck, naming the line that waits. Two
// goroutines of the World never meet on an unbuffered Go channel: both
// poll, neither blocks, and the run ends that way.
// The Done channel of a context made by heddle's
// drop-in package context is the World's own: receiving from it and
// selecting on it are scheduled like any World channel.
package lang

import (
	"context"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/det"
)

// Chan is the rewritten form of the channel types chan T, <-chan T and
// chan<- T (the direction is checked by the compiler on the original code
// and not kept). It is comparable, as a channel is: two values are equal when
// they are the same channel (or both nil), and its zero value is a nil
// channel. Being an alias of an unnamed struct type, it converts and assigns
// to and from a named type declared over it (type Events chan int becomes
// type Events lang.Chan[int]) exactly as a channel type does, and such a
// named type may have methods.
type Chan[T any] = struct{ c *core[T] }

// core is one channel: the World's, a Go channel, or a context's Done.
type core[T any] struct {
	h    *harness.Chan[T] // made inside a deterministic World
	ch   chan T           // a Go channel made here or wrapped
	recv <-chan T         // a receive-only Go channel wrapped
	send chan<- T         // a send-only Go channel wrapped
	ctx  context.Context  // for Done(ctx): recv is ctx.Done()
}

// chanError is a panic of this package, for misuse a compiler would have
// caught in the original program or that heddle cannot serve.
type chanError string

func (e chanError) Error() string { return string(e) }

// Make makes a channel of type C with capacity size, as make(C, size) does:
// the World's channel inside a deterministic World, a Go channel anywhere
// else. A negative size panics as make does.
func Make[C ~struct{ c *core[T] }, T any](size int) C {
	if size < 0 || !det.Active() {
		return C{c: &core[T]{ch: make(chan T, size)}}
	}
	return C{c: &core[T]{h: harness.NewChan[T](size)}}
}

// FromHarness returns the Chan for a harness channel (heddle's drop-in
// packages hand their timers' channels to rewritten code this way). A nil c
// gives a nil channel.
func FromHarness[T any](c *harness.Chan[T]) Chan[T] {
	if c == nil {
		return Chan[T]{}
	}
	return Chan[T]{c: &core[T]{h: c}}
}

// Wrap returns the Chan for a Go channel that comes from code that is not
// rewritten. A nil c gives a nil channel. Two wraps of one Go channel are
// different Chans: they do not compare equal.
func Wrap[T any](c chan T) Chan[T] {
	if c == nil {
		return Chan[T]{}
	}
	return Chan[T]{c: &core[T]{ch: c}}
}

// WrapRecv is Wrap for a receive-only Go channel.
func WrapRecv[T any](c <-chan T) Chan[T] {
	if c == nil {
		return Chan[T]{}
	}
	return Chan[T]{c: &core[T]{recv: c}}
}

// WrapSend is Wrap for a send-only Go channel.
func WrapSend[T any](c chan<- T) Chan[T] {
	if c == nil {
		return Chan[T]{}
	}
	return Chan[T]{c: &core[T]{send: c}}
}

// Done is the rewritten form of ctx.Done(): the channel that is closed when
// ctx is done, nil for a context that is never done. Inside a deterministic
// World, a context made by heddle's drop-in package context (or derived from
// one by context.WithValue) is waited for through the World (harness.Done);
// any other context's channel is a Go channel, polled.
func Done(ctx context.Context) Chan[struct{}] {
	d := ctx.Done()
	if d == nil {
		return Chan[struct{}]{}
	}
	return Chan[struct{}]{c: &core[struct{}]{recv: d, ctx: ctx}}
}

// Export returns the Go channel of c, for code that is not rewritten and
// takes a chan T (signal.Notify, a third-party API). Outside a deterministic
// World, channels are Go channels and this is exact. A channel of a World
// has no Go channel: exporting it panics, saying so.
func Export[C ~struct{ c *core[T] }, T any](c C) chan T {
	k := Chan[T](c).c
	switch {
	case k == nil:
		return nil
	case k.ch != nil:
		return k.ch
	case k.h != nil:
		panic(chanError("heddle: a channel of a deterministic World passed to code that is not rewritten (it cannot see the World's channels)"))
	}
	panic(chanError("heddle: a directional channel exported as a bidirectional one"))
}

// ExportRecv is Export for code that takes a <-chan T.
func ExportRecv[C ~struct{ c *core[T] }, T any](c C) <-chan T {
	if k := Chan[T](c).c; k != nil && k.recv != nil {
		return k.recv
	}
	return Export(c)
}

// ExportSend is Export for code that takes a chan<- T.
func ExportSend[C ~struct{ c *core[T] }, T any](c C) chan<- T {
	if k := Chan[T](c).c; k != nil && k.send != nil {
		return k.send
	}
	return Export(c)
}

// IsNil reports whether c is a nil channel: the rewritten form of c == nil.
func IsNil[C ~struct{ c *core[T] }, T any](c C) bool { return Chan[T](c).c == nil }

// Size converts the size of a make of a channel, which may be of any integer
// type, to the int that Make takes.
func Size[N ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr](n N) int {
	return int(n)
}
