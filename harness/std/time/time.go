// Package time stands in for the clock and timers of the standard library's
// package time in code that heddle's rewriter has rewritten: Sleep, Now,
// Since, Until, After, Tick, AfterFunc, NewTimer, NewTicker and the types
// Timer and Ticker. The rewriter points references to those names here and
// leaves everything else to package time: time.Time and time.Duration stay
// the standard types, so rewritten code still passes them to libraries that
// are not rewritten.
//
// Inside a deterministic World (harness.Run) the clock is the World's
// virtual clock: it starts at 2030-01-01 UTC and moves only when every
// goroutine is blocked, straight to the next timer, so a sleep or a timeout
// of minutes costs no wall-clock time and the same seed always gives the
// same times. Timers' channels are the World's channels. Outside a World
// everything is the standard library's (the monotonic clock, real timers).
//
// Stop and Reset follow Go 1.23 semantics in both cases: once they return,
// no value sent before is received from C.
package time

import (
	"time"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/std/internal/det"
	"github.com/heddle-go/heddle/harness/std/lang"
)

// Sleep pauses the calling goroutine for at least d, as time.Sleep; inside a
// World, on the virtual clock (d <= 0 is still a scheduling point there).
func Sleep(d time.Duration) { harness.Sleep(d) }

// Now returns the current time, as time.Now; inside a World, the virtual
// clock's time, which carries no monotonic clock reading.
func Now() time.Time { return harness.Now() }

// Since returns the time elapsed since t, on the clock of Now.
func Since(t time.Time) time.Duration { return harness.Since(t) }

// Until returns the duration until t, on the clock of Now.
func Until(t time.Time) time.Duration { return t.Sub(harness.Now()) }

// Timer is a single event, as time.Timer: when it fires, the current time is
// sent on C (a timer made by AfterFunc has a nil C and calls its function
// instead). Inside a World, C is the World's channel with a buffer of one
// (cap(C) is 1 there, where a Go 1.23 timer reports 0).
type Timer struct {
	// C delivers the time when the timer fires.
	C lang.Chan[time.Time]

	h *harness.Timer
	r *time.Timer
}

// NewTimer returns a Timer that sends the current time on its channel after
// at least d, as time.NewTimer.
func NewTimer(d time.Duration) *Timer {
	if det.Active() {
		h := harness.NewTimer(d)
		return &Timer{C: lang.FromHarness(h.C), h: h}
	}
	r := time.NewTimer(d)
	return &Timer{C: lang.WrapRecv(r.C), r: r}
}

// AfterFunc waits for d and then calls f in its own goroutine, as
// time.AfterFunc; inside a World the goroutine is the World's. The Timer's
// Stop cancels the call.
func AfterFunc(d time.Duration, f func()) *Timer {
	if det.Active() {
		return &Timer{h: harness.AfterFunc(d, f)}
	}
	return &Timer{r: time.AfterFunc(d, f)}
}

// After waits for d and then sends the current time on the returned channel,
// as time.After: NewTimer(d).C.
func After(d time.Duration) lang.Chan[time.Time] { return NewTimer(d).C }

// Stop prevents the timer from firing and reports whether it did so (false:
// it had already fired or been stopped). As of Go 1.23, no value is received
// from C after Stop returns.
func (t *Timer) Stop() bool {
	if t.h != nil {
		pending := t.undelivered()
		return t.h.Stop() || pending
	}
	return t.r.Stop()
}

// undelivered reports whether the World's timer has fired and its value
// still waits in C: for Go 1.23 the timer is then still active (its channel
// is unbuffered, so the send has not happened yet), and Stop or Reset, which
// drop the value, stop it.
func (t *Timer) undelivered() bool { return t.h.C != nil && t.h.C.Len() > 0 }

// Reset changes the timer to fire after d and reports whether it had been
// active. As of Go 1.23, no value sent before Reset is received from C after
// it returns.
func (t *Timer) Reset(d time.Duration) bool {
	if t.h != nil {
		pending := t.undelivered()
		return t.h.Reset(d) || pending
	}
	return t.r.Reset(d)
}

// Ticker delivers ticks on C at intervals, as time.Ticker; ticks that a slow
// receiver misses are dropped.
type Ticker struct {
	// C delivers the ticks.
	C lang.Chan[time.Time]

	h *harness.Ticker
	r *time.Ticker
}

// NewTicker returns a Ticker that sends the time on C every d, as
// time.NewTicker. d must be greater than zero; if not, NewTicker panics.
func NewTicker(d time.Duration) *Ticker {
	if d <= 0 {
		panic("non-positive interval for NewTicker")
	}
	if det.Active() {
		h := harness.NewTicker(d)
		return &Ticker{C: lang.FromHarness(h.C), h: h}
	}
	r := time.NewTicker(d)
	return &Ticker{C: lang.WrapRecv(r.C), r: r}
}

// Tick is NewTicker(d).C, as time.Tick: nil when d <= 0.
func Tick(d time.Duration) lang.Chan[time.Time] {
	if d <= 0 {
		return lang.Chan[time.Time]{}
	}
	return NewTicker(d).C
}

// Stop turns off the ticker. As of Go 1.23, no tick is received from C
// after Stop returns.
func (t *Ticker) Stop() {
	if t.h != nil {
		t.h.Stop()
		return
	}
	t.r.Stop()
}

// Reset stops the ticker and resets its period to d; the next tick comes
// after d. d must be greater than zero; if not, Reset panics.
func (t *Ticker) Reset(d time.Duration) {
	if d <= 0 {
		panic("non-positive interval for Ticker.Reset")
	}
	if t.h != nil {
		t.h.Reset(d)
		return
	}
	t.r.Reset(d)
}
