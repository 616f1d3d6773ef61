// Package det tells heddle's drop-in packages whether a deterministic World
// is running, and marks the contexts of such a World that they can select on.
package det

import (
	"context"

	"github.com/heddle-go/heddle/harness"
)

// Active reports whether a deterministic World is running in this process:
// then the drop-ins use the World's primitives, and otherwise (no World, or a
// World in Real mode) the standard library's own.
//
// The runtime does not say it directly; its clock does. Inside a
// deterministic World harness.Now is virtual time, computed from a calendar
// date, and carries no monotonic clock reading; otherwise it is time.Now,
// which always carries one. Stripping the monotonic reading (Round(0))
// therefore changes the time exactly when no deterministic World runs.
func Active() bool {
	t := harness.Now()
	return t == t.Round(0)
}

// Key is the context value key under which a context of the drop-in package
// context that belongs to a deterministic World returns itself. Its Done
// channel is then the World's: harness.Done(ctx) can wait for it.
type Key struct{}

// Selectable reports whether harness.Done can wait for ctx inside the
// running World: ctx is one of the drop-in's World contexts, or passes its
// cancellation straight through (context.WithValue of one).
func Selectable(ctx context.Context) bool {
	c, ok := ctx.Value(Key{}).(context.Context)
	return ok && c.Done() == ctx.Done()
}

// Poll is the scheduling point of an operation that looks at shared state
// without changing it (an atomic load, a sync.Map lookup): inside a
// deterministic World another goroutine may run here; elsewhere it does
// nothing. It is harness.Yield until the runtime has a point that tells
// polling from progress.
func Poll() {
	if Active() {
		harness.Yield()
	}
}

// Progress is the scheduling point of an operation that changes shared state
// (an atomic store or add, a sync.Map store): inside a deterministic World
// another goroutine may run here; elsewhere it does nothing.
func Progress() {
	if Active() {
		harness.Yield()
	}
}
