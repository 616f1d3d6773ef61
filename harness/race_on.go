//go:build race

package harness

import (
	"runtime"
	"unsafe"
)

// raceEnabled reports whether the binary was built with -race.
const raceEnabled = true

// raceAcquire makes the calling goroutine observe every release on addr.
func raceAcquire(addr unsafe.Pointer) { runtime.RaceAcquire(addr) }

// raceRelease publishes the calling goroutine's history on addr, replacing
// what an earlier release left there.
func raceRelease(addr unsafe.Pointer) { runtime.RaceRelease(addr) }

// raceReleaseMerge publishes the calling goroutine's history on addr, keeping
// what earlier releases left there.
func raceReleaseMerge(addr unsafe.Pointer) { runtime.RaceReleaseMerge(addr) }

// raceDisable makes the race detector ignore the calling goroutine's
// synchronisation (not its memory accesses) until raceEnable: the scheduler's
// sleeping handoff uses a channel that must add no happens-before edge.
func raceDisable() { runtime.RaceDisable() }

func raceEnable() { runtime.RaceEnable() }
