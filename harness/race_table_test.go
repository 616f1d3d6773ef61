package harness

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The race table: each program twice, in plain Go and on heddle's
// primitives. The plain version runs once under the race detector; the heddle
// version runs over raceTableSeeds seeds; each in a child process of its own,
// since the race detector reports a race once per process. heddle must report
// a race exactly where plain Go reports one: never fewer (a hidden race), and
// never more (a false alarm on a program Go's memory model orders).
//
// Plain versions make their interleaving certain with real sleeps, or with a
// flag written and polled out of the race detector's sight (poke, peek):
// neither is a happens-before edge, and the race detector reports what is
// unordered, whenever it happens.

const raceTableSeeds = 200

// nap is a real sleep in a plain program, long enough for another goroutine
// to get where the program needs it.
const nap = 20 * time.Millisecond

// poke sets a flag without the race detector seeing it.
//
//go:norace
func poke(p *int32) { *p = 1 }

// peek waits until poke set the flag, without the race detector seeing it.
//
//go:norace
func peek(p *int32) {
	for *(*int32)(noescapePtr(p)) == 0 {
		runtime.Gosched()
	}
}

// noescapePtr keeps the compiler from hoisting peek's load out of its loop.
//
//go:noinline
func noescapePtr(p *int32) *int32 { return p }

type raceTableEntry struct {
	name   string
	racy   bool // what plain Go reports, checked too
	plain  func()
	heddle func()
}

var raceTable = []raceTableEntry{
	{name: "chan/close-races-send", racy: true,
		plain: func() {
			ch := make(chan int, 1)
			go func() { ch <- 1 }()
			time.Sleep(nap)
			close(ch)
		},
		heddle: func() {
			ch := NewChan[int](1)
			Go(func() { ch.Send(1) })
			Sleep(nap)
			ch.Close()
		}},
	{name: "chan/close-after-receive", racy: false,
		plain: func() {
			ch := make(chan int, 1)
			go func() { ch <- 1 }()
			<-ch
			close(ch)
		},
		heddle: func() {
			ch := NewChan[int](1)
			Go(func() { ch.Send(1) })
			ch.Recv()
			ch.Close()
		}},
	{name: "chan/buffered-receiver-not-before-send", racy: true,
		plain: func() {
			x := 0
			ch := make(chan int, 1)
			done := make(chan bool)
			go func() { x = 1; <-ch; done <- true }()
			time.Sleep(nap) // the receiver is blocked: its receive is no edge to the send
			ch <- 1
			_ = x
			<-done
		},
		heddle: func() {
			x := 0
			ch := NewChan[int](1)
			done := NewChan[bool](0)
			Go(func() { x = 1; ch.Recv(); done.Send(true) })
			Sleep(nap)
			ch.Send(1)
			_ = x
			done.Recv()
		}},
	{name: "chan/unbuffered-receiver-before-send", racy: false,
		plain: func() {
			x := 0
			ch := make(chan int)
			done := make(chan bool)
			go func() { x = 1; <-ch; done <- true }()
			ch <- 1
			_ = x
			<-done
		},
		heddle: func() {
			x := 0
			ch := NewChan[int](0)
			done := NewChan[bool](0)
			Go(func() { x = 1; ch.Recv(); done.Send(true) })
			ch.Send(1)
			_ = x
			done.Recv()
		}},
	{name: "chan/zero-size-semaphore", racy: false, // Go chains every operation of a chan struct{}
		plain: func() {
			x := 0
			var sent int32
			sem := make(chan struct{}, 2)
			go func() { x = 1; sem <- struct{}{}; poke(&sent) }()
			peek(&sent)
			sem <- struct{}{}
			_ = x
		},
		heddle: func() {
			x := 0
			sem := NewChan[struct{}](2)
			Go(func() { x = 1; sem.Send(struct{}{}) })
			Sleep(nap)
			sem.Send(struct{}{})
			_ = x
		}},
	{name: "chan/sized-semaphore", racy: true, // ... but not of a chan int: only the k+C rule
		plain: func() {
			x := 0
			sem := make(chan int, 2)
			go func() { x = 1; sem <- 1 }()
			time.Sleep(nap)
			sem <- 1
			_ = x
		},
		heddle: func() {
			x := 0
			sem := NewChan[int](2)
			Go(func() { x = 1; sem.Send(1) })
			Sleep(nap)
			sem.Send(1)
			_ = x
		}},
	{name: "waitgroup/add-from-zero-races-wait", racy: true,
		plain: func() {
			var wg sync.WaitGroup
			var added int32
			add := wg.Add // the misuse on purpose (vet would flag wg.Add inside the goroutine)
			go func() { add(1); poke(&added); time.Sleep(10 * nap); wg.Done() }()
			peek(&added)
			wg.Wait()
		},
		heddle: func() {
			var wg WaitGroup
			Go(func() { wg.Add(1); Sleep(2 * nap); wg.Done() })
			Sleep(nap)
			wg.Wait()
		}},
	{name: "waitgroup/add-before-go", racy: false,
		plain: func() {
			x := 0
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { x = 1; time.Sleep(nap); wg.Done() }()
			wg.Wait()
			_ = x
		},
		heddle: func() {
			x := 0
			var wg WaitGroup
			wg.Add(1)
			Go(func() { x = 1; Sleep(nap); wg.Done() })
			wg.Wait()
			_ = x
		}},
	{name: "cond/write-after-unlock", racy: true,
		plain: func() {
			var mu sync.Mutex
			cond := sync.NewCond(&mu)
			ready, data := false, 0
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				mu.Lock()
				ready = true
				mu.Unlock()
				data = 1
				cond.Signal()
			}()
			mu.Lock()
			for !ready {
				cond.Wait()
			}
			mu.Unlock()
			_ = data
			wg.Wait()
		},
		heddle: func() {
			var mu Mutex
			cond := NewCond(&mu)
			ready, data := false, 0
			var wg WaitGroup
			wg.Go(func() { mu.Lock(); ready = true; mu.Unlock(); data = 1; cond.Signal() })
			mu.Lock()
			for !ready {
				cond.Wait()
			}
			mu.Unlock()
			_ = data
			wg.Wait()
		}},
	{name: "cond/write-under-lock", racy: false,
		plain: func() {
			var mu sync.Mutex
			cond := sync.NewCond(&mu)
			ready, data := false, 0
			go func() { mu.Lock(); data = 1; ready = true; mu.Unlock(); cond.Signal() }()
			mu.Lock()
			for !ready {
				cond.Wait()
			}
			mu.Unlock()
			_ = data
		},
		heddle: func() {
			var mu Mutex
			cond := NewCond(&mu)
			ready, data := false, 0
			Go(func() { mu.Lock(); data = 1; ready = true; mu.Unlock(); cond.Signal() })
			mu.Lock()
			for !ready {
				cond.Wait()
			}
			mu.Unlock()
			_ = data
		}},
	{name: "once/read-without-do", racy: true,
		plain: func() {
			var once sync.Once
			x := 0
			go func() { once.Do(func() { x = 1 }) }()
			time.Sleep(nap)
			_ = x
		},
		heddle: func() {
			var once Once
			x := 0
			Go(func() { once.Do(func() { x = 1 }) })
			Sleep(nap)
			_ = x
		}},
	{name: "once/read-after-do", racy: false,
		plain: func() {
			var once sync.Once
			x := 0
			go func() { once.Do(func() { x = 1 }) }()
			once.Do(func() { x = 2 })
			_ = x
		},
		heddle: func() {
			var once Once
			x := 0
			Go(func() { once.Do(func() { x = 1 }) })
			once.Do(func() { x = 2 })
			_ = x
		}},
	{name: "select/send-case-races-close", racy: true,
		plain: func() {
			ch := make(chan int, 1)
			go func() {
				select {
				case ch <- 1:
				default:
				}
			}()
			time.Sleep(nap)
			close(ch)
		},
		heddle: func() {
			ch := NewChan[int](1)
			Go(func() { Select(ch.SendCase(1), Default()) })
			Sleep(nap)
			ch.Close()
		}},
	{name: "select/receive-orders", racy: false,
		plain: func() {
			x := 0
			ch, never := make(chan int), make(chan int)
			go func() { x = 1; ch <- 1 }()
			select {
			case <-ch:
			case <-never:
			}
			_ = x
		},
		heddle: func() {
			x := 0
			ch, never := NewChan[int](0), NewChan[int](0)
			Go(func() { x = 1; ch.Send(1) })
			Select(ch.RecvCase(nil, nil), never.RecvCase(nil, nil))
			_ = x
		}},
	{name: "timer/afterfunc-then-sleep", racy: true,
		plain: func() {
			x := 0
			time.AfterFunc(time.Millisecond, func() { x = 1 })
			time.Sleep(nap)
			_ = x
		},
		heddle: func() {
			x := 0
			AfterFunc(time.Millisecond, func() { x = 1 })
			Sleep(nap)
			_ = x
		}},
	{name: "timer/arming-orders-the-tick", racy: false, // arming (here Reset) happens before its tick is received
		plain: func() {
			x := 0
			t := time.NewTimer(time.Hour)
			done := make(chan bool)
			go func() { <-t.C; _ = x; done <- true }()
			x = 1
			t.Reset(time.Millisecond)
			<-done
		},
		heddle: func() {
			x := 0
			t := NewTimer(time.Hour)
			done := NewChan[bool](0)
			Go(func() { t.C.Recv(); _ = x; done.Send(true) })
			x = 1
			t.Reset(time.Millisecond)
			done.Recv()
		}},
	{name: "timer/write-after-arming", racy: true,
		plain: func() {
			x := 0
			t := time.NewTimer(time.Hour)
			done := make(chan bool)
			go func() { <-t.C; _ = x; done <- true }()
			t.Reset(time.Millisecond)
			x = 1
			<-done
		},
		heddle: func() {
			x := 0
			t := NewTimer(time.Hour)
			done := NewChan[bool](0)
			Go(func() { t.C.Recv(); _ = x; done.Send(true) })
			t.Reset(time.Millisecond)
			x = 1
			done.Recv()
		}},
	{name: "context/write-after-cancel", racy: true,
		plain: func() {
			x := 0
			ctx, cancel := context.WithCancel(context.Background())
			go func() { cancel(); x = 1 }()
			<-ctx.Done()
			_ = x
			time.Sleep(nap)
		},
		heddle: func() {
			x := 0
			ctx, cancel := WithCancel(context.Background())
			Go(func() { cancel(); x = 1 })
			Select(Done(ctx))
			_ = x
			Sleep(nap)
		}},
	{name: "context/cancel-orders-done-and-err", racy: false,
		plain: func() {
			x, y := 0, 0
			ctx, cancel := context.WithCancel(context.Background())
			go func() { x = 1; y = 1; cancel() }()
			<-ctx.Done()
			_ = x
			for ctx.Err() == nil {
			}
			_ = y
		},
		heddle: func() {
			x, y := 0, 0
			ctx, cancel := WithCancel(context.Background())
			Go(func() { x = 1; y = 1; cancel() })
			Select(Done(ctx))
			_ = x
			for ctx.Err() == nil {
				Yield()
			}
			_ = y
		}},
	{name: "map/concurrent-write", racy: true,
		plain: func() {
			m := map[int]int{}
			done := make(chan bool)
			go func() { m[1] = 1; done <- true }()
			m[2] = 2
			<-done
		},
		heddle: func() {
			m := map[int]int{}
			done := NewChan[bool](0)
			Go(func() { m[1] = 1; done.Send(true) })
			m[2] = 2
			done.Recv()
		}},
	{name: "map/locked", racy: false,
		plain: func() {
			m := map[int]int{}
			var mu sync.Mutex
			done := make(chan bool)
			go func() { mu.Lock(); m[1] = 1; mu.Unlock(); done <- true }()
			mu.Lock()
			m[2] = 2
			mu.Unlock()
			<-done
		},
		heddle: func() {
			m := map[int]int{}
			var mu Mutex
			done := NewChan[bool](0)
			Go(func() { mu.Lock(); m[1] = 1; mu.Unlock(); done.Send(true) })
			mu.Lock()
			m[2] = 2
			mu.Unlock()
			done.Recv()
		}},
	{name: "slice/concurrent-append", racy: true,
		plain: func() {
			var s []int
			done := make(chan bool)
			go func() { s = append(s, 1); done <- true }()
			s = append(s, 2)
			<-done
		},
		heddle: func() {
			var s []int
			done := NewChan[bool](0)
			Go(func() { s = append(s, 1); done.Send(true) })
			s = append(s, 2)
			done.Recv()
		}},
	{name: "slice/handed-over", racy: false,
		plain: func() {
			s := make([]int, 4)
			ch := make(chan []int)
			go func() { s[0] = 1; ch <- s }()
			t := <-ch
			t[1] = 2
		},
		heddle: func() {
			s := make([]int, 4)
			ch := NewChan[[]int](0)
			Go(func() { s[0] = 1; ch.Send(s) })
			t, _ := ch.Recv()
			t[1] = 2
		}},
}

// TestRaceTableChild is the child side of TestRaceTable.
func TestRaceTableChild(t *testing.T) {
	spec := os.Getenv("HEDDLE_RACE_TABLE")
	if spec == "" {
		t.Skip("run by TestRaceTable")
	}
	name, side, _ := strings.Cut(spec, "@")
	for _, e := range raceTable {
		if e.name != name {
			continue
		}
		if side == "plain" {
			e.plain()
			return
		}
		for seed := int64(0); seed < raceTableSeeds; seed++ {
			Run(Options{Seed: seed}, e.heddle)
		}
		return
	}
	t.Fatalf("no program %q", name)
}

func TestRaceTable(t *testing.T) {
	if !raceEnabled || !tokenHidesEdges {
		t.Skip("needs -race on amd64 or arm64")
	}
	for _, e := range raceTable {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			reported := map[string]bool{}
			outs := map[string]string{}
			for _, side := range []string{"plain", "heddle"} {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRaceTableChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), "HEDDLE_RACE_TABLE="+e.name+"@"+side, "GORACE=atexit_sleep_ms=0")
				out, _ := cmd.CombinedOutput()
				outs[side] = string(out)
				reported[side] = strings.Contains(string(out), "WARNING: DATA RACE")
			}
			require.Equal(t, e.racy, reported["plain"], "plain Go (the table says racy=%v):\n%s", e.racy, outs["plain"])
			require.Equal(t, reported["plain"], reported["heddle"],
				"plain Go reports a race: %v, heddle over %d seeds: %v\n%s", reported["plain"], raceTableSeeds, reported["heddle"], outs["heddle"])
		})
	}
}
