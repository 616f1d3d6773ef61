//go:build !race

package harness

import "unsafe"

// raceEnabled reports whether the binary was built with -race.
const raceEnabled = false

func raceAcquire(unsafe.Pointer)      {}
func raceRelease(unsafe.Pointer)      {}
func raceReleaseMerge(unsafe.Pointer) {}
func raceRead(unsafe.Pointer)         {}
func raceWrite(unsafe.Pointer)        {}
func raceErrors() int                 { return 0 }
func raceDisable()                    {}
func raceEnable()                     {}
