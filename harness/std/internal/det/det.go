// Package det tells heddle's drop-in packages whether a deterministic World
// is running, gives them its scheduling points, and marks the contexts of
// such a World that they can select on.
package det

import (
	"context"

	"github.com/heddle-go/heddle/harness"
)

// Active reports whether a deterministic World is running in this process:
// then the drop-ins use the World's primitives, and otherwise (no World, or a
// World in Real mode) the standard library's own. It is
// harness.DeterministicWorld.
func Active() bool { return harness.DeterministicWorld() }

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
// without changing it (an atomic load, a sync.Map lookup, a CompareAndSwap
// before it is known to succeed): inside a deterministic World another
// goroutine may run here, and a goroutine that keeps polling is spinning
// (harness.Poll); elsewhere it does nothing.
func Poll() {
	if Active() {
		harness.Poll()
	}
}

// Progress is the scheduling point of an operation that changes shared state
// (an atomic store or add, a sync.Map store): inside a deterministic World
// another goroutine may run here (harness.Progress); elsewhere it does
// nothing.
func Progress() {
	if Active() {
		harness.Progress()
	}
}

// Swapped returns ok, the result of a CompareAndSwap that Poll preceded, and
// when it is true records the progress it made (harness.NoteProgress) without
// a second scheduling point: a spin loop that retries a CompareAndSwap spins
// only while it fails.
func Swapped(ok bool) bool {
	if ok && Active() {
		harness.NoteProgress()
	}
	return ok
}
