package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression tests of issue 14 (runtime fidelity): each failed before its fix.

// Timers due at the same instant no longer all fire before the goroutines
// they wake run: a worker woken at 10 ms can deliver before a 10 ms timeout
// fires, or not, depending on the seed.
func TestSameInstantTimerOrderIsAChoice(t *testing.T) {
	outcomes := map[string]int{}
	for seed := int64(0); seed < 200; seed++ {
		var got string
		res := Run(Options{Seed: seed}, func() {
			work := NewChan[int](0)
			Go(func() {
				Sleep(10 * time.Millisecond)
				Select(work.SendCase(1), Default())
			})
			timeout := NewTimer(10 * time.Millisecond)
			switch Select(work.RecvCase(nil, nil), timeout.C.RecvCase(nil, nil)) {
			case 0:
				got = "work"
			case 1:
				got = "timeout"
			}
		})
		require.NoError(t, res.Err())
		outcomes[got]++
	}
	t.Logf("outcomes over 200 seeds: %v", outcomes)
	assert.Positive(t, outcomes["work"], "the worker woken at the timeout's instant never won")
	assert.Positive(t, outcomes["timeout"])
}

// Work that takes a little less than a timeout can lose to it: a timer due
// within a millisecond may fire while goroutines are runnable.
func TestNearTieCanFlip(t *testing.T) {
	outcomes := map[string]int{}
	for seed := int64(0); seed < 200; seed++ {
		var got string
		res := Run(Options{Seed: seed}, func() {
			done := NewChan[int](1)
			Go(func() {
				Sleep(9*time.Millisecond + 500*time.Microsecond)
				done.Send(1)
			})
			if Select(done.RecvCase(nil, nil), After(10*time.Millisecond).RecvCase(nil, nil)) == 0 {
				got = "work"
			} else {
				got = "timeout"
			}
		})
		require.NoError(t, res.Err())
		outcomes[got]++
	}
	t.Logf("outcomes over 200 seeds: %v", outcomes)
	assert.Positive(t, outcomes["timeout"], "9.5 ms of work never lost to a 10 ms timeout")
	assert.Positive(t, outcomes["work"])
}

// Jitter delays timers by up to its bound, from the seed: a run is still
// reproduced by its seed, and near ties flip further apart than the
// early-firing horizon.
func TestJitteredTimers(t *testing.T) {
	_, err := Jittered(RandomWalk(), 2, 0)
	require.Error(t, err)
	_, err = Jittered(RandomWalk(), 0.1, -time.Second)
	require.Error(t, err)
	mk := func() Strategy {
		s, err := Jittered(RandomWalk(), 0.2, 5*time.Millisecond)
		require.NoError(t, err)
		return s
	}
	require.Equal(t, "random+jitter(0.2,5ms)", mk().String())
	slept := map[time.Duration]bool{}
	outcomes := map[string]int{}
	for seed := int64(0); seed < 100; seed++ {
		var took time.Duration
		var got string
		prog := func() {
			t0 := Now()
			Sleep(10 * time.Millisecond)
			took = Since(t0)
			done := NewChan[int](1)
			Go(func() {
				Sleep(8 * time.Millisecond)
				done.Send(1)
			})
			if Select(done.RecvCase(nil, nil), After(10*time.Millisecond).RecvCase(nil, nil)) == 0 {
				got = "work"
			} else {
				got = "timeout"
			}
		}
		a := Run(Options{Seed: seed, Strategy: mk()}, prog)
		require.NoError(t, a.Err())
		assert.GreaterOrEqual(t, took, 10*time.Millisecond)
		assert.LessOrEqual(t, took, 12*time.Millisecond, "jitter is at most 0.2 of the duration")
		slept[took] = true
		outcomes[got]++
		b := Run(Options{Seed: seed, Strategy: mk()}, prog)
		require.Equal(t, a.TraceHash, b.TraceHash, "seed %d", seed)
		// A replay wrapped in the same jitter reproduces the run.
		r, _ := Jittered(Replay(seed, a.Schedule), 0.2, 5*time.Millisecond)
		c := Run(Options{Seed: seed, Strategy: r}, prog)
		require.NoError(t, c.Err())
		require.Equal(t, a.TraceHash, c.TraceHash, "seed %d", seed)
	}
	assert.Greater(t, len(slept), 10, "jitter varies with the seed")
	t.Logf("8 ms of work against a 10 ms timeout, jittered: %v", outcomes)
	assert.Positive(t, outcomes["timeout"])
	assert.Positive(t, outcomes["work"])
}

// A replay that leaves its schedule ends the run with its own failure.
func TestReplayDivergenceIsReported(t *testing.T) {
	prog := func() {
		var wg WaitGroup
		for i := 0; i < 3; i++ {
			wg.Go(func() { Yield() })
		}
		wg.Wait()
	}
	orig := Run(Options{Seed: 3}, prog)
	require.NoError(t, orig.Err())
	require.NotEmpty(t, orig.Schedule)

	same := Run(Options{Seed: 3, Strategy: Replay(3, orig.Schedule)}, prog)
	require.NoError(t, same.Err())
	require.Equal(t, orig.TraceHash, same.TraceHash)

	bad := slices.Clone(orig.Schedule)
	bad[0] = 99
	res := Run(Options{Seed: 3, Strategy: Replay(3, bad)}, prog)
	require.Len(t, res.Failures, 1)
	assert.Equal(t, Diverged, res.Failures[0].Kind)
	assert.Regexp(t, `^schedule diverged at step \d+: wanted g99, runnable g\d+( g\d+)+$`, res.Failures[0].Message)

	// A changed program: one goroutine fewer.
	res = Run(Options{Seed: 3, Strategy: Replay(3, orig.Schedule)}, func() {
		var wg WaitGroup
		wg.Go(func() { Yield() })
		wg.Wait()
	})
	require.NotEmpty(t, res.Failures)
	assert.Equal(t, Diverged, res.Failures[0].Kind, "%v", res.Err())

	// A schedule longer than the run.
	res = Run(Options{Seed: 3, Strategy: Replay(3, append(slices.Clone(orig.Schedule), 1, 1))}, prog)
	require.Len(t, res.Failures, 1)
	assert.Equal(t, Diverged, res.Failures[0].Kind)
	assert.Contains(t, res.Failures[0].Message, "the run ended after")

	// Another seed.
	res = Run(Options{Seed: 4, Strategy: Replay(3, orig.Schedule)}, prog)
	require.Len(t, res.Failures, 1)
	assert.Equal(t, Diverged, res.Failures[0].Kind)

	// Guided follows what it can and never fails.
	res = Run(Options{Seed: 3, Strategy: Guided(3, bad)}, prog)
	require.NoError(t, res.Err())
}

// A failure report names what replays it: the seed and the strategy.
func TestErrNamesSeedAndStrategy(t *testing.T) {
	pct, err := PCT(2, 50)
	require.NoError(t, err)
	res := Run(Options{Seed: 7, Strategy: pct}, func() { panic("boom") })
	require.Error(t, res.Err())
	assert.Contains(t, res.Err().Error(), "seed 7, strategy pct(d=2,k=50): ")
}

// A panic's failure points at the program's own frame, with a stack that
// leaves out Go's panic machinery and heddle.
func TestPanicSiteIsTheProgram(t *testing.T) {
	res := Run(Options{}, func() {
		Go(func() {
			panic("boom") // the site
		})
		Sleep(time.Second)
	})
	require.Len(t, res.Failures, 1)
	f := res.Failures[0]
	require.Equal(t, Panic, f.Kind)
	assert.Regexp(t, `harness/fidelity_test\.go:\d+$`, f.Site)
	assert.Equal(t, f.Site, f.Goroutines[0].BlockedAt)
	assert.NotContains(t, f.Stack, "runtime/panic.go")
	assert.NotContains(t, f.Stack, "harness/world.go")
	assert.Contains(t, f.Stack, "TestPanicSiteIsTheProgram")
	assert.Contains(t, f.String(), "(at "+f.Site+")")

	// A panic heddle raises for the program points at the program's call.
	res = Run(Options{}, func() {
		ch := NewChan[int](1)
		ch.Close()
		ch.Send(1) // the site
	})
	require.Len(t, res.Failures, 1)
	assert.Regexp(t, `harness/fidelity_test\.go:\d+$`, res.Failures[0].Site)
}

// An ABBA deadlock says who holds each lock another goroutine waits for.
func TestDeadlockNamesLockHolders(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		res := Run(Options{Seed: seed}, func() {
			var a, b Mutex
			var wg WaitGroup
			n := 0
			wg.Go(func() {
				a.Lock()
				Yield()
				b.Lock()
				n++
				b.Unlock()
				a.Unlock()
			})
			wg.Go(func() {
				b.Lock()
				Yield()
				a.Lock()
				n++
				a.Unlock()
				b.Unlock()
			})
			wg.Wait()
		})
		if !res.Failed() {
			continue
		}
		f := res.Failures[0]
		require.Equal(t, Deadlock, f.Kind)
		held := map[int][]int{}
		for _, g := range f.Goroutines {
			if g.State == "mutex lock" {
				held[g.ID] = g.HeldBy
			}
		}
		require.Equal(t, map[int][]int{2: {3}, 3: {2}}, held, "%v", f)
		assert.Contains(t, f.String(), "[mutex lock, held by goroutine 3]")
		return
	}
	t.Fatal("no seed deadlocked")
}

// A goroutine started with a plain go statement that runs heddle code is
// named, with its go statement, instead of a deadlock of main.
func TestStrayGoroutineIsNamed(t *testing.T) {
	for seed := int64(0); seed < 10; seed++ {
		res := Run(Options{Seed: seed}, func() {
			ch := NewChan[int](0)
			go func() { // the go statement
				time.Sleep(5 * time.Millisecond) // long after main blocked
				ch.Send(1)
			}()
			ch.Recv()
		})
		require.NotEmpty(t, res.Failures, "seed %d", seed)
		f := res.Failures[0]
		require.Equal(t, Stuck, f.Kind, "%v", res.Err())
		assert.Contains(t, f.Message, "plain go statement at harness/fidelity_test.go:")
		assert.Contains(t, f.Message, "harness.Go")
		for _, g := range res.Failures {
			assert.NotEqual(t, Deadlock, g.Kind)
		}
	}
}

// TestStrayChild is the child side of TestStrayRacingTheWorld: a stray that
// calls into heddle while the goroutine it stands for runs can take its
// place; the run must still end (at worst Stuck, poisoning the process).
func TestStrayChild(t *testing.T) {
	if os.Getenv("HEDDLE_STRAY_CHILD") == "" {
		t.Skip("run by TestStrayRacingTheWorld")
	}
	named := 0
	for seed := int64(0); seed < 100 && poisoned == ""; seed++ {
		res := Run(Options{Seed: seed, Watchdog: 300 * time.Millisecond}, func() {
			ch := NewChan[int](0)
			go func() { ch.Send(1) }() // races with main
			ch.Recv()
		})
		if res.Failed() && strings.Contains(res.Failures[0].Message, "plain go statement") {
			named++
		}
	}
	t.Logf("STRAYS NAMED %d", named)
}

func TestStrayRacingTheWorld(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStrayChild$", "-test.count=1", "-test.v", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "HEDDLE_STRAY_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "STRAYS NAMED ")
	require.NotContains(t, string(out), "STRAYS NAMED 0\n")
}

// A program that busy-polls while another goroutine sleeps no longer keeps
// the clock at zero: the sleep ends, and so does the program.
func TestBusyPollingLetsTimeAdvance(t *testing.T) {
	for seed := int64(0); seed < 50; seed++ {
		res := Run(Options{Seed: seed, MaxSteps: 10_000}, func() {
			done := NewChan[struct{}](0)
			Go(func() {
				Sleep(300 * time.Nanosecond)
				done.Close()
			})
			for Select(done.RecvCase(nil, nil), Default()) == 1 {
			}
		})
		require.NoError(t, res.Err(), "seed %d", seed)
	}
}

// Polls of two channels are no spin: a goroutine that tries two channels
// without waiting, then goes on under a lock, sees no time pass between its
// two reads of the clock while a 50 ms sleeper waits, in any seed. (The
// clock used to jump to the sleeper's timer at the lock, once the goroutine
// had polled twice, whatever it polled.) A loop that polls one channel
// still lets the clock move: see TestBusyPollingLetsTimeAdvance.
func TestPollsOfTwoChannelsAreNoSpin(t *testing.T) {
	for seed := int64(0); seed < 100; seed++ {
		var elapsed time.Duration
		res := Run(Options{Seed: seed, MaxSteps: 10_000}, func() {
			a, b := NewChan[int](0), NewChan[int](0)
			var mu Mutex
			work := 0
			Go(func() { Sleep(50 * time.Millisecond) })
			start := Now()
			Select(a.SendCase(1), Default())
			Select(b.SendCase(2), Default())
			for range 3 {
				mu.Lock()
				work++
				mu.Unlock()
			}
			elapsed = Since(start)
		})
		require.NoError(t, res.Err(), "seed %d", seed)
		require.Zero(t, elapsed, "seed %d: the clock moved while the goroutine worked, after polls of two channels", seed)
	}
}

// A timer can fire while another goroutine spins on it: a 1 ns AfterFunc
// sets what a loop around Yield, or Poll, waits for, and a 5 s one as well.
func TestTimerFiresWhileGoroutinesSpin(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, 5 * time.Second} {
		for seed := int64(0); seed < 50; seed++ {
			res := Run(Options{Seed: seed, MaxSteps: 10_000}, func() {
				var mu Mutex
				fired := false
				check := func() bool { mu.Lock(); defer mu.Unlock(); return fired }
				AfterFunc(d, func() { mu.Lock(); fired = true; mu.Unlock() })
				for !check() {
					Yield()
				}
				fired = false
				AfterFunc(d, func() { mu.Lock(); fired = true; mu.Unlock() })
				for !check() {
					Poll()
				}
			})
			require.NoError(t, res.Err(), "%v seed %d", d, seed)
		}
	}
}

// PCT no longer starves the goroutine a spinning one waits for: a spin on
// `select { case <-stop: default: }` gives way.
func TestPCTDoesNotStarveSpinners(t *testing.T) {
	pct, err := PCT(3, 100)
	require.NoError(t, err)
	for seed := int64(0); seed < 300; seed++ {
		res := Run(Options{Seed: seed, Strategy: pct, MaxSteps: 20_000}, func() {
			stop := NewChan[struct{}](0)
			var wg WaitGroup
			wg.Go(func() {
				for Select(stop.RecvCase(nil, nil), Default()) == 1 {
				}
			})
			wg.Go(func() {
				var mu Mutex
				work := 0
				for i := 0; i < 10; i++ {
					mu.Lock()
					work++
					mu.Unlock()
				}
				stop.Close()
			})
			wg.Wait()
		})
		require.NoError(t, res.Err(), "seed %d", seed)
	}
}

// A step limit lists every goroutine with its site and the steps it took.
func TestStepLimitListsGoroutines(t *testing.T) {
	res := Run(Options{MaxSteps: 300}, func() {
		Go(func() { NewChan[int](0).Recv() })
		for {
			Yield()
		}
	})
	require.Len(t, res.Failures, 1)
	f := res.Failures[0]
	require.Equal(t, StepLimit, f.Kind)
	require.Len(t, f.Goroutines, 2)
	assert.Greater(t, f.Goroutines[0].Steps, 250, "main spun")
	assert.LessOrEqual(t, f.Goroutines[1].Steps, 2)
	for _, g := range f.Goroutines {
		assert.Contains(t, g.BlockedAt, "fidelity_test.go:")
	}
	assert.Contains(t, f.String(), " steps")
}

// Poll counts as polling, Progress does not: a spin that reports progress
// is work, and a far timer waits for it.
func TestPollAndProgress(t *testing.T) {
	res := Run(Options{}, func() {
		Go(func() { Sleep(time.Hour) })
		for i := 0; i < 100; i++ {
			Progress()
		}
		if Since(epoch) != 0 {
			panic("the clock moved while main made progress")
		}
		Sleep(2 * time.Hour)
	})
	require.NoError(t, res.Err())
	res = Run(Options{MaxSteps: 1000}, func() {
		var wg WaitGroup
		wg.Go(func() { Sleep(time.Hour) })
		for Since(epoch) == 0 {
			Poll()
		}
		wg.Wait()
	})
	require.NoError(t, res.Err())
	// Outside a World they are plain yields.
	Poll()
	Progress()
}

// Receive-only and send-only views, and range over a Chan, in both modes.
func TestChanViewsAndRange(t *testing.T) {
	prog := func() []int {
		ch := NewChan[int](2)
		var send SendChan[int] = ch.SendOnly()
		var recv RecvChan[int] = ch.RecvOnly()
		require.Equal(t, ch.RecvOnly(), recv, "views of one channel compare equal")
		Go(func() {
			for i := 0; i < 5; i++ {
				send.Send(i)
			}
			send.Close()
		})
		var got []int
		for v := range recv.All() {
			got = append(got, v)
		}
		if send.Cap() != 2 || recv.Cap() != 2 || recv.Len() != 0 || send.Len() != 0 {
			panic("len/cap")
		}
		return got
	}
	var det []int
	res := Run(Options{Seed: 1}, func() { det = prog() })
	require.NoError(t, res.Err())
	assert.Equal(t, []int{0, 1, 2, 3, 4}, det)
	assert.Equal(t, []int{0, 1, 2, 3, 4}, prog(), "without a World")
	var zero RecvChan[int]
	res = Run(Options{}, func() {
		Select(zero.RecvCase(nil, nil), Default()) // a nil channel is never ready
		for range (*Chan[int])(nil).All() {
			panic("a nil channel yields nothing")
		}
	})
	require.Len(t, res.Failures, 1)
	assert.Equal(t, Deadlock, res.Failures[0].Kind, "range over a nil channel blocks forever")
}

// Go evaluates a closure's arguments when the goroutine runs; passing them
// through a function literal's parameters evaluates them at the call, as a
// go statement does.
func TestGoArgumentsAtTheCall(t *testing.T) {
	res := Run(Options{}, func() {
		var wg WaitGroup
		got := make([]int, 3)
		for i := 0; i < 3; i++ {
			x := i * 10
			wg.Add(1)
			Go(func(x, i int) func() { return func() { got[i] = x; wg.Done() } }(x, i))
			x = -1
			_ = x
		}
		wg.Wait()
		if fmt.Sprint(got) != "[0 10 20]" {
			panic(fmt.Sprint(got))
		}
	})
	require.NoError(t, res.Err())
}

// A second World while one runs is refused with a clear message.
func TestSecondWorldMessage(t *testing.T) {
	var inner *Result
	res := Run(Options{}, func() { inner = Run(Options{}, func() {}) })
	require.NoError(t, res.Err())
	require.Len(t, inner.Failures, 1)
	msg := inner.Failures[0].Message
	assert.Contains(t, msg, "another World is already running in this process (harness.Run at harness/fidelity_test.go:")
	assert.Contains(t, msg, "t.Parallel")
}

// Contexts: Err that reports the cancellation is ordered after it, as with a
// standard context (under -race this would report a race otherwise).
func TestContextErrAcquiresCancel(t *testing.T) {
	for seed := int64(0); seed < 50; seed++ {
		res := Run(Options{Seed: seed}, func() {
			ctx, cancel := WithCancel(context.Background())
			x := 0
			var wg WaitGroup
			wg.Go(func() { x = 1; cancel() })
			wg.Go(func() {
				for ctx.Err() == nil {
					Yield()
				}
				_ = x
			})
			wg.Wait()
		})
		require.NoError(t, res.Err())
	}
}

// TestTrimStack: a panic's stack keeps the program's frames only (not the
// runtime's panic machinery, not heddle's scheduler), and its site is the
// program's innermost frame.
func TestTrimStack(t *testing.T) {
	stack := "goroutine 7 [running]:\nruntime/debug.Stack()\n\t/go/src/runtime/debug/stack.go:26 +0x5e\n" +
		"github.com/heddle-go/heddle/harness.(*goroutine).exited(0xc0)\n\t/h/world.go:497 +0x1\n" +
		"panic({0x1, 0x2})\n\t/go/src/runtime/panic.go:783 +0x132\n" +
		"example.com/sys.(*Server).handle(...)\n\t/src/sys/server.go:42 +0x10\n" +
		"github.com/heddle-go/heddle/harness.(*WaitGroup).Go.func1()\n\t/h/harness/sync.go:309 +0x4a\n" +
		"created by github.com/heddle-go/heddle/harness.(*World).spawn in goroutine 13\n\t/h/harness/world.go:489 +0x339\n"
	got, site := trimStack(stack)
	require.Equal(t, "goroutine 7 [running]:\nexample.com/sys.(*Server).handle(...)\n\t/src/sys/server.go:42 +0x10\n", got)
	require.Equal(t, "sys/server.go:42", site)
}
