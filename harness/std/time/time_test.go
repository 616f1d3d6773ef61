package time_test

import (
	"fmt"
	"testing"
	stdtime "time"

	"github.com/heddle-go/heddle/harness/std/internal/dettest"
	"github.com/heddle-go/heddle/harness/std/lang"
	"github.com/heddle-go/heddle/harness/std/time"
)

const ms = stdtime.Millisecond

// pending reports whether a value waits on c.
func pending(c lang.Chan[stdtime.Time]) bool {
	return lang.Select(true, lang.On(c).RecvCase()) == 0
}

// Stop and Reset with Go 1.23 semantics: a timer that fired but whose value
// was not received is still active (Stop and Reset report true), and no
// value from before them is received after.
func TestTimerStopReset(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		tm := time.NewTimer(stdtime.Hour)
		if !tm.Stop() || tm.Stop() || pending(tm.C) {
			t.Error("Stop of an armed timer: want true, then false, and no value")
		}

		tm = time.NewTimer(ms)
		time.Sleep(5 * ms)
		if !tm.Stop() {
			t.Error("Stop of a fired, unreceived timer: want true (Go 1.23)")
		}
		if pending(tm.C) {
			t.Error("a stale value after Stop")
		}

		tm = time.NewTimer(ms)
		time.Sleep(5 * ms)
		reset := time.Now()
		if !tm.Reset(2 * ms) {
			t.Error("Reset of a fired, unreceived timer: want true (Go 1.23)")
		}
		if v := lang.On(tm.C).Recv(); v.Sub(reset) < 2*ms {
			t.Errorf("received a value %v after Reset, want one at least 2ms later", v.Sub(reset))
		}
		if tm.Stop() || tm.Reset(ms) {
			t.Error("Stop or Reset after the value was received: want false")
		}
		lang.On(tm.C).Recv()
	})
}

func TestAfterFunc(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		ran := lang.Make[lang.Chan[string]](2)
		time.AfterFunc(ms, func() { lang.On(ran).Send("ran") })
		stopped := time.AfterFunc(ms, func() { lang.On(ran).Send("stopped one ran") })
		if !stopped.Stop() {
			t.Error("Stop of an armed AfterFunc: want true")
		}
		if s := lang.On(ran).Recv(); s != "ran" {
			t.Error(s)
		}
		time.Sleep(5 * ms)
		if lang.On(ran).Len() != 0 || stopped.Reset(ms) {
			t.Error("the stopped function ran, or Reset of a stopped timer reported true")
		}
		if s := lang.On(ran).Recv(); s != "stopped one ran" {
			t.Error("Reset did not rearm the function:", s)
		}
	})
}

func TestTicker(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		tk := time.NewTicker(ms)
		for range 3 {
			lang.On(tk.C).Recv()
		}
		tk.Reset(2 * ms)
		lang.On(tk.C).Recv()
		tk.Stop()
		time.Sleep(5 * ms)
		if pending(tk.C) {
			t.Error("a tick after Stop")
		}
		if !lang.IsNil(time.Tick(0)) || lang.IsNil(time.Tick(stdtime.Hour)) {
			t.Error("Tick(0) must be nil, Tick(1h) not")
		}
		for _, f := range []func(){func() { time.NewTicker(0) }, func() { tk.Reset(-1) }} {
			if p := recovered(f); p == nil || fmt.Sprint(p)[:12] != "non-positive" {
				t.Errorf("a non-positive period panicked with %v", p)
			}
		}
		v := lang.On(time.After(ms)).Recv()
		if time.Since(v) < 0 || time.Until(v) > 0 {
			t.Error("After's value is in the future")
		}
	})
}

func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// Inside a World the clock is virtual: it starts in 2030 and a sleep moves
// it by exactly its duration, at no cost.
func TestVirtualClock(t *testing.T) {
	res := dettest.World(t, 1, func() {
		start := time.Now()
		if start.Year() != 2030 {
			t.Errorf("virtual time starts at %v", start)
		}
		time.Sleep(stdtime.Hour)
		lang.On(time.After(stdtime.Minute)).Recv()
		if d := time.Since(start); d != stdtime.Hour+stdtime.Minute {
			t.Errorf("Since: %v", d)
		}
		if d := time.Until(start.Add(2 * stdtime.Hour)); d != stdtime.Hour-stdtime.Minute {
			t.Errorf("Until: %v", d)
		}
	})
	if res.Elapsed != stdtime.Hour+stdtime.Minute {
		t.Errorf("elapsed %v", res.Elapsed)
	}
}
