package harness

import "iter"

// The coroutine handoff.
//
// Under -race the World's goroutines hand control to each other through the
// token (see handOff and park), because that is the only way to keep the
// handoff out of the race detector's sight. Without -race nothing needs
// hiding, and a handoff can be a runtime coroutine switch instead, several
// times cheaper than waking a parked goroutine: every goroutine of the World
// runs as an iter.Pull coroutine, and one driver goroutine resumes, in turn,
// whichever goroutine the scheduler handed control to. A handoff is then two
// coroutine switches (the goroutine yields to the driver, the driver resumes
// the next one) on the same thread. The scheduler's decisions do not depend on
// the handoff, so a seed gives the same run, and the same trace hash, either
// way.
//
// Two properties of iter.Pull shape the code. A coroutine's runtime.Goexit
// (t.FailNow, or heddle unwinding a killed goroutine) ends the goroutine that
// resumed it, too: the driver, when it dies that way, starts its successor
// (drive), and the unwinding at the end of Run resumes each goroutine from a
// goroutine of its own (unwindCoroutine). A coroutine's panic would pass to
// its resumer as well, but exited recovers every panic first.
//
// Run's goroutine keeps its watchdog: it waits for the driver, which closes
// endCh when the run is over, and if one goroutine never comes back it
// abandons the run exactly as with the token.
//
// One limit the token does not have: the runtime refuses (fatally) to switch
// away from a coroutine that holds runtime.LockOSThread, so a goroutine of a
// World must not lock its thread across a scheduling point.

// closedChan is a channel that is always closed.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// coroutineHandoff selects the coroutine handoff for the next Worlds; it is
// never used under -race. Tests switch it off to compare both handoffs in one
// binary.
var coroutineHandoff = true

// coroutineUnderRace makes -race builds use the coroutine handoff too. Only
// a test sets it, to show why they must not: iter.Pull's switches are
// happens-before edges for the race detector (it releases and acquires one
// address at every switch), so every goroutine of the World would be
// ordered after every other through the driver and no race would be
// reported (TestCoroutineHandoffHidesRaces).
var coroutineUnderRace = false

// startCoroutine makes g's coroutine, which runs f once the driver first
// resumes it.
//
//go:norace
func (g *goroutine) startCoroutine(f func()) {
	g.next, g.stop = iter.Pull(func(yield func(struct{}) bool) {
		g.yield = yield
		g.running = true
		defer g.exited()
		g.setGoid(currentGoid())
		g.exitIfKilled()
		f()
	})
}

// drive runs the World: it resumes the goroutine that control was handed to,
// until no goroutine has it (the run has ended), and then wakes Run.
func (w *world) drive() {
	finished := false
	defer func() {
		if !finished {
			// A goroutine of the World called runtime.Goexit, which
			// iter.Pull passes on to its resumer. It handed control on
			// before it exited (exited calls exit), so carry on.
			go w.drive()
		}
	}()
	for g := w.takeResume(); g != nil; g = w.takeResume() {
		g.next()
	}
	finished = true
	w.endOfDrive()
}

//go:norace
func (w *world) takeResume() *goroutine {
	g := w.resume
	w.resume = nil
	return g
}

//go:norace
func (w *world) endOfDrive() { close(w.endCh) }

// unwindCoroutine ends g's coroutine at the end of Run; the channel it
// returns is closed once it ended. A goroutine that never ran is simply
// stopped. One that did is resumed, sees it was killed and exits through
// runtime.Goexit, which iter.Pull passes on to the resumer: a goroutine
// started for that purpose.
//
//go:norace
func (w *world) unwindCoroutine(g *goroutine) <-chan struct{} {
	w.current = g
	if g.yield == nil {
		g.stop()
		return closedChan
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.next()
	}()
	return done
}
