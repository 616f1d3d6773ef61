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

// raceRead tells the race detector the calling goroutine reads addr, as the
// Go runtime reports a channel send or a lock's use.
func raceRead(addr unsafe.Pointer) { runtime.RaceRead(addr) }

// raceWrite tells the race detector the calling goroutine writes addr, as
// the Go runtime reports a channel close.
func raceWrite(addr unsafe.Pointer) { runtime.RaceWrite(addr) }

// raceErrors returns how many reports the race detector has printed in this
// process.
func raceErrors() int { return runtime.RaceErrors() }

// raceDisable makes the race detector ignore the calling goroutine's
// synchronisation (not its memory accesses) until raceEnable: the scheduler's
// sleeping handoff uses a channel that must add no happens-before edge.
func raceDisable() { runtime.RaceDisable() }

func raceEnable() { runtime.RaceEnable() }
