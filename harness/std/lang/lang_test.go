package lang_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/heddle-go/heddle/harness"
	hcontext "github.com/heddle-go/heddle/harness/std/context"
	"github.com/heddle-go/heddle/harness/std/internal/dettest"
	"github.com/heddle-go/heddle/harness/std/lang"
)

// Events is a named type over a Chan, as the rewriter makes of type Events
// chan string.
type Events lang.Chan[string]

func TestOperations(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		c := lang.Make[lang.Chan[int]](2)
		lang.On(c).Send(1)
		lang.On(c).Send(2)
		if n, k := lang.On(c).Len(), lang.On(c).Cap(); n != 2 || k != 2 {
			t.Errorf("len %d cap %d, want 2 2", n, k)
		}
		lang.On(c).Close()
		a := lang.On(c).Recv()
		b, ok1 := lang.On(c).RecvOK()
		z, ok2 := lang.On(c).RecvOK()
		if a != 1 || b != 2 || !ok1 || z != 0 || ok2 {
			t.Errorf("received %d %d %v %d %v, want 1 2 true 0 false", a, b, ok1, z, ok2)
		}

		e := lang.Make[Events](1)
		var plain lang.Chan[string] = e
		lang.On(e).Send("x")
		if s := lang.On(plain).Recv(); s != "x" || plain != lang.Chan[string](e) {
			t.Errorf("named channel: got %q, equal %v", s, plain == lang.Chan[string](e))
		}

		var nilc lang.Chan[int]
		if !lang.IsNil(nilc) || lang.IsNil(c) || lang.On(nilc).Len() != 0 || lang.On(nilc).Cap() != 0 {
			t.Error("nil channel: IsNil, Len or Cap wrong")
		}
		if x, y := lang.Make[lang.Chan[int]](0), lang.Make[lang.Chan[int]](0); x == y {
			t.Error("two channels compare equal")
		}
	})
}

// panics returns the value f panics with, or nil.
func panics(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

func TestPanics(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		closed := lang.Make[lang.Chan[int]](1)
		lang.On(closed).Close()
		var nilc lang.Chan[int]
		for name, f := range map[string]func(){
			"send on closed channel":  func() { lang.On(closed).Send(1) },
			"close of closed channel": func() { lang.On(closed).Close() },
			"close of nil channel":    func() { lang.On(nilc).Close() },
			"size out of range":       func() { lang.Make[lang.Chan[int]](-1) },
		} {
			if p := panics(f); p == nil || !strings.Contains(fmt.Sprint(p), name) {
				t.Errorf("%s: panicked with %v", name, p)
			}
		}
	})
}

func TestSelect(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		a, b := lang.Make[lang.Chan[int]](1), lang.Make[lang.Chan[int]](1)
		var nilc lang.Chan[int]
		if i := lang.Select(true, lang.On(a).RecvCase(), lang.On(nilc).SendCase(1)); i != -1 {
			t.Errorf("nothing ready: chose %d, want the default", i)
		}
		send := lang.On(b).SendCase(7)
		recvNil := lang.On(nilc).RecvCase()
		if i := lang.Select(false, recvNil, send); i != 1 {
			t.Errorf("chose %d, want the send", i)
		}
		r := lang.On(b).RecvCase()
		if i := lang.Select(false, lang.On(nilc).RecvCase(), r); i != 1 || r.V != 7 || !r.OK {
			t.Errorf("chose %d with %d %v, want 1 with 7 true", i, r.V, r.OK)
		}
		lang.On(a).Close()
		r = lang.On(a).RecvCase()
		if i := lang.Select(false, r); i != 0 || r.V != 0 || r.OK {
			t.Errorf("closed: chose %d with %d %v", i, r.V, r.OK)
		}
	})
}

// A select among ready cases chooses by the seed: the same seed the same
// case, and across seeds every case.
func TestSelectChoiceFromSeed(t *testing.T) {
	choice := func(seed int64) int {
		var i int
		dettest.World(t, seed, func() {
			a, b := lang.Make[lang.Chan[int]](1), lang.Make[lang.Chan[int]](1)
			lang.On(a).Send(1)
			lang.On(b).Send(2)
			i = lang.Select(false, lang.On(a).RecvCase(), lang.On(b).RecvCase())
		})
		return i
	}
	seen := map[int]bool{}
	for seed := range int64(20) {
		c := choice(seed)
		if choice(seed) != c {
			t.Fatalf("seed %d chose differently twice", seed)
		}
		seen[c] = true
	}
	if !seen[0] || !seen[1] {
		t.Errorf("20 seeds chose only %v", seen)
	}
}

// A channel of code that is not rewritten works in both modes; inside a
// World it is polled, so a World goroutine that fills it wakes the
// receiver. (Two World goroutines never meet on an unbuffered Go channel:
// neither blocks on it, both poll.)
func TestWrappedGoChannel(t *testing.T) {
	dettest.Both(t, func(t *testing.T) {
		g := make(chan int, 1)
		w := lang.Wrap(g)
		done := lang.Make[lang.Chan[bool]](0)
		harness.Go(func() {
			lang.On(w).Send(5)
			lang.On(done).Send(true)
		})
		r := lang.On(lang.WrapRecv((<-chan int)(g))).RecvCase()
		if i := lang.Select(false, r, lang.On(lang.Chan[int]{}).RecvCase()); i != 0 || r.V != 5 {
			t.Errorf("chose %d with %d", i, r.V)
		}
		lang.On(done).Recv()
		if lang.Wrap[int](nil) != (lang.Chan[int]{}) || !lang.IsNil(lang.WrapSend[int](nil)) {
			t.Error("wrapping nil is not a nil channel")
		}
		if lang.ExportRecv(lang.WrapRecv((<-chan int)(g))) != (<-chan int)(g) || lang.Export(w) != g {
			t.Error("a wrapped channel does not export back to itself")
		}
	})
}

// The Done channel of a drop-in context is the World's: waiting for it
// blocks the goroutine, and the virtual clock moves to the deadline.
func TestDoneOfWorldContext(t *testing.T) {
	res := dettest.World(t, 1, func() {
		ctx, cancel := hcontext.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		lang.On(lang.Done(ctx)).Recv()
		r := lang.On(lang.Done(ctx)).RecvCase()
		if i := lang.Select(false, r); i != 0 || r.OK {
			t.Errorf("select on a done context: %d %v", i, r.OK)
		}
	})
	if res.Elapsed != time.Minute {
		t.Errorf("virtual time %v, want 1m", res.Elapsed)
	}
	if !lang.IsNil(lang.Done(context.Background())) {
		t.Error("Done of Background is not nil")
	}
}

func TestExport(t *testing.T) {
	c := lang.Make[lang.Chan[int]](1)
	lang.Export(c) <- 3
	if v := lang.On(c).Recv(); v != 3 {
		t.Errorf("outside a World a channel exports to its Go channel: got %d", v)
	}
	dettest.World(t, 1, func() {
		c := lang.Make[lang.Chan[int]](1)
		if p := panics(func() { lang.Export(c) }); !strings.Contains(fmt.Sprint(p), "deterministic World") {
			t.Errorf("exporting a World's channel: %v", p)
		}
	})
}

// Inside a World a nil channel blocks the goroutine where the runtime sees
// it: a deadlock, not a hang.
func TestNilChannelDeadlocks(t *testing.T) {
	for name, op := range map[string]func(){
		"send":   func() { lang.On(lang.Chan[int]{}).Send(1) },
		"recv":   func() { lang.On(lang.Chan[int]{}).Recv() },
		"select": func() { lang.Select(false, lang.On(lang.Chan[int]{}).RecvCase()) },
	} {
		res := harness.Run(harness.Options{}, op)
		if len(res.Failures) == 0 || res.Failures[0].Kind != harness.Deadlock {
			t.Errorf("%s on a nil channel: %v, want a deadlock", name, res.Err())
		}
	}
}

func TestSize(t *testing.T) {
	if lang.Size(int8(3)) != 3 || lang.Size(uint64(7)) != 7 {
		t.Error("Size")
	}
}

// A Go channel that only code outside the World fills (a goroutine of a
// package that is not rewritten, real I/O) is waited for in real time once
// nothing in the World can move: the value arrives, in a receive, a send and
// a select, whatever the wall-clock time it takes.
func TestGoChannelFilledFromOutside(t *testing.T) {
	for seed := int64(0); seed < 5; seed++ {
		var got []int
		res := harness.Run(harness.Options{Seed: seed}, func() {
			in, out, sel := make(chan int), make(chan int), make(chan int)
			go func() { // outside the World, as a library's goroutine
				time.Sleep(20 * time.Millisecond)
				in <- 1
				out <- <-out + 1 // takes the World's 1, gives 2 back
				time.Sleep(20 * time.Millisecond)
				sel <- 3
			}()
			got = append(got, lang.On(lang.Wrap(in)).Recv())
			lang.On(lang.Wrap(out)).Send(1)
			got = append(got, lang.On(lang.Wrap(out)).Recv())
			world := lang.Make[lang.Chan[int]](0)
			r := lang.On(lang.Wrap(sel)).RecvCase()
			if i := lang.Select(false, lang.On(world).RecvCase(), r); i == 1 {
				got = append(got, r.V)
			}
		})
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != "[1 2 3]" {
			t.Errorf("seed %d: got %v, want [1 2 3]", seed, got)
		}
	}
}

// TestGoChannelNobodyFillsChild is run by TestGoChannelNobodyFills.
func TestGoChannelNobodyFillsChild(t *testing.T) {
	if os.Getenv("HEDDLE_OUTSIDE_CHILD") == "" {
		t.Skip("run by TestGoChannelNobodyFills")
	}
	res := harness.Run(harness.Options{Watchdog: 300 * time.Millisecond}, func() {
		never := make(chan int)
		lang.On(lang.Wrap(never)).Recv() // the receive that waits
	})
	for _, f := range res.Failures {
		t.Logf("FAILURE %s: %s", f.Kind, f.Message)
	}
}

// A Go channel that nothing fills ends the run as Stuck, naming the line that
// waits, after a second of waiting and the watchdog: never a hang, and
// never a run to the step limit.
func TestGoChannelNobodyFills(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestGoChannelNobodyFillsChild$", "-test.count=1", "-test.v", "-test.timeout=1m")
	cmd.Env = append(os.Environ(), "HEDDLE_OUTSIDE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "FAILURE Stuck: goroutine 1 blocked [select] waiting for a channel that only code outside " +
		"heddle's control can fill (a channel of a package that is not rewritten) (lang/lang_test.go:"
	if !strings.Contains(string(out), want) {
		t.Errorf("output does not contain %q:\n%s", want, out)
	}
}

// Trace sites are the program's lines, past heddle's drop-ins: a rewritten
// channel operation or atomic load is traced where the program made it.
func TestTraceSitesAreTheProgram(t *testing.T) {
	res := harness.Run(harness.Options{Trace: true}, func() {
		c := lang.Make[lang.Chan[int]](1)
		lang.On(c).Send(1) // traced here
		lang.On(c).Recv()  // and here
	})
	var sites []string
	for _, e := range res.Trace {
		if e.Kind == harness.EvRun {
			sites = append(sites, e.Site())
		}
	}
	for _, s := range sites {
		if !strings.HasPrefix(s, "lang/lang_test.go:") {
			t.Errorf("trace site %s is not the program's (all: %v)", s, sites)
		}
	}
	if len(sites) != 2 {
		t.Errorf("got sites %v, want the send's and the receive's", sites)
	}
}
