//go:build !race

package harness

import "unsafe"

// raceEnabled reports whether the binary was built with -race.
const raceEnabled = false

func raceAcquire(unsafe.Pointer)      {}
func raceRelease(unsafe.Pointer)      {}
func raceReleaseMerge(unsafe.Pointer) {}
func raceDisable()                    {}
func raceEnable()                     {}
