package harness

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// observedRace is the program of TestObserveAddsNoOrder: two goroutines
// write x with nothing ordering them, and each reports an event to a
// recorder between its write and the other's. With the recorder's lock
// taken on the goroutines themselves, the lock orders the writes and the
// race goes unreported; through Observe it is reported.
func observedRace(observe bool) func() {
	return func() {
		var mu sync.Mutex
		events := 0
		record := func() {
			if observe {
				Observe(func() { mu.Lock(); events++; mu.Unlock() })
				return
			}
			mu.Lock()
			events++
			mu.Unlock()
		}
		x := 0
		var wg WaitGroup
		wg.Go(func() {
			x = 1
			record()
		})
		wg.Go(func() {
			Sleep(1) // the clock orders nothing: the other goroutine reports first
			record()
			x = 2
		})
		wg.Wait()
		_ = x
	}
}

// TestObserveChild is the child side of TestObserveAddsNoOrder.
func TestObserveChild(t *testing.T) {
	mode := os.Getenv("HEDDLE_OBSERVE_CHILD")
	if mode == "" {
		t.Skip("run by TestObserveAddsNoOrder")
	}
	for seed := int64(0); seed < 5; seed++ {
		Run(Options{Seed: seed}, observedRace(mode == "observe"))
	}
}

// TestObserveAddsNoOrder: a recorder's lock taken on the reporting
// goroutines hides a race between them; the same bookkeeping through
// Observe does not.
func TestObserveAddsNoOrder(t *testing.T) {
	if !raceEnabled || !tokenHidesEdges {
		t.Skip("needs -race on amd64 or arm64")
	}
	for _, c := range []struct {
		mode     string
		reported bool
	}{{"lock", false}, {"observe", true}} {
		t.Run(c.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestObserveChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "HEDDLE_OBSERVE_CHILD="+c.mode, "GORACE=atexit_sleep_ms=0")
			out, _ := cmd.CombinedOutput()
			require.Contains(t, string(out), "TestObserveChild")
			require.Equal(t, c.reported, strings.Contains(string(out), "WARNING: DATA RACE"), "%s", out)
		})
	}
}

// TestObserveSerialises: functions observed from goroutines running at once
// (Real mode) run one at a time, each after what its caller did before the
// call: a counter they share needs no lock of its own, and the race
// detector (under -race) sees no race on it.
func TestObserveSerialises(t *testing.T) {
	for _, mode := range []Mode{Deterministic, Real} {
		count := 0
		res := Run(Options{Mode: mode}, func() {
			var wg WaitGroup
			for range 4 {
				wg.Go(func() {
					for range 100 {
						Observe(func() { count++ })
					}
				})
			}
			wg.Wait()
		})
		require.False(t, res.Failed(), "%v", res.Err())
		require.Equal(t, 400, count)
	}
}

// TestObserveValuePanics: a panic of the observed function reaches its
// caller; the value of one that returns does too.
func TestObserveValuePanics(t *testing.T) {
	Run(Options{}, func() {
		require.Equal(t, 7, ObserveValue(func() int { return 7 }))
		require.PanicsWithValue(t, "observed", func() { Observe(func() { panic("observed") }) })
	})
}
