package harness

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

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
						// A read and a write with a yield of the thread
						// between: two calls at once would lose updates.
						Observe(func() { c := count; runtime.Gosched(); count = c + 1 })
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
