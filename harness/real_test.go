package harness

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withStragglerWait runs f with a shorter wait for stragglers.
func withStragglerWait(d time.Duration, f func()) {
	saved := stragglerWait
	stragglerWait = d
	defer func() { stragglerWait = saved }()
	f()
}

// A goroutine of a Real run that outlives it keeps its own World: it never
// acts as a goroutine of the next one (which, under -race, was reported as
// a race between the straggler's Lock and newWorld), and the next Run waits
// for it.
func TestRealStragglersKeepTheirWorld(t *testing.T) {
	var realChan bool
	res := Run(Options{Mode: Real, Drain: time.Millisecond}, func() {
		Go(func() {
			time.Sleep(20 * time.Millisecond)
			var mu Mutex
			mu.Lock()
			realChan = false
			mu.Unlock()
			ch := NewChan[int](1)
			realChan = ch.w == nil
			Sleep(time.Millisecond)
		})
	})
	require.Len(t, res.Failures, 1)
	assert.Equal(t, Leak, res.Failures[0].Kind)
	next := Run(Options{}, func() {
		for i := 0; i < 1000; i++ {
			Yield()
		}
	})
	require.NoError(t, next.Err())
	assert.True(t, realChan, "the straggler made a channel of its own Real World")
}

// Goroutines still running after main returned and the drain are a Leak,
// named with where they stand.
func TestRealLeakIsReported(t *testing.T) {
	stop := make(chan struct{})
	res := Run(Options{Mode: Real, Drain: 20 * time.Millisecond}, func() {
		Go(func() { <-stop })
		Go(func() { time.Sleep(time.Millisecond) }) // ends within the drain
	})
	require.Len(t, res.Failures, 1)
	f := res.Failures[0]
	assert.Equal(t, Leak, f.Kind)
	require.Len(t, f.Goroutines, 1)
	assert.Equal(t, "chan receive", f.Goroutines[0].State)
	assert.Contains(t, f.Goroutines[0].BlockedAt, "harness/real_test.go:")
	assert.Contains(t, f.Goroutines[0].CreatedAt, "harness/real_test.go:")
	assert.Equal(t, 3, res.Goroutines)
	close(stop)
	require.NoError(t, Run(Options{}, func() {}).Err())
}

// A panic in a goroutine of a Real run is a failure of the run, not a crash
// of the process.
func TestRealPanicIsAFailure(t *testing.T) {
	res := Run(Options{Mode: Real, Seed: 5}, func() {
		var wg WaitGroup
		wg.Go(func() {
			panic("boom") // the site
		})
		wg.Wait()
	})
	require.Len(t, res.Failures, 1)
	f := res.Failures[0]
	assert.Equal(t, Panic, f.Kind)
	assert.Contains(t, f.Message, "boom")
	assert.Regexp(t, `harness/real_test\.go:\d+$`, f.Site)
	assert.Contains(t, res.Err().Error(), "seed 5, strategy random")
	// main's own panic too.
	res = Run(Options{Mode: Real}, func() { panic("main") })
	require.Len(t, res.Failures, 1)
	assert.Equal(t, Panic, res.Failures[0].Kind)
}

// A deadlocked Real run fails after Options.Watchdog instead of hanging; its
// goroutines stay blocked, and once they are released the next run starts.
func TestRealDeadlockFails(t *testing.T) {
	ch := NewChan[int](0)
	var mu sync.Mutex
	mu.Lock()
	start := time.Now()
	res := Run(Options{Mode: Real, Watchdog: 200 * time.Millisecond}, func() {
		Go(func() {
			mu.Lock() // blocked outside heddle: a sync.Mutex
			defer mu.Unlock()
		})
		ch.Recv()
	})
	took := time.Since(start)
	require.Len(t, res.Failures, 1)
	f := res.Failures[0]
	assert.Equal(t, Deadlock, f.Kind)
	assert.Less(t, took, 5*time.Second)
	require.Len(t, f.Goroutines, 2)
	states := f.Goroutines[0].State + " / " + f.Goroutines[1].State
	assert.Contains(t, states, "chan receive")
	assert.Contains(t, states, "sync.Mutex.Lock")
	// While they are stuck, another Run waits for them and then fails.
	withStragglerWait(100*time.Millisecond, func() {
		again := Run(Options{}, func() {})
		require.Len(t, again.Failures, 1)
		assert.Equal(t, Stuck, again.Failures[0].Kind)
		assert.Contains(t, again.Failures[0].Message, "an earlier Real run (harness.Run at harness/real_test.go:")
		assert.Contains(t, again.Failures[0].Message, "real_test.go:")
	})
	mu.Unlock()
	Go(func() { ch.Send(1) }) // the Real World is still the active one
	require.Eventually(t, func() bool { return Run(Options{}, func() {}).Err() == nil }, 5*time.Second, 10*time.Millisecond)
}

// Timers and sleeps are not deadlocks: a Real run waiting for them is
// waiting for time, however long the Watchdog.
func TestRealWaitingForTimersIsNoDeadlock(t *testing.T) {
	res := Run(Options{Mode: Real, Watchdog: 40 * time.Millisecond}, func() {
		NewTimer(300 * time.Millisecond).C.Recv()
		Sleep(100 * time.Millisecond)
		tick := NewTicker(100 * time.Millisecond)
		tick.C.Recv()
		tick.Stop()
	})
	require.NoError(t, res.Err())
}

// TestRealChild is the child side of TestRealGoroutinesAfterRun: a straggler
// that panics after its Run returned crashes the process, as a goroutine of
// plain Go would.
func TestRealChild(t *testing.T) {
	if os.Getenv("HEDDLE_REAL_CHILD") == "" {
		t.Skip("run by TestRealPanicAfterRunCrashes")
	}
	over := make(chan struct{})
	Run(Options{Mode: Real, Drain: time.Millisecond}, func() {
		Go(func() {
			<-over
			panic("late")
		})
	})
	close(over)
	time.Sleep(2 * time.Second)
}

func TestRealPanicAfterRunCrashes(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HEDDLE_REAL_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.True(t, strings.Contains(string(out), "panic: late"), "%s", out)
}

// Nodes still running when a Real run ends are a Leak, and are then
// crashed, so that their goroutines (which return once the node's context is
// done) do not outlive the run and hold up the next one.
func TestRealNodesLeftRunningAreStopped(t *testing.T) {
	res := Run(Options{Mode: Real, Drain: 20 * time.Millisecond}, func() {
		n := NewNode("server", func(n *Node) {
			Select(Done(n.Context()))
		})
		require.NoError(t, n.Start())
	})
	require.Len(t, res.Failures, 1)
	assert.Equal(t, Leak, res.Failures[0].Kind)
	withStragglerWait(time.Millisecond, func() {
		require.NoError(t, Run(Options{}, func() {}).Err(), "no straggler is left")
	})
}
