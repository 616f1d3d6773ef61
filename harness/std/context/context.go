// Package context stands in for the cancellation functions of the standard
// library's package context in code that heddle's rewriter has rewritten:
// WithCancel, WithCancelCause, WithDeadline, WithDeadlineCause, WithTimeout,
// WithTimeoutCause, WithoutCancel, AfterFunc and Cause. The rewriter points
// references to those names here and leaves the rest to package context:
// context.Context, Background, TODO, WithValue, CancelFunc, Canceled and
// DeadlineExceeded stay the standard ones, so rewritten code still passes its
// contexts to libraries that are not rewritten.
//
// Outside a deterministic World every function is the standard library's.
// Inside one (harness.Run) a context made here belongs to the World:
// deadlines are on the virtual clock, cancellation reaches its children at
// once, and a goroutine that waits for its Done channel (a receive, or a
// select case, once rewritten) is scheduled by the World like any other.
// Causes follow the standard rules: the cause given to a CancelCauseFunc or
// to a *Cause function, the parent's cause for a context cancelled by its
// parent, Canceled or DeadlineExceeded otherwise.
package context

import (
	"context"
	"sync"
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/det"
)

// WithCancel returns a copy of parent with a new Done channel, closed when
// the returned cancel function is called or when parent's is closed,
// whichever happens first, as context.WithCancel.
func WithCancel(parent context.Context) (context.Context, context.CancelFunc) {
	if !det.Active() {
		return context.WithCancel(parent)
	}
	c := newWorldCtx(parent, time.Time{}, false, nil)
	return c, func() { c.cancel(nil) }
}

// WithCancelCause is WithCancel with a cancel function that records a cause
// (nil means Canceled), which Cause returns, as context.WithCancelCause.
func WithCancelCause(parent context.Context) (context.Context, context.CancelCauseFunc) {
	if !det.Active() {
		return context.WithCancelCause(parent)
	}
	c := newWorldCtx(parent, time.Time{}, false, nil)
	return c, c.cancel
}

// WithDeadline returns a copy of parent whose Done channel is closed at the
// deadline d (or sooner: cancel, or parent), as context.WithDeadline; inside
// a World, d is on the virtual clock.
func WithDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	return WithDeadlineCause(parent, d, nil)
}

// WithDeadlineCause is WithDeadline whose expiry records cause (nil means
// DeadlineExceeded) for Cause, as context.WithDeadlineCause. The returned
// cancel function does not set a cause.
func WithDeadlineCause(parent context.Context, d time.Time, cause error) (context.Context, context.CancelFunc) {
	if !det.Active() {
		return context.WithDeadlineCause(parent, d, cause)
	}
	if cur, ok := parent.Deadline(); ok && cur.Before(d) {
		return WithCancel(parent) // the parent's deadline comes first
	}
	c := newWorldCtx(parent, d, true, cause)
	return c, func() { c.cancel(nil) }
}

// WithTimeout is WithDeadline(parent, Now().Add(timeout)), on the clock of
// heddle's drop-in package time, as context.WithTimeout.
func WithTimeout(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return WithDeadlineCause(parent, harness.Now().Add(timeout), nil)
}

// WithTimeoutCause is WithDeadlineCause(parent, Now().Add(timeout), cause),
// as context.WithTimeoutCause.
func WithTimeoutCause(parent context.Context, timeout time.Duration, cause error) (context.Context, context.CancelFunc) {
	return WithDeadlineCause(parent, harness.Now().Add(timeout), cause)
}

// WithoutCancel returns a copy of parent that is never cancelled, has no
// deadline and keeps parent's values: context.WithoutCancel itself, in both
// modes.
func WithoutCancel(parent context.Context) context.Context { return context.WithoutCancel(parent) }

// AfterFunc arranges to call f in its own goroutine once ctx is done, as
// context.AfterFunc; stop unregisters it and reports whether it stopped f
// from being started. Inside a World, for a context made by this package (or
// context.WithValue of one) the goroutine is the World's, started when the
// cancellation happens; for any other context it is context.AfterFunc, whose
// goroutine the World does not control.
func AfterFunc(ctx context.Context, f func()) (stop func() bool) {
	if c := worldCtxOf(ctx); c != nil && ctx.Done() != nil {
		return c.AfterFunc(func() { harness.AfterFunc(0, f) })
	}
	return context.AfterFunc(ctx, f)
}

// Cause returns why c was cancelled, as context.Cause: the cause given when
// it (or the ancestor whose cancellation reached it) was cancelled; nil while
// c is not cancelled.
func Cause(c context.Context) error {
	if w := worldCtxOf(c); w != nil {
		return w.causeOf()
	}
	return context.Cause(c)
}

// worldCtx is a context of a deterministic World made by this package: a
// harness context, plus the cause of its cancellation.
type worldCtx struct {
	context.Context // the harness context: Deadline, Done, Err, Value

	parent  context.Context
	dlCause error // the cause of its own deadline's expiry; nil: DeadlineExceeded
	hcancel context.CancelFunc

	mu    sync.Mutex // orders causes as a standard context's mutex does
	cause error
}

// afterFuncer is a context that runs functions when it is cancelled, inside
// the cancellation (a harness context is one).
type afterFuncer interface {
	AfterFunc(f func()) (stop func() bool)
}

func newWorldCtx(parent context.Context, d time.Time, hasDeadline bool, dlCause error) *worldCtx {
	var h context.Context
	var cancel context.CancelFunc
	if hasDeadline {
		h, cancel = harness.WithDeadline(parent, d)
	} else {
		h, cancel = harness.WithCancel(parent)
	}
	c := &worldCtx{Context: h, parent: parent, dlCause: dlCause, hcancel: cancel}
	c.AfterFunc(c.record)
	return c
}

// Value returns c itself for det.Key (so that rewritten code can wait for
// its Done channel through the World), and parent's values otherwise.
func (c *worldCtx) Value(key any) any {
	if _, ok := key.(det.Key); ok {
		return c
	}
	return c.Context.Value(key)
}

// AfterFunc runs f inside the cancellation of c (at once if c is already
// done), as the harness context does: a standard context derived from c is
// then cancelled synchronously, inside the World.
func (c *worldCtx) AfterFunc(f func()) (stop func() bool) {
	return c.Context.(afterFuncer).AfterFunc(f)
}

// String names the context for fmt, as the standard contexts do.
func (c *worldCtx) String() string {
	if _, ok := c.Deadline(); ok {
		return "heddle.WithDeadline"
	}
	return "heddle.WithCancel"
}

// cancel cancels c with cause (nil: Canceled), unless it is already done.
func (c *worldCtx) cancel(cause error) {
	c.mu.Lock()
	if c.cause == nil && c.Context.Err() == nil {
		if cause == nil {
			cause = context.Canceled
		}
		c.cause = cause
	}
	c.mu.Unlock()
	c.hcancel()
}

// record runs inside c's cancellation and fixes its cause, if its own cancel
// function did not.
func (c *worldCtx) record() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cause == nil {
		c.cause = c.origin()
	}
}

// origin is the cause of a cancellation that c's own cancel function did not
// make: its parent's, or its deadline's. A parent is cancelled before its
// children, and a child whose parent is done was cancelled with it, so a
// done parent means the parent's cancellation reached c.
func (c *worldCtx) origin() error {
	if c.parent.Err() != nil {
		return Cause(c.parent)
	}
	if c.dlCause != nil {
		return c.dlCause
	}
	return c.Context.Err()
}

func (c *worldCtx) causeOf() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.cause != nil:
		return c.cause
	case c.Context.Err() == nil:
		return nil
	}
	// Cancelled, and its own record has not run yet: a child asks in the
	// middle of the cancellation that is reaching it from c.
	return c.origin()
}

// worldCtxOf returns the World context that c is, or whose cancellation c
// passes straight through (context.WithValue of one), or nil.
func worldCtxOf(c context.Context) *worldCtx {
	w, ok := c.Value(det.Key{}).(*worldCtx)
	if !ok || w.Done() != c.Done() {
		return nil
	}
	return w
}
