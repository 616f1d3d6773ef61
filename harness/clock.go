package harness

import (
	"math/rand/v2"
	"time"
	"unsafe"
)

type timerKind uint8

const (
	timerWake     timerKind = iota + 1 // make a sleeping goroutine runnable
	timerSend                          // send the time on a channel
	timerCallback                      // run a function on a fresh goroutine
)

type timer struct {
	when    time.Duration
	nominal time.Duration // when without jitter: a ticker's next tick follows it
	seq     uint64
	index   int // position in the heap; -1 when not scheduled
	period  time.Duration
	kind    timerKind
	g       *goroutine
	ch      *Chan[time.Time]
	f       func()
	sync    uint64 // arming (AfterFunc, NewTimer, Reset) happens before f runs or a tick is received
	node    *Node  // the node of the goroutine that armed it; its crash removes it
}

// timerHeap orders timers by when, then by creation: a deterministic order.
type timerHeap []*timer

//go:norace
func (h timerHeap) less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}

//go:norace
func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

//go:norace
func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

//go:norace
func (h timerHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}

// deadline returns when a timer of duration d armed now fires: d from now,
// plus the strategy's jitter, if any. nominal is without the jitter.
//
//go:norace
func (w *world) deadline(d time.Duration) (when, nominal time.Duration) {
	if d <= 0 {
		return w.now, w.now
	}
	nominal = w.now + d
	if w.jitter != nil {
		return nominal + w.jitter.delay(d), nominal
	}
	return nominal, nominal
}

// armAfter schedules t to fire d from now (with jitter).
//
//go:norace
func (w *world) armAfter(t *timer, d time.Duration) {
	when, nominal := w.deadline(d)
	w.addTimer(t, when)
	t.nominal = nominal
}

//go:norace
func (w *world) addTimer(t *timer, when time.Duration) {
	if t.seq == 0 && w.current != nil {
		t.node = w.current.node // first arming: the timer belongs to the caller's node
	}
	w.timerSeq++
	t.when, t.nominal, t.seq = when, when, w.timerSeq
	t.index = len(w.timers)
	w.timers = append(w.timers, t)
	w.timers.up(t.index)
}

// removeTimer unschedules t and reports whether it was scheduled.
//
//go:norace
func (w *world) removeTimer(t *timer) bool {
	i := t.index
	if i < 0 || i >= len(w.timers) || w.timers[i] != t {
		return false
	}
	last := len(w.timers) - 1
	if i != last {
		w.timers.swap(i, last)
	}
	w.timers[last] = nil
	w.timers = w.timers[:last]
	if i != last {
		w.timers.down(i)
		w.timers.up(i)
	}
	t.index = -1
	return true
}

//go:norace
func (w *world) fire(t *timer) {
	switch t.kind {
	case timerWake:
		w.record(t.g, EvTimer, 0, "wake")
		w.ready(t.g)
	case timerSend:
		w.record(w.current, EvTimer, 0, "tick")
		t.ch.sendFromClock(w, epoch.Add(w.now), &t.sync)
		if t.period > 0 {
			next := t.nominal + t.period
			when := next
			if w.jitter != nil {
				when += w.jitter.delay(t.period)
			}
			w.addTimer(t, max(when, w.now))
			t.nominal = next
		}
	case timerCallback:
		w.record(w.current, EvTimer, 0, "func")
		w.queueCallback(t.f, &t.sync, t.node)
	}
}

// Now returns the current time: the virtual clock in deterministic mode (it
// starts at 2030-01-01 UTC and moves to the next timer when every goroutine
// is blocked, or when the strategy fires a timer early: see Strategy),
// time.Now otherwise.
func Now() time.Time {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return time.Now()
	}
	return epoch.Add(w.elapsed())
}

//go:norace
func (w *world) elapsed() time.Duration { return w.now }

// Since returns the time elapsed since t, on the same clock as Now.
func Since(t time.Time) time.Duration { return Now().Sub(t) }

// Sleep pauses the calling goroutine for at least d. A Sleep of zero or less
// is a Yield.
func Sleep(d time.Duration) {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.perturb()
		w.realArmed(d)
		time.Sleep(d)
		return
	}
	w.sleep(d, w.sitePC())
}

//go:norace
func (w *world) sleep(d time.Duration, pc uintptr) {
	g := w.enter()
	if d <= 0 {
		w.poll(g, pc)
		return
	}
	w.armAfter(&timer{kind: timerWake, g: g}, d)
	w.block(g, "sleep", pc)
}

// Timer is a single event on the clock, like time.Timer. Stop and Reset
// follow Go 1.23 semantics: after they return, no stale value is received.
type Timer struct {
	// C delivers the time when the timer fires (nil for AfterFunc timers).
	C    *Chan[time.Time]
	real *time.Timer
	t    *timer
	w    *world
}

// NewTimer returns a timer that sends the current time on C after d.
func NewTimer(d time.Duration) *Timer {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.realArmed(d)
		rt := time.NewTimer(d)
		return &Timer{C: &Chan[time.Time]{ro: rt.C}, real: rt, w: w}
	}
	return w.newTimer(d, 0, nil)
}

// AfterFunc waits for d and then calls f in its own goroutine. The call to
// AfterFunc happens before f runs.
func AfterFunc(d time.Duration, f func()) *Timer {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.realArmed(d)
		return &Timer{real: time.AfterFunc(d, w.realCallback(f)), w: w}
	}
	return w.newTimer(d, 0, f)
}

// After returns a channel on which the current time is sent after d.
func After(d time.Duration) *Chan[time.Time] { return NewTimer(d).C }

//go:norace
func (w *world) newTimer(d, period time.Duration, f func()) *Timer {
	w.enter()
	t := &timer{index: -1, period: period}
	tm := &Timer{t: t, w: w}
	if f != nil {
		t.kind, t.f = timerCallback, f
	} else {
		t.kind = timerSend
		t.ch = &Chan[time.Time]{w: w, buf: make([]slot[time.Time], 1)}
		tm.C = t.ch
	}
	raceRelease(unsafe.Pointer(&t.sync))
	w.armAfter(t, d)
	return tm
}

// Stop prevents the timer from firing. It reports whether the call stopped
// it (false: it had already fired or been stopped).
func (t *Timer) Stop() bool {
	if t.real != nil {
		return t.real.Stop()
	}
	return t.w.stopTimer(t.t)
}

// Reset changes the timer to fire after d. It reports whether the timer had
// been active.
func (t *Timer) Reset(d time.Duration) bool {
	if t.real != nil {
		t.w.realArmed(d)
		return t.real.Reset(d)
	}
	return t.w.resetTimer(t.t, d)
}

//go:norace
func (w *world) stopTimer(t *timer) bool {
	w.enter()
	was := w.removeTimer(t)
	if t.ch != nil {
		t.ch.drain()
	}
	return was
}

//go:norace
func (w *world) resetTimer(t *timer, d time.Duration) bool {
	was := w.stopTimer(t)
	raceRelease(unsafe.Pointer(&t.sync))
	w.armAfter(t, d)
	return was
}

// Ticker delivers the time on C every period, like time.Ticker; ticks a slow
// receiver misses are dropped.
type Ticker struct {
	// C delivers the ticks.
	C       *Chan[time.Time]
	real    *time.Ticker
	stopped bool // real mode: Stop was called
	t       *timer
	w       *world
}

// NewTicker returns a ticker with the given period, which must be positive.
func NewTicker(period time.Duration) *Ticker {
	if period <= 0 {
		panic(chanError("harness: NewTicker: non-positive period"))
	}
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		w.realTicker(1)
		rt := time.NewTicker(period)
		return &Ticker{C: &Chan[time.Time]{ro: rt.C}, real: rt, w: w}
	}
	tm := w.newTimer(period, period, nil)
	return &Ticker{C: tm.C, t: tm.t, w: w}
}

// Stop turns the ticker off.
func (t *Ticker) Stop() {
	if t.real != nil {
		t.realStop(true)
		t.real.Stop()
		return
	}
	t.w.stopTimer(t.t)
}

// Reset stops the ticker and restarts it with a new period, which must be
// positive.
func (t *Ticker) Reset(period time.Duration) {
	if period <= 0 {
		panic(chanError("harness: Ticker.Reset: non-positive period"))
	}
	if t.real != nil {
		t.realStop(false)
		t.real.Reset(period)
		return
	}
	t.w.resetTicker(t.t, period)
}

//go:norace
func (w *world) resetTicker(t *timer, period time.Duration) {
	t.period = period
	w.resetTimer(t, period)
}

// IntN returns a random number in [0, n), from the run's seed in
// deterministic mode. n must be positive.
func IntN(n int) int {
	if n <= 0 {
		panic(chanError("harness: IntN: n must be positive"))
	}
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return rand.IntN(n)
	}
	return w.randIntN(n)
}

//go:norace
func (w *world) randIntN(n int) int { return w.rand.intN(n) }

// Float64 returns a random number in [0, 1), from the run's seed in
// deterministic mode.
func Float64() float64 {
	w := activeWorld()
	if w == nil || w.opts.Mode == Real {
		return rand.Float64()
	}
	return w.randFloat64()
}

//go:norace
func (w *world) randFloat64() float64 { return w.rand.float64() }

// perturb, in Real mode, counts a primitive call (the Real World's sign of
// progress) and sometimes yields or sleeps a few microseconds before it, to
// shake out interleavings. The counters are deliberately unsynchronised (and
// hidden from the race detector): an atomic would add happens-before edges
// between every caller.
//
//go:norace
func (w *world) perturb() {
	if w == nil {
		return
	}
	if w.real != nil {
		w.real.progress++
	}
	if w.opts.Perturb <= 0 {
		return
	}
	w.perturbCounter++
	p := prng{s: uint64(w.opts.Seed) ^ w.perturbCounter*0x9e3779b97f4a7c15}
	if p.float64() >= w.opts.Perturb {
		return
	}
	if p.next()&1 == 0 {
		runtimeGosched()
	} else {
		time.Sleep(time.Duration(1+p.intN(20)) * time.Microsecond)
	}
}

// pendingTimers counts the scheduled timers armed on node n.
//
//go:norace
func (w *world) pendingTimers(n *Node) int {
	count := 0
	for _, t := range w.timers {
		if t.node == n {
			count++
		}
	}
	return count
}
