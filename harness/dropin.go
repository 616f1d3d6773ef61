package harness

// What the drop-in packages under harness/std ask of the runtime, beyond the
// primitives: whether a deterministic World runs, progress that is no
// scheduling point, and whether the World can move on by itself.

// DeterministicWorld reports whether a deterministic World is running in
// this process. Packages that stand in for the standard library (harness/std/...)
// ask it to choose between the World's primitives and the standard library's
// own: a Real World runs the standard library's.
func DeterministicWorld() bool {
	w := activeWorld()
	return w != nil && w.opts.Mode != Real
}

// NoteProgress records that the calling goroutine of a deterministic World
// changed shared state, without a scheduling point: a CompareAndSwap that
// succeeded after the Poll that preceded it. The goroutine is then not
// spinning (see Poll), as if its last scheduling point had been a Progress.
// Outside a deterministic World it does nothing.
func NoteProgress() {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return
	}
	w.noteProgress()
}

//go:norace
func (w *world) noteProgress() { w.enter().progress() }

// Idle reports whether the running deterministic World can move on only
// through something outside it: every runnable goroutine is polling without
// progress (see Poll) and no timer can fire. A goroutine that polls a channel
// or a value that code outside the World fills (a Go channel of a package
// that is not rewritten, real I/O) asks it to know when to wait for that code
// in real time instead of polling again: nothing inside the World can change
// what it waits for. Outside a deterministic World it reports false.
func Idle() bool {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return false
	}
	return w.idle()
}

//go:norace
func (w *world) idle() bool {
	w.enter()
	if !w.spinning() {
		return false
	}
	if len(w.timers) == 0 {
		return true
	}
	return w.mainDone && w.timers[0].when > w.mainDoneAt+w.opts.Drain
}
